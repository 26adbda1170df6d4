# Data-plane roles of the app identity (and optionally of a developer). Names are
# uuidv5(scope, principal, role), the Terraform twin of Bicep's guid(scope, principal, role).
locals {
  app_roles = {
    # Host leases, timer locks and the Flex deployment container.
    storage_blob = { scope = azurerm_storage_account.main.id, role = "Storage Blob Data Owner" }
    # Queue trigger, enqueue, poison replay.
    storage_queue = { scope = azurerm_storage_account.main.id, role = "Storage Queue Data Contributor" }
    # Links, watermarks, audit.
    storage_table = { scope = azurerm_storage_account.main.id, role = "Storage Table Data Contributor" }
    # Resolves the Key Vault references in app settings.
    key_vault = { scope = azurerm_key_vault.main.id, role = "Key Vault Secrets User" }
    # Telemetry ingestion while App Insights local auth is off.
    monitoring = { scope = azurerm_application_insights.main.id, role = "Monitoring Metrics Publisher" }
  }
  user_roles = var.principal_id == "" ? {} : {
    storage_blob  = { scope = azurerm_storage_account.main.id, role = "Storage Blob Data Owner" }
    storage_queue = { scope = azurerm_storage_account.main.id, role = "Storage Queue Data Contributor" }
    storage_table = { scope = azurerm_storage_account.main.id, role = "Storage Table Data Contributor" }
    # Lets the developer put the secrets in after deployment.
    key_vault = { scope = azurerm_key_vault.main.id, role = "Key Vault Secrets Officer" }
  }
}

resource "azurerm_role_assignment" "app" {
  for_each             = local.app_roles
  name                 = uuidv5("url", "${each.value.scope}|${azurerm_user_assigned_identity.app.principal_id}|${each.value.role}")
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "user" {
  for_each             = local.user_roles
  name                 = uuidv5("url", "${each.value.scope}|${var.principal_id}|${each.value.role}")
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = var.principal_id
  principal_type       = var.principal_type
}
