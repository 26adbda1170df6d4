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
    # No plain AzureWebJobsStorage, not even empty (an empty value breaks hosts): with __accountName
    # set, the host and shared/config.py both use the identity instead of the emulator default.
    assert "AzureWebJobsStorage" not in settings
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
    properties = templates.terraform_attribute(templates.terraform_app(), "body")["properties"]
    authentication = properties["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert authentication["type"] == "UserAssignedIdentity"
    identity = authentication["userAssignedIdentityResourceId"]
    assert identity == "${azurerm_user_assigned_identity.app.id}"
    assert properties["keyVaultReferenceIdentity"] == identity
    [app] = templates.terraform_resources("azapi_resource")["app"]["identity"]
    assert app["identity_ids"] == [identity]


# azurerm resources that reach Storage through its data plane. With shared keys off these fail:
# the provider sets table ACLs with Shared Key even in azurerm_storage_table's storage_account_id
# form (hashicorp/terraform-provider-azurerm#30815, #32249), and blobs/files/entities are data plane.
DATA_PLANE_STORAGE_RESOURCES = {
    "azurerm_storage_table",
    "azurerm_storage_table_entity",
    "azurerm_storage_blob",
    "azurerm_storage_share",
    "azurerm_storage_share_file",
    "azurerm_storage_share_directory",
    "azurerm_storage_data_lake_gen2_filesystem",
    "azurerm_storage_data_lake_gen2_path",
}
# The function app resource writes AzureWebJobsStorage with an empty AccountKey whatever its
# storage authentication (hashicorp/terraform-provider-azurerm#29149, #29693).
KEY_WRITING_FUNCTION_APP_RESOURCES = {"azurerm_function_app_flex_consumption", "azurerm_linux_function_app"}


def test_terraform_reaches_storage_only_through_the_management_plane():
    declared = {kind for block in templates.terraform_blocks("resource") for kind in block}
    assert not declared & DATA_PLANE_STORAGE_RESOURCES
    assert not declared & KEY_WRITING_FUNCTION_APP_RESOURCES
    # Queues and the container have a management-plane form: the account id, not its name.
    for kind in ("azurerm_storage_queue", "azurerm_storage_container"):
        for body in templates.terraform_resources(kind).values():
            assert "storage_account_id" in body and "storage_account_name" not in body, kind
    [provider] = [p["azurerm"] for p in templates.terraform_blocks("provider") if "azurerm" in p]
    storage_features = templates.terraform_attribute(
        templates.terraform_attribute(provider, "features"), "storage"
    )
    assert templates.terraform_attribute(storage_features, "data_plane_available") is False


def test_terraform_creates_the_tables_through_arm():
    tables = templates.terraform_resources("azapi_resource")["table"]
    assert templates.terraform_attribute(tables, "type").startswith(
        "Microsoft.Storage/storageAccounts/tableServices/tables@"
    )
    assert templates.terraform_attribute(tables, "for_each") == "${toset(local.table_names)}"
    assert templates.terraform_attribute(tables, "parent_id").endswith("/tableServices/default")


def test_app_insights_accepts_only_entra_authenticated_telemetry_in_both():
    [component] = templates.bicep_resources("Microsoft.Insights/components")
    assert component["properties"]["DisableLocalAuth"] is True
    [insights] = templates.terraform_resources("azurerm_application_insights").values()
    assert templates.terraform_attribute(insights, "local_authentication_disabled") is True
