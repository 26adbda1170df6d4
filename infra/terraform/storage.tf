# The host's storage account (leases, timers, the Flex deployment package) doubles as the app's
# store: the sync queue and its poison queue, and the link/watermark/audit tables. No keys: every
# client authenticates with Entra ID.
locals {
  queue_names = ["sync-jobs", "sync-jobs-poison"]
  # The *_TABLE settings' defaults in shared/config.py.
  table_names = ["SyncLinks", "SyncWatermarks", "SyncAudit"]
}

resource "azurerm_storage_account" "main" {
  # checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration reaches its host storage over the public endpoint; access is Entra-only (shared keys off).
  # checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: no VNet/private endpoint in this template, so the public endpoint stays on, keyless.
  # checkov:skip=CKV2_AZURE_33: same reason as CKV_AZURE_35: private endpoints need the VNet integration this template does not (yet) add.
  # checkov:skip=CKV_AZURE_33: queue logs go to Log Analytics through azurerm_monitor_diagnostic_setting.queue; classic Storage Analytics logging is the legacy path.
  # checkov:skip=CKV2_AZURE_1: platform-managed encryption at rest; a customer-managed key would make the host's own storage (and so the app's start) depend on Key Vault key availability.
  name                             = local.names.storage
  resource_group_name              = azurerm_resource_group.main.name
  location                         = var.location
  account_kind                     = "StorageV2"
  account_tier                     = "Standard"
  account_replication_type         = var.storage_replication_type
  access_tier                      = "Hot"
  shared_access_key_enabled        = false
  default_to_oauth_authentication  = true
  allow_nested_items_to_be_public  = false
  cross_tenant_replication_enabled = false
  min_tls_version                  = "TLS1_2"
  https_traffic_only_enabled       = true
  public_network_access_enabled    = true
  tags                             = local.tags

  network_rules {
    default_action = "Allow"
    bypass         = ["AzureServices"]
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }
}

resource "azurerm_storage_container" "deployment" {
  # checkov:skip=CKV2_AZURE_21: the check wants azurerm_log_analytics_storage_insights, which needs a storage account key; shared keys are off.
  name                  = local.names.deployment_container
  storage_account_id    = azurerm_storage_account.main.id
  container_access_type = "private"
}

resource "azurerm_storage_queue" "main" {
  for_each           = toset(local.queue_names)
  name               = each.value
  storage_account_id = azurerm_storage_account.main.id
}

# Tables through the management plane (ARM), as Bicep does: azurerm_storage_table goes through
# the Table data plane and sets its ACL with Shared Key even in its storage_account_id form, which
# an account with shared keys off answers with 403 (hashicorp/terraform-provider-azurerm#30815).
resource "azapi_resource" "table" {
  for_each  = toset(local.table_names)
  type      = "Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01"
  name      = each.value
  parent_id = "${azurerm_storage_account.main.id}/tableServices/default"
  body      = {}
}

# Data-plane logs of the queue and table services, for tracing who read or wrote what.
resource "azurerm_monitor_diagnostic_setting" "queue" {
  name                       = "queue-to-log-analytics"
  target_resource_id         = "${azurerm_storage_account.main.id}/queueServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category_group = "allLogs"
  }

  metric {
    category = "Transaction"
  }
}

resource "azurerm_monitor_diagnostic_setting" "table" {
  name                       = "table-to-log-analytics"
  target_resource_id         = "${azurerm_storage_account.main.id}/tableServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category_group = "allLogs"
  }
}
