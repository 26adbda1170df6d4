// cosell-sync: the whole app on Azure Functions Flex Consumption, identity first.
// `azd up` deploys this file with main.parameters.json; `az deployment sub create` works the same.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; every resource name derives from it.')
param environmentName string

@minLength(1)
@description('Azure region of every resource (Flex Consumption must be offered there).')
param location string

@description('Optional object id of a person or group that gets data access and may set Key Vault secrets.')
param principalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
@description('Kind of principalId; azd passes AZURE_PRINCIPAL_TYPE (ServicePrincipal when a pipeline runs `azd up`).')
param principalType string = 'User'

@description('Resource id of an existing action group for the alerts; empty creates one.')
param actionGroupId string = ''

@description('E-mail receiver of the action group created when actionGroupId is empty.')
param alertEmailAddress string = ''

@description('Explicit opt-out: create the alerts with an action group that notifies nobody.')
param alertsWithoutReceiver bool = false

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

// Queue concurrency, and so the peak rate of Salesforce and Partner Center calls, is about
// instances x (batchSize + newBatchThreshold) from host.json.
@minValue(1)
@maxValue(1000)
@description('Most instances Flex Consumption scales out to (1-1000); lower it to cap API pressure.')
param maximumInstanceCount int = 40

@description('Partner Center: the partner\'s Entra tenant id (PC_TENANT_ID), the token authority; empty means the deploying tenant.')
param pcTenantId string = ''

@description('Partner Center: the Entra app (client) id (PC_CLIENT_ID).')
param pcClientId string = ''

@description('Public URL of the webhook function; empty means the app\'s default host name.')
param pcWebhookCallbackUrl string = ''

@description('Salesforce login host: login.salesforce.com, test.salesforce.com or a My Domain URL.')
param sfLoginUrl string = 'https://login.salesforce.com'

@allowed(['jwt', 'client_credentials', 'password'])
param sfAuthMode string = 'jwt'

param sfClientId string = ''
param sfUsername string = ''

@allowed(['DEBUG', 'INFO', 'WARNING', 'ERROR'])
@description('LOG_LEVEL: Python log level of the app\'s loggers.')
param logLevel string = 'INFO'

@description('Values for other app settings of shared/config.py (name: string value), e.g. stage names.')
param settingOverrides object = {}

@description('True when the pc-refresh-token secret already exists (the azd preprovision hook sets it), so a redeploy does not overwrite the rotated token.')
param refreshTokenSecretExists bool = false

@minValue(1)
@maxValue(100)
@description('Alert when more than this % of syncs fail (failed or poisoned) within 15 minutes.')
param syncFailureRatePercent int = 10

@minValue(60)
@description('Alert when the Salesforce poll reports a lag above this, or does not report, for 15 minutes.')
param pollLagThresholdSeconds int = 900

// Log alert windows accept only these hour counts.
@allowed([1, 2, 3, 4, 5, 6, 24, 48])
@description('Alert when no Partner Center webhook was accepted for this many hours.')
param webhookSilenceHours int = 24

@minValue(1)
@description('Alert when one function fails at least this often within 15 minutes.')
param functionErrorThreshold int = 5

var abbrs = loadJsonContent('abbreviations.json')
// Terraform computes the same token with provider::azapi::unique_string (infra/terraform/main.tf).
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var names = {
  resourceGroup: '${abbrs.resourcesResourceGroups}${environmentName}'
  identity: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
  logAnalytics: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
  appInsights: '${abbrs.insightsComponents}${resourceToken}'
  storage: '${abbrs.storageStorageAccounts}${resourceToken}'
  deploymentContainer: 'app-package-${take(resourceToken, 7)}'
  keyVault: '${abbrs.keyVaultVaults}${resourceToken}'
  plan: '${abbrs.webServerFarms}${resourceToken}'
  functionApp: '${abbrs.webSitesFunctions}${resourceToken}'
  actionGroup: '${abbrs.actionGroups}${resourceToken}'
  alertPrefix: '${abbrs.alertRules}${resourceToken}'
}
var defaultWebhookCallbackUrl = 'https://${names.functionApp}.azurewebsites.net/api/partner-center/events'
var refreshTokenSecretName = 'pc-refresh-token'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
    deploymentContainerName: names.deploymentContainer
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: location
    tags: tags
    logAnalyticsId: monitoring.outputs.logAnalyticsId
    refreshTokenSecretName: refreshTokenSecretName
    refreshTokenSecretExists: refreshTokenSecretExists
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    refreshTokenSecretName: keyVault.outputs.refreshTokenSecretName
  }
}

module app 'modules/app.bicep' = {
  name: 'app'
  scope: rg
  dependsOn: [rbac]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${names.deploymentContainer}'
    keyVaultName: keyVault.outputs.name
    keyVaultUri: keyVault.outputs.uri
    refreshTokenSecretName: refreshTokenSecretName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    pcTenantId: empty(pcTenantId) ? tenant().tenantId : pcTenantId
    pcClientId: pcClientId
    pcWebhookCallbackUrl: empty(pcWebhookCallbackUrl) ? defaultWebhookCallbackUrl : pcWebhookCallbackUrl
    sfLoginUrl: sfLoginUrl
    sfAuthMode: sfAuthMode
    sfClientId: sfClientId
    sfUsername: sfUsername
    logLevel: logLevel
    settingOverrides: settingOverrides
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: names.alertPrefix
    actionGroupName: names.actionGroup
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    actionGroupId: actionGroupId
    alertEmailAddress: alertEmailAddress
    // An action group without receivers lets the alerts fire unseen: the module only accepts true.
    alertsHaveAReceiverOrAlertsWithoutReceiverIsSet: !empty(actionGroupId) || !empty(alertEmailAddress) || alertsWithoutReceiver
    syncFailureRatePercent: syncFailureRatePercent
    pollLagThresholdSeconds: pollLagThresholdSeconds
    webhookSilenceHours: webhookSilenceHours
    functionErrorThreshold: functionErrorThreshold
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = app.outputs.name
output AZURE_FUNCTION_URL string = app.outputs.url
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.appInsightsConnectionString
