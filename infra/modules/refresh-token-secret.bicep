// The pc-refresh-token secret with a placeholder value, deployed by keyvault.bicep only while the
// secret does not exist: a second deployment would write a new version over the rotated token.
param vaultName string
param name string
@description('Base of the placeholder\'s expiry.')
param now string = utcNow()

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: name
  properties: {
    value: 'set-after-deployment'
    contentType: 'text/plain'
    attributes: {
      // A Partner Center refresh token lives 90 days unless rotated; so does the placeholder.
      exp: dateTimeToEpoch(dateTimeAdd(now, 'P90D'))
    }
  }
}
