// Holds the Partner Center and Salesforce secrets. The template creates no secret values: an
// operator sets them after deployment (README "Deploy"), so redeploys never overwrite them.
param name string
param location string
param tags object
param logAnalyticsId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service is not a Key Vault trusted service; without VNet integration a firewall would block the app's Key Vault references. Access is RBAC-only.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: the references resolve over the public endpoint until the app is VNet-integrated.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'vault-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
