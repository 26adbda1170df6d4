"""The webhook test trust anchor is for tests and the local stack: no infra template sets it, and
no template names it anywhere (issue #15)."""

from __future__ import annotations

import pytest

from tests.infra import templates

NAME = "PC_WEBHOOK_TEST_TRUST_ANCHOR_PEM"


@pytest.mark.parametrize("settings", [templates.bicep_app_settings, templates.terraform_app_settings])
def test_production_infra_never_sets_the_test_trust_anchor(settings):
    assert NAME not in settings()


def test_no_template_file_mentions_it():
    for path in [*templates.bicep_files(), *templates.terraform_files()]:
        assert NAME not in path.read_text(encoding="utf-8"), path


def test_the_sample_leaves_it_empty():
    assert templates.sample_settings()[NAME] == ""
