// Holds the Partner Center and Salesforce secrets. The template writes no secret values: an
// operator sets them after deployment (README "After deploying"), so redeploys never overwrite them.
param name string
param location string
param tags object
param logAnalyticsId string
param refreshTokenSecretName string
@description('True once the refresh-token secret exists: it is then left alone.')
param refreshTokenSecretExists bool = false

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

// The refresh token the app rotates. Its role assignment (rbac.bicep) is scoped to this one secret,
// and a scope must exist, so the secret is created once with a placeholder. ARM would write a new
// version on every deployment, so it is deployed only while it does not exist yet (the azd
// preprovision hook, infra/hooks/, sets refreshTokenSecretExists).
module refreshTokenSecret 'refresh-token-secret.bicep' = if (!refreshTokenSecretExists) {
  name: 'refresh-token-secret'
  params: {
    vaultName: vault.name
    name: refreshTokenSecretName
  }
}

output name string = vault.name
// A module reading this output waits for this module, and so for the secret.
output refreshTokenSecretName string = refreshTokenSecretName
output uri string = vault.properties.vaultUri
