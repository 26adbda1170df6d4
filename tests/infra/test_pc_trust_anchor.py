"""The webhook test trust anchor is for tests and the local stack: no infra template sets it, and
no template names it anywhere (issue #15)."""

from __future__ import annotations

import pytest

from tests.infra import templates

LOCAL_ONLY = {"PC_WEBHOOK_TEST_TRUST_ANCHOR_PEM": "", "SF_LOOPBACK_PORT": "0"}


@pytest.mark.parametrize("name", LOCAL_ONLY)
@pytest.mark.parametrize("settings", [templates.bicep_app_settings, templates.terraform_app_settings])
def test_production_infra_never_sets_a_local_only_setting(settings, name):
    assert name not in settings()


@pytest.mark.parametrize("name", LOCAL_ONLY)
def test_no_template_file_mentions_it(name):
    for path in [*templates.bicep_files(), *templates.terraform_files()]:
        assert name not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(("name", "value"), LOCAL_ONLY.items())
def test_the_sample_leaves_it_off(name, value):
    assert templates.sample_settings()[name] == value
