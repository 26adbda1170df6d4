# cosell-sync: the whole app on Azure Functions Flex Consumption, identity first.
# Same resources, names, settings and outputs as ../main.bicep (tests/infra/test_parity.py).

data "azurerm_client_config" "current" {}

locals {
  # Name prefixes live once, in ../abbreviations.json, for both templates.
  abbrs = jsondecode(file("${path.module}/../abbreviations.json"))
  # Bicep: toLower(uniqueString(subscription().id, environmentName, location)). The azapi function
  # is ARM's uniqueString, so both templates name an environment's resources identically.
  resource_token = lower(provider::azapi::unique_string([
    "/subscriptions/${lower(var.subscription_id)}",
    var.environment_name,
    var.location,
  ]))
  tags = { "azd-env-name" = var.environment_name }
  names = {
    resource_group       = "${local.abbrs.resourcesResourceGroups}${var.environment_name}"
    identity             = "${local.abbrs.managedIdentityUserAssignedIdentities}${local.resource_token}"
    log_analytics        = "${local.abbrs.operationalInsightsWorkspaces}${local.resource_token}"
    app_insights         = "${local.abbrs.insightsComponents}${local.resource_token}"
    storage              = "${local.abbrs.storageStorageAccounts}${local.resource_token}"
    deployment_container = "app-package-${substr(local.resource_token, 0, 7)}"
    key_vault            = "${local.abbrs.keyVaultVaults}${local.resource_token}"
    plan                 = "${local.abbrs.webServerFarms}${local.resource_token}"
    function_app         = "${local.abbrs.webSitesFunctions}${local.resource_token}"
    action_group         = "${local.abbrs.actionGroups}${local.resource_token}"
    alert_prefix         = "${local.abbrs.alertRules}${local.resource_token}"
  }
  webhook_callback_url = (
    var.pc_webhook_callback_url != ""
    ? var.pc_webhook_callback_url
    : "https://${local.names.function_app}.azurewebsites.net/api/partner-center/events"
  )
  # PC_TENANT_ID is the token authority; the deploying tenant unless the partner's is another.
  pc_tenant_id = var.pc_tenant_id != "" ? var.pc_tenant_id : data.azurerm_client_config.current.tenant_id
}

resource "azurerm_resource_group" "main" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags
}

# The app's one identity: storage, Key Vault references and telemetry all authenticate as it.
resource "azurerm_user_assigned_identity" "app" {
  name                = local.names.identity
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  tags                = local.tags
}
