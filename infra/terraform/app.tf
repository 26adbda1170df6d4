# The function app on Flex Consumption (Linux, Python 3.11), as the same ARM resources Bicep
# declares. Runtime and scale live in functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
# FUNCTIONS_EXTENSION_VERSION are not app settings.
#
# Why azapi and not azurerm_function_app_flex_consumption: that resource writes a key-based
# AzureWebJobsStorage connection string with an empty key on every create and update, whatever the
# storage authentication type (hashicorp/terraform-provider-azurerm#29149, #29693), which overrides the
# identity settings below and breaks the host; overriding it with "" breaks hosts too
# (Azure/azure-functions-host#11796). Its pinned versions also lack key_vault_reference_identity_id
# (open PR hashicorp/terraform-provider-azurerm#31439).
locals {
  key_vault_name            = azurerm_key_vault.main.name
  refresh_token_secret_name = "pc-refresh-token"

  # Every setting shared/config.py reads (tests/infra checks this list against Settings, the Bicep
  # template and local.settings.sample.json), plus platform settings the host reads. No plain
  # AzureWebJobsStorage: with __accountName set, host and app both use the managed identity.
  app_settings = {
    "AzureWebJobsStorage__accountName"          = azurerm_storage_account.main.name
    "AzureWebJobsStorage__credential"           = "managedidentity"
    "AzureWebJobsStorage__clientId"             = azurerm_user_assigned_identity.app.client_id
    "APPLICATIONINSIGHTS_CONNECTION_STRING"     = azurerm_application_insights.main.connection_string
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" = "ClientId=${azurerm_user_assigned_identity.app.client_id};Authorization=AAD"
    "LINKS_TABLE"                               = "SyncLinks"
    "WATERMARKS_TABLE"                          = "SyncWatermarks"
    "AUDIT_TABLE"                               = "SyncAudit"
    "PC_API_BASE_URL"                           = "https://api.partner.microsoft.com/v1.0/engagements"
    "PC_WEBHOOK_API_BASE_URL"                   = "https://api.partnercenter.microsoft.com/webhooks/v1"
    "PC_TOKEN_URL"                              = "https://login.microsoftonline.com/{tenant}/oauth2/token"
    "PC_TENANT_ID"                              = local.pc_tenant_id
    "PC_CLIENT_ID"                              = var.pc_client_id
    "PC_CLIENT_SECRET"                          = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=pc-client-secret)"
    "PC_REFRESH_TOKEN"                          = "@Microsoft.KeyVault(VaultName=${local.key_vault_name};SecretName=pc-refresh-token)"
    "PC_REFRESH_TOKEN_VAULT_URL"                = azurerm_key_vault.main.vault_uri
    "PC_REFRESH_TOKEN_SECRET_NAME"              = local.refresh_token_secret_name
    "PC_REFERRALS_RESOURCE"                     = "https://api.partner.microsoft.com"
    "PC_WEBHOOK_RESOURCE"                       = "https://api.partnercenter.microsoft.com"
    "PC_WEBHOOK_CALLBACK_URL"                   = local.webhook_callback_url
    "PC_WEBHOOK_OWN_URLS"                       = ""
    "PC_WEBHOOK_CERT_HOSTS"                     = "3psostorageacct.blob.core.windows.net"
    "PC_WEBHOOK_MAX_BODY_BYTES"                 = "65536"
    "PC_PORTAL_REFERRAL_URL"                    = "https://partner.microsoft.com/dashboard/referrals/v2/leads/{id}/details"
    "PC_TIMEOUT_SECONDS"                        = "30.0"
    "PC_MAX_RETRIES"                            = "4"
    "PC_MAX_REQUESTS_PER_SECOND"                = "20"
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
    "SF_DAILY_BUDGET_PERCENT"                   = "50"
    "SF_POLL_SCHEDULE"                          = "0 * * * * *"
    "SF_POLL_OVERLAP_SECONDS"                   = "120"
    "SF_POLL_LOOKBACK_HOURS"                    = "24"
    "SF_INTEGRATION_USER_DEDICATED"             = "Yes"
    "RECONCILE_SCHEDULE"                        = "0 */30 * * * *"
    "WEBHOOK_CHECK_SCHEDULE"                    = "0 0 6 * * *"
    "CHECK_MARK_IN_NAME"                        = "Yes"
    "ACTIVE_STAGE_NAME"                         = "Qualification"
    "ON_HOLD_STAGE_NAME"                        = "Prospecting"
    "WON_STAGE_NAME"                            = "Closed Won"
    "LOST_STAGE_NAME"                           = "Closed Lost"
    "ACCOUNT_COUNTRY_FIELD"                     = "auto"
    "DEAL_VALUE_FIELD"                          = "Amount"
    "DEAL_CURRENCY_FIELD"                       = "auto"
    "SF_OPPORTUNITY_RECORD_TYPE"                = ""
    "SF_ON_DUPLICATE"                           = "link"
    "PARTNER_TEAM_ROLE"                         = "Sales Rep"
    "DEFAULT_CURRENCY"                          = "USD"
    "SYNC_COSELL_ONLY"                          = "Yes"
    "ON_OPPORTUNITY_DELETED"                    = "unlink"
    "NOTES_TO_DESCRIPTION"                      = "No"
    "CUSTOM_MAPPINGS"                           = ""
    "CREATE_DEFAULTS"                           = ""
    "CONFLICT_OWNER_OVERRIDES"                  = ""
    "AUDIT_FIELD_MAX_CHARS"                     = "32000"
    "LOG_LEVEL"                                 = var.log_level
    "RETRY_DELAY_MAX_SECONDS"                   = "300"
  }
}

resource "azurerm_service_plan" "main" {
  # checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is offered in few regions; a zone outage only delays syncs (jobs stay queued, the poll resumes from its watermark).
  # checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design; queued jobs and the watermark-based poll tolerate a cold start.
  name                = local.names.plan
  resource_group_name = azurerm_resource_group.main.name
  location            = var.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

resource "azapi_resource" "app" {
  type      = "Microsoft.Web/sites@2024-04-01"
  name      = local.names.function_app
  parent_id = azurerm_resource_group.main.id
  location  = var.location
  tags      = merge(local.tags, { "azd-service-name" = "api" })

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  body = {
    kind = "functionapp,linux"
    properties = {
      serverFarmId              = azurerm_service_plan.main.id
      httpsOnly                 = true
      keyVaultReferenceIdentity = azurerm_user_assigned_identity.app.id
      siteConfig = {
        minTlsVersion = "1.2"
        ftpsState     = "Disabled"
        http20Enabled = true
        appSettings = [
          for name, value in merge(local.app_settings, var.setting_overrides) : { name = name, value = value }
        ]
      }
      functionAppConfig = {
        deployment = {
          storage = {
            type  = "blobContainer"
            value = "${azurerm_storage_account.main.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
            authentication = {
              type                           = "UserAssignedIdentity"
              userAssignedIdentityResourceId = azurerm_user_assigned_identity.app.id
            }
          }
        }
        scaleAndConcurrency = {
          instanceMemoryMB     = var.instance_memory_mb
          maximumInstanceCount = var.maximum_instance_count
        }
        runtime = {
          name    = "python"
          version = "3.11"
        }
      }
    }
  }

  response_export_values = ["properties.defaultHostName"]

  depends_on = [azurerm_role_assignment.app]
}

# Basic-auth publishing off for FTP and SCM, as in Bicep. These policies always exist on a site
# and cannot be deleted, so they are updated in place rather than created.
resource "azapi_update_resource" "basic_publishing" {
  for_each  = toset(["ftp", "scm"])
  type      = "Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01"
  name      = each.value
  parent_id = azapi_resource.app.id
  body = {
    properties = {
      allow = false
    }
  }
}
