# azd preprovision hook (Windows): see refresh-token-secret.sh.
$ErrorActionPreference = 'Stop'
$vault = azd env get-value AZURE_KEY_VAULT_NAME 2>$null
$group = azd env get-value RESOURCE_GROUP 2>$null
$exists = 'false'
if ($LASTEXITCODE -eq 0 -and $vault -and $group) {
  az resource show --resource-group $group --resource-type Microsoft.KeyVault/vaults/secrets `
    --name "$vault/pc-refresh-token" *> $null
  if ($LASTEXITCODE -eq 0) { $exists = 'true' }
}
azd env set PC_REFRESH_TOKEN_SECRET_EXISTS $exists
Write-Output "pc-refresh-token exists: $exists"
