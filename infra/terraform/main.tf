# cosell-sync: the whole app on Azure Functions Flex Consumption, identity first.
# Same resources, names and settings as ../main.bicep.

data "azurerm_client_config" "current" {}

locals {
  resource_token            = substr(sha1("${var.subscription_id}|${var.environment_name}|${var.location}"), 0, 13)
  tags                      = { "azd-env-name" = var.environment_name }
  function_app_name         = "func-${local.resource_token}"
  deployment_container_name = "app-package-${substr(local.resource_token, 0, 7)}"
  webhook_callback_url = (
    var.pc_webhook_callback_url != ""
    ? var.pc_webhook_callback_url
    : "https://${local.function_app_name}.azurewebsites.net/api/partner-center/events"
  )
}

resource "azurerm_resource_group" "main" {
  name     = "rg-${var.environment_name}"
  location = var.location
  tags     = local.tags
}

# The app's one identity: storage, Key Vault references and telemetry all authenticate as it.
resource "azurerm_user_assigned_identity" "app" {
  name                = "id-${local.resource_token}"
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  tags                = local.tags
}
