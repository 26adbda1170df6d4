terraform {
  required_version = ">= 1.9"
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # azurerm_function_app_flex_consumption needs 4.21+; 5.0 renames Key Vault arguments.
      version = ">= 4.21, < 5.0"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
  # Shared keys are off on the storage account: the provider must use Entra ID for data-plane calls.
  storage_use_azuread = true
}
