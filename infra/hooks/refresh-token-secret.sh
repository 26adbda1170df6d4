#!/bin/sh
# azd preprovision hook: tell main.bicep whether the pc-refresh-token secret exists already, so a
# redeploy never overwrites the refresh token the app has rotated (infra/modules/keyvault.bicep).
# The check reads the secret's ARM resource (control plane); it never reads the value.
set -eu
vault=$(azd env get-value AZURE_KEY_VAULT_NAME 2>/dev/null || true)
group=$(azd env get-value RESOURCE_GROUP 2>/dev/null || true)
exists=false
if [ -n "$vault" ] && [ -n "$group" ] && az resource show --resource-group "$group" \
  --resource-type Microsoft.KeyVault/vaults/secrets --name "$vault/pc-refresh-token" >/dev/null 2>&1; then
  exists=true
fi
azd env set PC_REFRESH_TOKEN_SECRET_EXISTS "$exists"
echo "pc-refresh-token exists: $exists"
