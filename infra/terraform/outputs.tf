# The outputs of ../main.bicep, same names (azd reads these into its environment).
output "AZURE_LOCATION" {
  value = var.location
}

output "AZURE_TENANT_ID" {
  value = data.azurerm_client_config.current.tenant_id
}

output "RESOURCE_GROUP" {
  value = azurerm_resource_group.main.name
}

output "AZURE_FUNCTION_NAME" {
  value = azapi_resource.app.name
}

output "AZURE_FUNCTION_URL" {
  value = "https://${azapi_resource.app.output.properties.defaultHostName}"
}

output "AZURE_STORAGE_ACCOUNT_NAME" {
  value = azurerm_storage_account.main.name
}

output "AZURE_KEY_VAULT_NAME" {
  value = azurerm_key_vault.main.name
}

output "AZURE_MANAGED_IDENTITY_CLIENT_ID" {
  value = azurerm_user_assigned_identity.app.client_id
}

output "APPLICATIONINSIGHTS_CONNECTION_STRING" {
  value = azurerm_application_insights.main.connection_string
  # The provider marks it sensitive; `terraform output -raw APPLICATIONINSIGHTS_CONNECTION_STRING` shows it.
  sensitive = true
}
