# Log Analytics + workspace-based Application Insights with local (key) auth off: telemetry is
# accepted only from Entra identities holding Monitoring Metrics Publisher.
resource "azurerm_log_analytics_workspace" "main" {
  name                         = local.names.log_analytics
  resource_group_name          = azurerm_resource_group.main.name
  location                     = var.location
  sku                          = "PerGB2018"
  retention_in_days            = 90
  local_authentication_enabled = false
  tags                         = local.tags
}

resource "azurerm_application_insights" "main" {
  name                          = local.names.app_insights
  resource_group_name           = azurerm_resource_group.main.name
  location                      = var.location
  application_type              = "web"
  workspace_id                  = azurerm_log_analytics_workspace.main.id
  local_authentication_disabled = true
  tags                          = local.tags
}
