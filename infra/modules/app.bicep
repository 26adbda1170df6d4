// The function app on Flex Consumption (Linux, Python 3.11). Runtime and scale live in
// functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are not app settings.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param keyVaultName string
param keyVaultUri string
param refreshTokenSecretName string
param appInsightsConnectionString string
param instanceMemoryMB int
param maximumInstanceCount int
param pcTenantId string
param pcClientId string
param pcWebhookCallbackUrl string
param sfLoginUrl string
param sfAuthMode string
param sfClientId string
param sfUsername string
param logLevel string
@description('Values for other settings of shared/config.py, applied over the defaults below.')
param settingOverrides object = {}

// Every setting shared/config.py reads (tests/infra checks this list against Settings, the
// Terraform template and local.settings.sample.json), plus platform settings the host reads.
// No plain AzureWebJobsStorage: with __accountName set, host and app both use the managed identity
// (an empty value breaks hosts: Azure/azure-functions-host#11796).
var appSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  LINKS_TABLE: 'SyncLinks'
  WATERMARKS_TABLE: 'SyncWatermarks'
  AUDIT_TABLE: 'SyncAudit'
  PC_API_BASE_URL: 'https://api.partner.microsoft.com/v1.0/engagements'
  PC_WEBHOOK_API_BASE_URL: 'https://api.partnercenter.microsoft.com/webhooks/v1'
  PC_TOKEN_URL: 'https://login.microsoftonline.com/{tenant}/oauth2/token'
  PC_TENANT_ID: pcTenantId
  PC_CLIENT_ID: pcClientId
  PC_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=pc-client-secret)'
  PC_REFRESH_TOKEN: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=pc-refresh-token)'
  PC_REFRESH_TOKEN_VAULT_URL: keyVaultUri
  PC_REFRESH_TOKEN_SECRET_NAME: refreshTokenSecretName
  PC_REFERRALS_RESOURCE: 'https://api.partner.microsoft.com'
  PC_WEBHOOK_RESOURCE: 'https://api.partnercenter.microsoft.com'
  PC_WEBHOOK_CALLBACK_URL: pcWebhookCallbackUrl
  PC_WEBHOOK_OWN_URLS: ''
  PC_WEBHOOK_CERT_HOSTS: '3psostorageacct.blob.core.windows.net'
  PC_WEBHOOK_MAX_BODY_BYTES: '65536'
  PC_PORTAL_REFERRAL_URL: 'https://partner.microsoft.com/dashboard/referrals/v2/leads/{id}/details'
  PC_TIMEOUT_SECONDS: '30.0'
  PC_MAX_RETRIES: '4'
  PC_MAX_REQUESTS_PER_SECOND: '20'
  SF_LOGIN_URL: sfLoginUrl
  SF_API_VERSION: '59.0'
  SF_AUTH_MODE: sfAuthMode
  SF_CLIENT_ID: sfClientId
  SF_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sf-client-secret)'
  SF_USERNAME: sfUsername
  SF_PASSWORD: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sf-password)'
  SF_SECURITY_TOKEN: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sf-security-token)'
  SF_PRIVATE_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sf-private-key)'
  SF_TIMEOUT_SECONDS: '30.0'
  SF_MAX_RETRIES: '4'
  SF_LIMIT_SLOWDOWN_PCT: '80'
  SF_DAILY_BUDGET_PERCENT: '50'
  SF_POLL_SCHEDULE: '0 * * * * *'
  SF_POLL_OVERLAP_SECONDS: '120'
  SF_POLL_LOOKBACK_HOURS: '24'
  SF_INTEGRATION_USER_DEDICATED: 'Yes'
  RECONCILE_SCHEDULE: '0 */30 * * * *'
  WEBHOOK_CHECK_SCHEDULE: '0 0 6 * * *'
  CHECK_MARK_IN_NAME: 'Yes'
  ACTIVE_STAGE_NAME: 'Qualification'
  ON_HOLD_STAGE_NAME: 'Prospecting'
  WON_STAGE_NAME: 'Closed Won'
  LOST_STAGE_NAME: 'Closed Lost'
  ACCOUNT_COUNTRY_FIELD: 'auto'
  DEAL_VALUE_FIELD: 'Amount'
  DEAL_CURRENCY_FIELD: 'auto'
  SF_OPPORTUNITY_RECORD_TYPE: ''
  SF_ON_DUPLICATE: 'link'
  PARTNER_TEAM_ROLE: 'Sales Rep'
  DEFAULT_CURRENCY: 'USD'
  SYNC_COSELL_ONLY: 'Yes'
  ON_OPPORTUNITY_DELETED: 'unlink'
  NOTES_TO_DESCRIPTION: 'No'
  CUSTOM_MAPPINGS: ''
  CREATE_DEFAULTS: ''
  CONFLICT_OWNER_OVERRIDES: ''
  AUDIT_FIELD_MAX_CHARS: '32000'
  LOG_LEVEL: logLevel
  RETRY_DELAY_MAX_SECONDS: '300'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is offered in few regions; a zone outage only delays syncs (jobs stay queued, the poll resumes from its watermark).
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Partner Center delivers webhooks from the internet; each call is verified by its signature, not by network origin.
  // checkov:skip=CKV_AZURE_17: Partner Center webhooks present no client certificate; the request signature is verified instead.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design; queued jobs and the watermark-based poll tolerate a cold start.
  // checkov:skip=CKV_AZURE_213: a health-check ping would keep an instance warm on a scale-to-zero plan; the alerts watch sync progress instead.
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov reads every sites/config resource as the 'web' config; this one is 'appsettings', which
  // has none of the properties these checks inspect.
  // checkov:skip=CKV_AZURE_13: false positive on the 'appsettings' config (see above); the webhook is anonymous by design and verifies signatures.
  // checkov:skip=CKV_AZURE_63: false positive on the 'appsettings' config (see above); the host logs requests to Application Insights.
  // checkov:skip=CKV_AZURE_65: false positive on the 'appsettings' config (see above).
  // checkov:skip=CKV_AZURE_66: false positive on the 'appsettings' config (see above).
  // checkov:skip=CKV_AZURE_80: false positive on the 'appsettings' config (see above); the app is Python, not .NET.
  // checkov:skip=CKV_AZURE_88: false positive on the 'appsettings' config (see above); Flex Consumption has no Azure Files mount.
  // checkov:skip=CKV_AZURE_222: false positive on the 'appsettings' config (see above); public access is decided on the site.
  parent: app
  name: 'appsettings'
  properties: union(appSettings, settingOverrides)
}

resource basicPublishingFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource basicPublishingScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
