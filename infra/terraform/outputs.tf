output "AZURE_LOCATION" {
  value = var.location
}

output "RESOURCE_GROUP" {
  value = azurerm_resource_group.main.name
}

output "AZURE_FUNCTION_NAME" {
  value = azurerm_function_app_flex_consumption.main.name
}

output "AZURE_FUNCTION_URL" {
  value = "https://${azurerm_function_app_flex_consumption.main.default_hostname}"
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
