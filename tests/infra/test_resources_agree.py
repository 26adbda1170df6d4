"""Bicep and Terraform declare the same queues, tables, roles and alerts, and the alert and
workbook queries read metrics the app emits."""

from __future__ import annotations

import json
import re

from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings
from tests.infra import templates

TELEMETRY = templates.REPO / "shared" / "telemetry.py"
MONITORING = templates.INFRA / "monitoring"


def _bicep_variable(module: str, name: str) -> list[str]:
    value: list[str] = templates.bicep(templates.INFRA / "modules" / module)["variables"][name]["value"]
    return value


def _table_defaults() -> set[str]:
    return {str(f.default) for name, f in Settings.model_fields.items() if name.endswith("_table")}


def test_queues_are_the_work_queue_and_its_poison_queue_in_both():
    expected = {SYNC_QUEUE, POISON_QUEUE}
    assert set(_bicep_variable("storage.bicep", "queueNames")) == expected
    assert set(templates.terraform_locals()["queue_names"]) == expected


def test_tables_are_the_table_settings_defaults_in_both():
    assert set(_bicep_variable("storage.bicep", "tableNames")) == _table_defaults()
    assert set(templates.terraform_locals()["table_names"]) == _table_defaults()


def test_the_app_identity_gets_the_same_roles_in_both():
    rbac = (templates.INFRA / "modules" / "rbac.bicep").read_text("utf-8")
    # Each role id sits in a variable whose comment above names the role's purpose.
    bicep_roles = set(re.findall(r"^var (\w+) = '[0-9a-f-]{36}'", rbac, re.MULTILINE))
    terraform_roles = {role["role"] for role in templates.terraform_locals()["app_roles"].values()}
    as_variable = {
        re.sub(r"\s+(\w)", lambda m: m.group(1).upper(), r[0].lower() + r[1:]) for r in terraform_roles
    }
    assert as_variable <= bicep_roles
    assert terraform_roles >= {
        "Storage Blob Data Owner",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Key Vault Secrets User",
        "Monitoring Metrics Publisher",
    }


def test_role_assignment_names_derive_from_scope_principal_and_role():
    for assignment in templates.bicep_resources("Microsoft.Authorization/roleAssignments"):
        name = assignment["name"]["function"]
        assert name["type"] == "guid" and len(name["parameters"]) == 3, name
    for assignment in templates.terraform_resources("azurerm_role_assignment").values():
        assert templates.terraform_attribute(assignment, "name").startswith("${uuidv5(")


def test_the_same_five_alerts_in_both():
    bicep_keys = {rule["key"] for rule in _bicep_variable("alerts.bicep", "rules")}  # type: ignore[index]
    terraform_keys = set(templates.terraform_locals()["alert_rules"])
    assert (
        bicep_keys
        == terraform_keys
        == {
            "poison-queue",
            "sync-failure-rate",
            "poll-lag",
            "webhook-silence",
            "function-errors",
        }
    )


def test_alert_and_workbook_queries_read_only_metrics_the_app_emits():
    emitted = set(re.findall(r'create_\w+\(\s*"(\w+)"', TELEMETRY.read_text("utf-8")))
    texts = [path.read_text("utf-8") for path in MONITORING.glob("*.kql")]
    workbook = json.loads((MONITORING / "workbook.json").read_text("utf-8"))
    texts += [item["content"]["query"] for item in workbook["items"] if item["type"] == 3]
    read: set[str] = set()
    for text in texts:
        for clause in re.findall(r'\bname (?:== "\w+"|in \([^)]*\))', text):
            read.update(re.findall(r'"(\w+)"', clause))
    assert {"poison_depth", "poll_lag_seconds", "sync_operations", "webhook_events"} <= read
    assert read <= emitted, sorted(read - emitted)
