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


def _bicep_role_ids() -> dict[str, str]:
    rbac = (templates.INFRA / "modules" / "rbac.bicep").read_text("utf-8")
    return dict(re.findall(r"^var (\w+) = '([0-9a-f-]{36})'", rbac, re.MULTILINE))


def test_the_app_identity_gets_the_same_roles_in_both():
    # Each role id sits in a named variable/local whose comment says why; same ids, same names.
    bicep_ids = _bicep_role_ids()
    terraform_ids = {
        name: value
        for name, value in templates.terraform_locals().items()
        if isinstance(value, str)
        and re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", value)
        and name != "arm_guid_namespace"
    }
    as_bicep = {
        re.sub(r"_(\w)", lambda m: m.group(1).upper(), name): value for name, value in terraform_ids.items()
    }
    assert as_bicep == bicep_ids
    granted = {role["role"] for role in templates.terraform_locals()["app_roles"].values()}
    assert granted == {
        f"${{local.{name}}}" for name in terraform_ids if name != "key_vault_secrets_officer"
    } | {"${local.key_vault_secrets_officer}"}


def test_role_assignment_names_derive_from_scope_principal_and_role():
    for assignment in templates.bicep_resources("Microsoft.Authorization/roleAssignments"):
        name = assignment["name"]["function"]
        assert name["type"] == "guid" and len(name["parameters"]) == 3, name
    for assignment in templates.terraform_resources("azurerm_role_assignment").values():
        # uuidv5 in ARM's namespace over scope-principal-role: Bicep's guid(scope, principal, role).
        name = templates.terraform_attribute(assignment, "name")
        assert name.startswith('${uuidv5(local.arm_guid_namespace, "${each.value.scope}-'), name
        assert name.endswith('-${each.value.role}")}'), name
    assert templates.terraform_locals()["arm_guid_namespace"] == "11fb06fb-712d-4ddd-98c7-e71bbd588830"


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
