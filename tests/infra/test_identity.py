"""Storage is reached by identity in both templates: shared keys off, no keys or key-based
connection strings anywhere, host storage and the deployment package through the managed identity."""

from __future__ import annotations

import re

import pytest

from tests.infra import templates

KEY_MATERIAL = re.compile(
    r"listKeys\(|AccountKey=|primary_access_key|secondary_access_key|primary_connection_string"
    r"|storage_access_key|storage_account_access_key|DefaultEndpointsProtocol",
    re.IGNORECASE,
)


def test_no_template_reads_or_writes_a_storage_key():
    files = templates.bicep_files() + templates.terraform_files()
    offenders = [
        f"{path.name}: {m.group(0)}" for path in files for m in KEY_MATERIAL.finditer(path.read_text("utf-8"))
    ]
    assert not offenders


def test_bicep_storage_account_disallows_shared_key_access():
    [storage] = templates.bicep_resources("Microsoft.Storage/storageAccounts")
    assert storage["properties"]["allowSharedKeyAccess"] is False
    assert storage["properties"]["allowBlobPublicAccess"] is False


def test_terraform_storage_account_disallows_shared_key_access_and_the_provider_uses_entra_id():
    [storage] = templates.terraform_resources("azurerm_storage_account").values()
    assert templates.terraform_attribute(storage, "shared_access_key_enabled") is False
    [provider] = [p["azurerm"] for p in templates.terraform_blocks("provider") if "azurerm" in p]
    assert templates.terraform_attribute(provider, "storage_use_azuread") is True


@pytest.mark.parametrize("read", [templates.bicep_app_settings, templates.terraform_app_settings])
def test_host_storage_uses_the_user_assigned_identity(read):
    settings = read()
    # Empty overrides the app's emulator default; the host then uses the __ settings.
    assert settings["AzureWebJobsStorage"] == ""
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__accountName"]
    assert settings["AzureWebJobsStorage__clientId"]


def test_bicep_deployment_package_is_read_with_the_identity():
    [app] = templates.bicep_resources("Microsoft.Web/sites")
    storage = app["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert (
        app["properties"]["keyVaultReferenceIdentity"]
        == storage["authentication"]["userAssignedIdentityResourceId"]
    )


def test_terraform_deployment_package_is_read_with_the_identity():
    [app] = templates.terraform_resources("azurerm_function_app_flex_consumption").values()
    assert templates.terraform_attribute(app, "storage_authentication_type") == "UserAssignedIdentity"
    identity = templates.terraform_attribute(app, "storage_user_assigned_identity_id")
    assert templates.terraform_attribute(app, "key_vault_reference_identity_id") == identity


def test_app_insights_accepts_only_entra_authenticated_telemetry_in_both():
    [component] = templates.bicep_resources("Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True
    [insights] = templates.terraform_resources("azurerm_application_insights").values()
    assert templates.terraform_attribute(insights, "local_authentication_disabled") is True
