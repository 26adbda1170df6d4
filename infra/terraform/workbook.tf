# A shared workbook over the app's custom metrics: syncs per direction, latency, failures, queues.
# Named like Bicep's guid(resourceGroup().id, 'cosell-sync-workbook') (see rbac.tf).
resource "azurerm_application_insights_workbook" "main" {
  name                = uuidv5(local.arm_guid_namespace, "${azurerm_resource_group.main.id}-cosell-sync-workbook")
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  display_name        = "cosell-sync operations"
  category            = "workbook"
  source_id           = lower(azurerm_application_insights.main.id)
  data_json           = file("${path.module}/../monitoring/workbook.json")
  tags                = local.tags
}
