# Holds the Partner Center and Salesforce secrets. The template writes no secret values: an
# operator sets them after deployment (README "After deploying"), so applies never overwrite them.
resource "azurerm_key_vault" "main" {
  # checkov:skip=CKV_AZURE_109: App Service is not a Key Vault trusted service; without VNet integration a firewall would block the app's Key Vault references. Access is RBAC-only.
  # checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: the references resolve over the public endpoint until the app is VNet-integrated.
  # checkov:skip=CKV2_AZURE_32: same reason as CKV_AZURE_109: private endpoints need the VNet integration this template does not (yet) add.
  name                          = local.names.key_vault
  resource_group_name           = azurerm_resource_group.main.name
  location                      = var.location
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  soft_delete_retention_days    = 90
  purge_protection_enabled      = true
  public_network_access_enabled = true
  tags                          = local.tags

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }
}

resource "azurerm_monitor_diagnostic_setting" "vault" {
  name                       = "vault-to-log-analytics"
  target_resource_id         = azurerm_key_vault.main.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category_group = "audit"
  }
}

resource "time_offset" "refresh_token_placeholder_expiry" {
  offset_days = 90
}

# The refresh token the app rotates. Its role assignment (rbac.tf) is scoped to this one secret,
# and a scope must exist, so the secret is created once with a placeholder; ignore_changes keeps
# every later apply from overwriting the value the operator set and the app keeps rotating.
resource "azapi_resource" "refresh_token_secret" {
  type      = "Microsoft.KeyVault/vaults/secrets@2023-07-01"
  name      = local.refresh_token_secret_name
  parent_id = azurerm_key_vault.main.id
  body = {
    properties = {
      value       = "set-after-deployment"
      contentType = "text/plain"
      attributes = {
        # A Partner Center refresh token lives 90 days unless rotated; so does the placeholder.
        exp = time_offset.refresh_token_placeholder_expiry.unix
      }
    }
  }

  lifecycle {
    ignore_changes = [body]
  }
}
