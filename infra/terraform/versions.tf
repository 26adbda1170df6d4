terraform {
  # 1.9: variable validations may refer to other variables (alert receiver check in variables.tf).
  required_version = ">= 1.9"
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # The minor whose source this template was reviewed against (infra/README.md, "What only a
      # subscription can prove"); widen it only after `terraform validate` and `plan` pass on the new one.
      version = "~> 4.81.0"
    }
    azapi = {
      source = "Azure/azapi"
      # 2.4 added provider::azapi::unique_string (Bicep's uniqueString), used for resource_token.
      version = "~> 2.12.0"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13.0"
    }
  }
}

provider "azurerm" {
  features {
    storage {
      # Shared keys are off: the storage account resource must not call data-plane APIs (it only
      # needs them for queue_properties/static_website, which this template does not use).
      data_plane_available = false
    }
  }
  subscription_id = var.subscription_id
  # Shared keys are off on the storage account: any data-plane call must use Entra ID.
  storage_use_azuread = true
}

provider "azapi" {
  subscription_id = var.subscription_id
}
