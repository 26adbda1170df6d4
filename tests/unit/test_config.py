"""Settings: one typed list, mirrored by local.settings.sample.json; bad values fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import Settings, load_settings, setting_names
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_ONLY = {"FUNCTIONS_WORKER_RUNTIME"}  # read by the host, not by our code


def sample_values() -> dict[str, str]:
    values: dict[str, str] = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    return values


def test_sample_file_lists_exactly_the_settings_the_app_reads():
    sample = set(sample_values()) - PLATFORM_ONLY
    assert sample == setting_names(), (
        f"missing from sample: {sorted(setting_names() - sample)}; "
        f"not in Settings: {sorted(sample - setting_names())}"
    )


def test_sample_values_are_strings_and_load_as_valid_settings(monkeypatch):
    values = sample_values()
    assert all(isinstance(v, str) for v in values.values())
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert isinstance(settings, Settings)


def test_no_module_but_config_reads_the_environment():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "shared").rglob("*.py")
        if path.name != "config.py" and ("os.environ" in path.read_text() or "getenv" in path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("value, expected", [("Yes", True), ("no", False), ("YES", True), ("No", False)])
def test_yes_no_settings_accept_only_yes_or_no(monkeypatch, value, expected):
    monkeypatch.setenv("CHECK_MARK_IN_NAME", value)
    assert load_settings().check_mark_in_name is expected


def test_an_invalid_setting_fails_at_start_naming_the_setting(monkeypatch):
    monkeypatch.setenv("SYNC_COSELL_ONLY", "maybe")
    with pytest.raises(ConfigError, match="SYNC_COSELL_ONLY") as err:
        load_settings()
    assert "Yes or No" in str(err.value)


def test_secrets_are_not_shown_when_settings_are_printed():
    settings = load_settings(pc_refresh_token="super-secret-refresh", sf_password="hunter2")
    assert "super-secret-refresh" not in repr(settings)
    assert "hunter2" not in str(settings)


def test_comma_separated_lists_are_parsed(monkeypatch):
    monkeypatch.setenv("PC_WEBHOOK_CERT_HOSTS", "A.example.com, 127.0.0.1")
    assert load_settings().pc_webhook_cert_hosts == ["a.example.com", "127.0.0.1"]
