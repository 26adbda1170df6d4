"""Bicep, Terraform, local.settings.sample.json and `Settings` name the same app settings, and
secrets reach the app only as Key Vault references."""

from __future__ import annotations

import re

import pytest
from pydantic import AliasChoices, SecretStr

from shared.config import Settings, setting_names
from tests.infra import templates

# Read by the Functions host (or the platform), not by `Settings`: present in Azure only.
PLATFORM_SETTINGS_IN_AZURE = {
    "AzureWebJobsStorage__credential",  # identity-based host storage
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # host telemetry with App Insights local auth off
}
# Where the app writes the rotated refresh token back (infra grants the identity that one secret).
# Expected in `Settings` as pc_refresh_token_vault_url / pc_refresh_token_secret_name; until those
# fields land, the templates may set them ahead of Settings (union below is then a no-op).
REFRESH_TOKEN_WRITE_BACK = {"PC_REFRESH_TOKEN_VAULT_URL", "PC_REFRESH_TOKEN_SECRET_NAME"}
# A Settings field, but set only locally (the emulator): in Azure the __accountName/__credential
# settings make host and app use the identity, and a plain value, even empty, would override them.
NOT_IN_AZURE = {"AzureWebJobsStorage"}
# Core Tools needs it locally; Flex Consumption takes the runtime from functionAppConfig and rejects it.
LOCAL_ONLY_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME"}
# Tests and the local stack only: production infra must never set it (tests/infra/test_pc_trust_anchor.py).
TEST_ONLY_SETTINGS = {"PC_WEBHOOK_TEST_TRUST_ANCHOR_PEM", "SF_LOOPBACK_PORT"}
# A SecretStr in Settings, but set from the App Insights resource rather than Key Vault.
SECRETS_NOT_IN_KEY_VAULT = {"APPLICATIONINSIGHTS_CONNECTION_STRING"}

KEY_VAULT_REFERENCE = re.compile(
    r"^@Microsoft\.KeyVault\(VaultName=\$\{[\w.]+\};SecretName=(?P<secret>[a-z0-9-]+)\)$"
)

TEMPLATES = {"bicep": templates.bicep_app_settings, "terraform": templates.terraform_app_settings}


def _secret_settings() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        if field.annotation is SecretStr:
            alias = field.validation_alias
            choice = alias.choices[0] if isinstance(alias, AliasChoices) else None
            names.add(choice if isinstance(choice, str) else name.upper())
    return names - SECRETS_NOT_IN_KEY_VAULT


def test_the_sample_file_holds_every_setting_and_only_those():
    assert set(templates.sample_settings()) - LOCAL_ONLY_SETTINGS == setting_names()


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_template_sets_every_setting_and_only_those(template):
    names = set(TEMPLATES[template]())
    expected = (setting_names() - NOT_IN_AZURE - TEST_ONLY_SETTINGS) | REFRESH_TOKEN_WRITE_BACK
    assert names - PLATFORM_SETTINGS_IN_AZURE == expected, {
        "missing": sorted(expected - names),
        "unknown": sorted(names - expected - PLATFORM_SETTINGS_IN_AZURE),
    }
    assert names >= PLATFORM_SETTINGS_IN_AZURE
    assert not names & (LOCAL_ONLY_SETTINGS | NOT_IN_AZURE)


def test_bicep_and_terraform_set_the_same_names():
    assert set(templates.bicep_app_settings()) == set(templates.terraform_app_settings())


def test_there_are_secrets_to_protect():
    assert {
        "PC_CLIENT_SECRET",
        "PC_REFRESH_TOKEN",
        "SF_CLIENT_SECRET",
        "SF_PRIVATE_KEY",
    } <= _secret_settings()


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_secret_is_a_key_vault_reference_named_after_its_setting(template):
    settings = TEMPLATES[template]()
    for name in _secret_settings():
        match = KEY_VAULT_REFERENCE.match(str(settings[name]))
        assert match, f"{template}: {name} = {settings[name]!r} is not a Key Vault reference"
        assert match["secret"] == name.lower().replace("_", "-")


@pytest.mark.parametrize("template", TEMPLATES)
def test_no_other_setting_points_into_key_vault(template):
    settings = TEMPLATES[template]()
    for name in set(settings) - _secret_settings():
        assert "@Microsoft.KeyVault" not in str(settings[name]), name


def _references(template: str) -> set[str]:
    """Bicep values that are bare parameter/variable names (pycep renders them as plain strings)."""
    if template != "bicep":
        return set()
    module = templates.bicep(templates.INFRA / "modules" / "app.bicep")
    return set(module["parameters"]) | set(module["variables"])


@pytest.mark.parametrize("template", TEMPLATES)
def test_fixed_values_equal_the_local_defaults(template):
    """A literal in a template is the sample file's value; parameters and references may differ."""
    sample = templates.sample_settings()
    references = _references(template)
    # Emulator locally, identity in Azure (see test_identity).
    compared = set(sample) - {"AzureWebJobsStorage"}
    literals = {
        name: value
        for name, value in TEMPLATES[template]().items()
        if name in compared and "${" not in value and not value.startswith("@") and value not in references
    }
    assert len(literals) > 30
    assert {name: sample[name] for name in literals} == literals
