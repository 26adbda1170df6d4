# Data-plane roles of the app identity (and optionally of a developer). Each role id sits in a
# named local whose comment says why, as in ../modules/rbac.bicep. Assignment names are Bicep's
# guid(scope, principal, role): a v5 UUID in ARM's namespace over the arguments joined by "-",
# so both templates give an assignment the same name and a redeploy finds it.
locals {
  arm_guid_namespace = "11fb06fb-712d-4ddd-98c7-e71bbd588830"

  # Storage Blob Data Owner: host leases, timer locks and the Flex deployment container.
  storage_blob_data_owner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
  # Storage Queue Data Contributor: queue trigger, enqueue, poison replay.
  storage_queue_data_contributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
  # Storage Table Data Contributor: links, watermarks, audit.
  storage_table_data_contributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
  # Key Vault Secrets User: resolves the Key Vault references in app settings.
  key_vault_secrets_user = "4633458b-17de-408a-b874-0445c86b69e6"
  # Key Vault Secrets Officer: the app writes the rotated refresh token (that one secret only);
  # a developer puts the secrets in after deployment (whole vault).
  key_vault_secrets_officer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
  # Monitoring Metrics Publisher: telemetry ingestion while App Insights local auth is off.
  monitoring_metrics_publisher = "3913510d-42f4-4e42-8a64-420c390055eb"

  refresh_token_secret_id = "${azurerm_key_vault.main.id}/secrets/${local.refresh_token_secret_name}"

  app_roles = {
    storage_blob  = { scope = azurerm_storage_account.main.id, role = local.storage_blob_data_owner }
    storage_queue = { scope = azurerm_storage_account.main.id, role = local.storage_queue_data_contributor }
    storage_table = { scope = azurerm_storage_account.main.id, role = local.storage_table_data_contributor }
    key_vault     = { scope = azurerm_key_vault.main.id, role = local.key_vault_secrets_user }
    refresh_token = { scope = local.refresh_token_secret_id, role = local.key_vault_secrets_officer }
    monitoring    = { scope = azurerm_application_insights.main.id, role = local.monitoring_metrics_publisher }
  }
  user_roles = var.principal_id == "" ? {} : {
    storage_blob  = { scope = azurerm_storage_account.main.id, role = local.storage_blob_data_owner }
    storage_queue = { scope = azurerm_storage_account.main.id, role = local.storage_queue_data_contributor }
    storage_table = { scope = azurerm_storage_account.main.id, role = local.storage_table_data_contributor }
    key_vault     = { scope = azurerm_key_vault.main.id, role = local.key_vault_secrets_officer }
  }
}

resource "azurerm_role_assignment" "app" {
  for_each           = local.app_roles
  name               = uuidv5(local.arm_guid_namespace, "${each.value.scope}-${azurerm_user_assigned_identity.app.principal_id}-${each.value.role}")
  scope              = each.value.scope
  role_definition_id = "/subscriptions/${var.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${each.value.role}"
  principal_id       = azurerm_user_assigned_identity.app.principal_id
  principal_type     = "ServicePrincipal"

  # The secret-scoped assignment needs its scope to exist.
  depends_on = [azapi_resource.refresh_token_secret]
}

resource "azurerm_role_assignment" "user" {
  for_each           = local.user_roles
  name               = uuidv5(local.arm_guid_namespace, "${each.value.scope}-${var.principal_id}-${each.value.role}")
  scope              = each.value.scope
  role_definition_id = "/subscriptions/${var.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/${each.value.role}"
  principal_id       = var.principal_id
  principal_type     = var.principal_type
}
