# The function app on Flex Consumption (Linux, Python 3.11). Runtime and scale are resource
# arguments, so FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are not app settings.
locals {
  key_vault_name = azurerm_key_vault.main.name

  # Every setting shared/config.py reads (tests/infra checks this list against Settings, the Bicep
  # template and local.settings.sample.json), plus platform settings the host reads.
  # APPLICATIONINSIGHTS_CONNECTION_STRING is set through site_config, as the provider requires.
  app_settings = {
    # Empty on purpose: the app's default is the local emulator, and an empty value makes both the
    # host and shared/store use the managed identity with the __accountName/__clientId settings.
    # It also stops the provider from writing a key-based value (hashicorp/terraform-provider-azurerm#29099).
    "AzureWebJobsStorage"                       = ""
    "AzureWebJobsStorage__accountName"          = azurerm_storage_account.main.name
    "AzureWebJobsStorage__credential"           = "managedidentity"
    "AzureWebJobsStorage__clientId"             = azurerm_user_assigned_identity.app.client_id
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" = "ClientId=${azurerm_user_assigned_identity.app.client_id};Authorization=AAD"
    "LINKS_TABLE"                               = "SyncLinks"
    "WATERMARKS_TABLE"                          = "SyncWatermarks"
    "AUDIT_TABLE"                               = "SyncAudit"
    "PC_API_BASE_URL"                           = "https://api.partner.microsoft.com/v1.0/engagements"
    "PC_WEBHOOK_API_BASE_URL"                   = "https://api.partnercenter.microsoft.com/webhooks/v1"
    "PC_TOKEN_URL"                              = "https://login.microsoftonline.com/common/oauth2/token"
    "PC_TENANT_ID"                              = var.pc_tenant_id
    "PC_CLIENT_ID"                              = var.pc_client_id
    "PC_CLIENT_SECRET"                          = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=pc-client-secret)"
    "PC_REFRESH_TOKEN"                          = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=pc-refresh-token)"
    "PC_REFERRALS_RESOURCE"                     = "https://api.partner.microsoft.com"
    "PC_WEBHOOK_RESOURCE"                       = "https://api.partnercenter.microsoft.com"
    "PC_WEBHOOK_CALLBACK_URL"                   = local.webhook_callback_url
    "PC_WEBHOOK_CERT_HOSTS"                     = "3psostorageacct.blob.core.windows.net"
    "PC_WEBHOOK_MAX_BODY_BYTES"                 = "65536"
    "PC_PORTAL_REFERRAL_URL"                    = "https://partner.microsoft.com/dashboard/referrals/v2/leads/{id}/details"
    "PC_TIMEOUT_SECONDS"                        = "30.0"
    "PC_MAX_RETRIES"                            = "4"
    "SF_LOGIN_URL"                              = var.sf_login_url
    "SF_API_VERSION"                            = "59.0"
    "SF_AUTH_MODE"                              = var.sf_auth_mode
    "SF_CLIENT_ID"                              = var.sf_client_id
    "SF_CLIENT_SECRET"                          = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=sf-client-secret)"
    "SF_USERNAME"                               = var.sf_username
    "SF_PASSWORD"                               = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=sf-password)"
    "SF_SECURITY_TOKEN"                         = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=sf-security-token)"
    "SF_PRIVATE_KEY"                            = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=sf-private-key)"
    "SF_TIMEOUT_SECONDS"                        = "30.0"
    "SF_MAX_RETRIES"                            = "4"
    "SF_LIMIT_SLOWDOWN_PCT"                     = "80"
    "SF_POLL_SCHEDULE"                          = "0 * * * * *"
    "SF_POLL_OVERLAP_SECONDS"                   = "120"
    "SF_POLL_LOOKBACK_HOURS"                    = "24"
    "RECONCILE_SCHEDULE"                        = "0 */30 * * * *"
    "WEBHOOK_CHECK_SCHEDULE"                    = "0 0 6 * * *"
    "CHECK_MARK_IN_NAME"                        = "Yes"
    "ACTIVE_STAGE_NAME"                         = "Qualification"
    "ON_HOLD_STAGE_NAME"                        = "Prospecting"
    "WON_STAGE_NAME"                            = "Closed Won"
    "LOST_STAGE_NAME"                           = "Closed Lost"
    "ACCOUNT_COUNTRY_FIELD"                     = "Account.BillingCountry"
    "DEAL_VALUE_FIELD"                          = "Amount"
    "DEAL_CURRENCY_FIELD"                       = "CurrencyIsoCode"
    "DEFAULT_CURRENCY"                          = "USD"
    "SYNC_COSELL_ONLY"                          = "Yes"
    "CONFLICT_OWNER_OVERRIDES"                  = ""
    "AUDIT_FIELD_MAX_CHARS"                     = "32000"
    "LOG_LEVEL"                                 = "INFO"
    "RETRY_DELAY_MAX_SECONDS"                   = "300"
  }
}

resource "azurerm_service_plan" "main" {
  # checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is offered in few regions; a zone outage only delays syncs (jobs stay queued, the poll resumes from its watermark).
  # checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design; queued jobs and the watermark-based poll tolerate a cold start.
  name                = "plan-${local.resource_token}"
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azurerm_function_app_flex_consumption" "main" {
  name                = local.function_app_name
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  service_plan_id     = azurerm_service_plan.main.id
  tags                = merge(local.tags, { "azd-service-name" = "api" })

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false
  key_vault_reference_identity_id                = azurerm_user_assigned_identity.app.id

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.main.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.app.id

  runtime_name           = "python"
  runtime_version        = "3.11"
  instance_memory_in_mb  = var.instance_memory_mb
  maximum_instance_count = var.maximum_instance_count

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  site_config {
    minimum_tls_version                    = "1.2"
    http2_enabled                          = true
    application_insights_connection_string = azurerm_application_insights.main.connection_string
  }

  app_settings = merge(local.app_settings, var.setting_overrides)

  depends_on = [azurerm_role_assignment.app]
}
