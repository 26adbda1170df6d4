"""Bicep and Terraform say the same thing: the same resource names from the same inputs, the same
outputs, the same security properties, the refresh-token role, the operator knobs; and the .tf
files are aligned the way `terraform fmt` aligns them (the binary cannot be installed here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra import templates

MAIN = templates.INFRA / "main.bicep"
# toLower(uniqueString(subscription().id, environmentName, location)), as pycep renders it.
BICEP_TOKEN = {
    "function": {
        "type": "to_lower",
        "parameters": {
            "string_to_change": {
                "function": {
                    "type": "unique_string",
                    "parameters": {
                        "base_string": {
                            "function": {
                                "type": "subscription",
                                "parameters": {"subscription_id": None},
                                "property_name": "id",
                            }
                        },
                        "extra_string_1": "environmentName",
                        "extra_string_2": "location",
                    },
                }
            }
        },
    }
}
TERRAFORM_TOKEN = (
    '${lower(provider::azapi::unique_string(["/subscriptions/${lower(var.subscription_id)}",'
    " var.environment_name, var.location]))}"
)


def _module(name: str) -> dict[str, Any]:
    return templates.bicep(templates.INFRA / "modules" / name)


def _canonical_bicep(expression: str) -> str:
    return (
        expression.replace("${take(resourceToken, 7)}", "<token:7>")
        .replace("${resourceToken}", "<token>")
        .replace("${environmentName}", "<env>")
    )


def _canonical_terraform(expression: str) -> str:
    return (
        expression.replace("${substr(local.resource_token, 0, 7)}", "<token:7>")
        .replace("${local.resource_token}", "<token>")
        .replace("${var.environment_name}", "<env>")
        .replace("${local.abbrs.", "${abbrs.")
    )


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def test_both_derive_the_token_from_the_same_inputs_with_arms_unique_string():
    assert templates.bicep(MAIN)["variables"]["resourceToken"]["value"] == BICEP_TOKEN
    assert templates.terraform_locals()["resource_token"] == TERRAFORM_TOKEN
    # subscription().id is "/subscriptions/<lower-case id>"; the same string goes into both hashes.


def test_both_build_every_name_the_same_way_from_one_prefix_file():
    bicep_names = {
        _snake(key): _canonical_bicep(value)
        for key, value in templates.bicep(MAIN)["variables"]["names"]["value"].items()
    }
    terraform_names = {
        key: _canonical_terraform(value) for key, value in templates.terraform_locals()["names"].items()
    }
    assert bicep_names == terraform_names
    abbrs = json.loads((templates.INFRA / "abbreviations.json").read_text("utf-8"))
    for expression in bicep_names.values():
        for key in re.findall(r"\$\{abbrs\.(\w+)\}", expression):
            assert key in abbrs, key
    assert "jsondecode(file(" in templates.terraform_locals()["abbrs"]


def test_every_terraform_resource_takes_its_name_from_the_shared_names():
    literal_names = {
        # Fixed names, the same literals in Bicep.
        "azurerm_monitor_diagnostic_setting",
        "azapi_update_resource",
        "time_offset",
    }
    for block in templates.terraform_blocks("resource"):
        for kind, resources in block.items():
            if kind in literal_names:
                continue
            for label, body in resources.items():
                if "name" not in body:
                    continue
                name = str(templates.terraform_attribute(body, "name"))
                assert (
                    "local.names." in name
                    or name.startswith("${uuidv5(local.arm_guid_namespace")
                    or name in ("${each.value}", "${local.refresh_token_secret_name}")
                ), f"{kind}.{label}: {name}"


def test_every_bicep_module_takes_its_name_from_the_shared_names():
    for module in templates.bicep(MAIN)["modules"].values():
        params = module["config"].get("params", {})
        for key in (
            "name",
            "planName",
            "logAnalyticsName",
            "appInsightsName",
            "namePrefix",
            "actionGroupName",
        ):
            if key in params and not str(params[key]).startswith(("monitoring.outputs.", "storage.outputs.")):
                assert str(params[key]).startswith("names."), (module["detail"]["path"], key, params[key])


def test_both_have_the_same_outputs():
    bicep_outputs = set(templates.bicep(MAIN)["outputs"])
    terraform_outputs = {name for block in templates.terraform_blocks("output") for name in block}
    assert bicep_outputs == terraform_outputs
    assert {"AZURE_TENANT_ID", "APPLICATIONINSIGHTS_CONNECTION_STRING", "AZURE_FUNCTION_URL"} <= bicep_outputs


def _bicep_site() -> dict[str, Any]:
    [site] = templates.bicep_resources("Microsoft.Web/sites")
    return site


def _bicep_publishing_policies() -> dict[str, bool]:
    return {
        policy["name"]: policy["properties"]["allow"]
        for policy in templates.bicep_resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    }


def _terraform_publishing_policies() -> dict[str, bool]:
    policy = templates.terraform_resources("azapi_update_resource")["basic_publishing"]
    assert templates.terraform_attribute(policy, "type").startswith(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies@"
    )
    names = re.findall(r'"(\w+)"', templates.terraform_attribute(policy, "for_each"))
    allow = templates.terraform_attribute(policy, "body")["properties"]["allow"]
    return dict.fromkeys(names, allow)


def test_the_function_app_has_the_same_security_properties_in_both():
    bicep = _bicep_site()["properties"]
    terraform = templates.terraform_attribute(templates.terraform_app(), "body")["properties"]
    for path in (
        ("httpsOnly",),
        ("siteConfig", "minTlsVersion"),
        ("siteConfig", "ftpsState"),
        ("siteConfig", "http20Enabled"),
        ("functionAppConfig", "deployment", "storage", "authentication", "type"),
        ("functionAppConfig", "runtime"),
    ):
        b, t = bicep, terraform
        for key in path:
            b, t = b[key], t[key]
        assert b == t, path
    assert bicep["httpsOnly"] is True and bicep["siteConfig"]["ftpsState"] == "Disabled"
    assert bicep["siteConfig"]["minTlsVersion"] == "1.2"
    assert _bicep_publishing_policies() == _terraform_publishing_policies() == {"ftp": False, "scm": False}
    assert "keyVaultReferenceIdentity" in bicep and "keyVaultReferenceIdentity" in terraform


# (Bicep property, Terraform attribute, value both must hold)
STORAGE_PROPERTIES = [
    ("allowSharedKeyAccess", "shared_access_key_enabled", False),
    ("allowBlobPublicAccess", "allow_nested_items_to_be_public", False),
    ("minimumTlsVersion", "min_tls_version", "TLS1_2"),
    ("supportsHttpsTrafficOnly", "https_traffic_only_enabled", True),
    ("defaultToOAuthAuthentication", "default_to_oauth_authentication", True),
    ("allowCrossTenantReplication", "cross_tenant_replication_enabled", False),
]
KEY_VAULT_PROPERTIES = [
    ("enableRbacAuthorization", "enable_rbac_authorization", True),
    ("enablePurgeProtection", "purge_protection_enabled", True),
    ("softDeleteRetentionInDays", "soft_delete_retention_days", 90),
]
PUBLIC_NETWORK_ACCESS = {"Enabled": True, "Disabled": False}


@pytest.mark.parametrize(
    ("bicep_type", "terraform_type", "properties"),
    [
        ("Microsoft.Storage/storageAccounts", "azurerm_storage_account", STORAGE_PROPERTIES),
        ("Microsoft.KeyVault/vaults", "azurerm_key_vault", KEY_VAULT_PROPERTIES),
    ],
    ids=["storage", "key-vault"],
)
def test_storage_and_key_vault_have_the_same_security_properties_in_both(
    bicep_type, terraform_type, properties
):
    [bicep] = templates.bicep_resources(bicep_type)
    [terraform] = templates.terraform_resources(terraform_type).values()
    for bicep_name, terraform_name, value in properties:
        assert bicep["properties"][bicep_name] == value, bicep_name
        assert templates.terraform_attribute(terraform, terraform_name) == value, terraform_name
    assert PUBLIC_NETWORK_ACCESS[bicep["properties"]["publicNetworkAccess"]] == templates.terraform_attribute(
        terraform, "public_network_access_enabled"
    )


def test_the_app_identity_may_update_only_the_refresh_token_secret_in_both():
    rbac = _module("rbac.bicep")
    [secret] = [
        r["config"] for r in rbac["resources"].values() if r["type"] == "Microsoft.KeyVault/vaults/secrets"
    ]
    assert secret["name"] == "refreshTokenSecretName"
    assignments = [
        r["config"].get("config", r["config"])
        for r in rbac["resources"].values()
        if r["type"] == "Microsoft.Authorization/roleAssignments"
    ]
    officer = [
        a
        for a in assignments
        if "keyVaultSecretsOfficer" in str(a["properties"]["roleDefinitionId"])
        and a["properties"]["principalId"] == "appPrincipalId"
    ]
    assert [role["scope"] for role in officer] == ["refreshTokenSecret"]
    keyvault_params = templates.bicep(MAIN)["modules"]["keyVault"]["config"]["params"]
    assert templates.bicep(MAIN)["variables"]["refreshTokenSecretName"]["value"] == "pc-refresh-token"
    assert keyvault_params["refreshTokenSecretName"] == "refreshTokenSecretName"

    app_roles = templates.terraform_locals()["app_roles"]
    scoped = {
        key: role
        for key, role in app_roles.items()
        if "/secrets/" in str(templates.terraform_locals()["refresh_token_secret_id"])
        and role["scope"] == "${local.refresh_token_secret_id}"
    }
    assert [role["role"] for role in scoped.values()] == ["${local.key_vault_secrets_officer}"]
    assert templates.terraform_locals()["refresh_token_secret_name"] == "pc-refresh-token"
    assert templates.terraform_locals()["refresh_token_secret_id"].endswith(
        "/secrets/${local.refresh_token_secret_name}"
    )
    # The vault-wide officer role stays with the developer only.
    assert all(
        role["scope"] != "${azurerm_key_vault.main.id}"
        or role["role"] != "${local.key_vault_secrets_officer}"
        for role in app_roles.values()
    )


def test_the_refresh_token_secret_exists_before_its_role_and_is_never_overwritten():
    secret = templates.terraform_resources("azapi_resource")["refresh_token_secret"]
    assert templates.terraform_attribute(secret, "type").startswith("Microsoft.KeyVault/vaults/secrets@")
    assert templates.terraform_attribute(secret, "lifecycle") == {"ignore_changes": ["body"]}
    app_roles = templates.terraform_resources("azurerm_role_assignment")["app"]
    assert "${azapi_resource.refresh_token_secret}" in templates.terraform_attribute(app_roles, "depends_on")
    [module] = list(_module("keyvault.bicep")["modules"].values())
    assert module["detail"]["path"] == "refresh-token-secret.bicep"
    assert module["config"]["condition"] == {
        "operator": {"type": "not", "operands": {"bool_value": "refreshTokenSecretExists"}}
    }


@pytest.mark.parametrize("template", ["bicep", "terraform"])
def test_the_app_knows_where_to_write_the_rotated_token(template):
    settings = (templates.bicep_app_settings if template == "bicep" else templates.terraform_app_settings)()
    assert settings["PC_REFRESH_TOKEN_VAULT_URL"] in ("keyVaultUri", "${azurerm_key_vault.main.vault_uri}")
    assert settings["PC_REFRESH_TOKEN_SECRET_NAME"] in (
        "refreshTokenSecretName",
        "${local.refresh_token_secret_name}",
    )
    assert settings["PC_TENANT_ID"] in ("pcTenantId", "${local.pc_tenant_id}")
    assert settings["LOG_LEVEL"] in ("logLevel", "${var.log_level}")


def test_maximum_instance_count_goes_down_to_one_in_both():
    decorators = templates.bicep(MAIN)["parameters"]["maximumInstanceCount"]["decorators"]
    text = json.dumps(decorators)
    assert '"min_value"' in text or "minValue" in text
    bicep_source = MAIN.read_text("utf-8")
    assert re.search(
        r"@minValue\(1\)\s*\n@maxValue\(1000\)\s*\n(@description\([^\n]*\)\s*\n)?param maximumInstanceCount",
        bicep_source,
    )
    [variable] = [
        v["maximum_instance_count"]
        for v in templates.terraform_blocks("variable")
        if "maximum_instance_count" in v
    ]
    condition = templates.terraform_attribute(
        templates.terraform_attribute(variable, "validation"), "condition"
    )
    assert ">= 1 &&" in condition and "<= 1000" in condition
    assert "API pressure" in templates.terraform_attribute(variable, "description")


def test_azd_passes_the_principal_type():
    given = json.loads((templates.INFRA / "main.parameters.json").read_text("utf-8"))["parameters"]
    assert given["principalType"]["value"].startswith("${AZURE_PRINCIPAL_TYPE")
    assert given["refreshTokenSecretExists"]["value"].startswith("${PC_REFRESH_TOKEN_SECRET_EXISTS")


def test_alerts_without_a_receiver_fail_unless_explicitly_accepted():
    alerts = _module("alerts.bicep")["parameters"]["alertsHaveAReceiverOrAlertsWithoutReceiverIsSet"]
    assert "allowed" in json.dumps(alerts["decorators"]) and alerts.get("default") is None
    passed = templates.bicep(MAIN)["modules"]["alerts"]["config"]["params"]
    guard = str(passed["alertsHaveAReceiverOrAlertsWithoutReceiverIsSet"])
    for term in ("actionGroupId", "alertEmailAddress", "alertsWithoutReceiver"):
        assert term in guard
    [variable] = [
        v["alert_email_address"] for v in templates.terraform_blocks("variable") if "alert_email_address" in v
    ]
    condition = templates.terraform_attribute(
        templates.terraform_attribute(variable, "validation"), "condition"
    )
    for term in ("var.alert_email_address", "var.action_group_id", "var.alerts_without_receiver"):
        assert term in condition


def test_the_azd_hook_reports_whether_the_secret_exists():
    hooks = (templates.REPO / "azure.yaml").read_text("utf-8")
    for script in ("refresh-token-secret.sh", "refresh-token-secret.ps1"):
        assert f"infra/hooks/{script}" in hooks
        text = (templates.INFRA / "hooks" / script).read_text("utf-8")
        assert "PC_REFRESH_TOKEN_SECRET_EXISTS" in text and "pc-refresh-token" in text


# --- terraform fmt: `=` of consecutive one-line attributes in one column ------------------------

_ASSIGN = re.compile(r'^(?P<lead>\s*(?:"[^"]*"|[\w.-]+))\s*=(?!=)(?P<rhs>.*)$')


def _net_brackets(text: str) -> int:
    depth, in_string, i = 0, False, 0
    while i < len(text):
        char = text[i]
        if in_string:
            if char == "\\":
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "#" or text.startswith("//", i):
            break
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        i += 1
    return depth


def fmt_misalignments(source: str) -> list[str]:
    """hclwrite's rule: a run of consecutive lines that each assign a whole one-line expression has
    its `=` one column after the longest left side; any other line ends the run."""
    problems: list[str] = []
    run: list[tuple[int, str, str]] = []

    def close() -> None:
        if run:
            column = max(len(lead) for _, lead, _ in run) + 1
            for number, lead, line in run:
                if (
                    line.index("=", len(lead)) != column
                    or not line[column + 1 :].startswith(" ")
                    or line[column + 2 :].startswith(" ")
                ):
                    problems.append(f"line {number}: {line.strip()}")
        run.clear()

    for number, line in enumerate(source.splitlines(), start=1):
        match = _ASSIGN.match(line)
        if match and _net_brackets(match["rhs"]) == 0 and not line.lstrip().startswith("#"):
            run.append((number, match["lead"], line))
        else:
            close()
    close()
    return problems


def test_the_fmt_check_catches_a_misaligned_block():
    assert fmt_misalignments("a = 1\nbbb = 2\n") == ["line 1: a = 1"]
    assert fmt_misalignments("a   = 1\nbbb = 2\n\nc = {\n  d = 1\n}\n") == []


@pytest.mark.parametrize("path", templates.terraform_files(), ids=lambda p: p.name)
def test_terraform_file_is_fmt_aligned(path: Path):
    assert fmt_misalignments(path.read_text("utf-8")) == []
