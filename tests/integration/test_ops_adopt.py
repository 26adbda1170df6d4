"""adopt against the simulators and Azurite: opportunities another tool synced (their referral id in
another field, no Referral Id, no link) are linked to their referrals writing only our anchor fields,
and a following backfill creates nothing and writes nothing.

The simulated org has no managed-package field, so the old connector's field is played by a standard
text field (NextStep): adopt takes any field API name (`--referral-id-field`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.core import salesforce_fields as f
from shared.ops.adopt import ADOPTED_ACTION
from shared.store import audit, links, tables

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_queues")]

SINCE = "2000-01-01"
OLD_FIELD = "NextStep"
ANCHORS = {f.REFERRAL_ID, f.REFERRAL_LINK, f.SYNC}
VOLATILE = {"SystemModstamp", "LastModifiedDate", "LastModifiedById"}
PC_WRITES = ("POST /referrals", "PATCH /referrals/{id}")


def as_the_old_connector_left_them(settings: Any, sf_control: Any) -> dict[str, dict[str, Any]]:
    """Opportunities in sync with their referrals, the referral id only in OLD_FIELD: no Referral Id,
    Link or Sync of ours, no link (what Microsoft's connector leaves behind)."""
    for opp in sf_control.records("Opportunity"):
        sf_control.update_record(
            "Opportunity", opp["Id"], **{OLD_FIELD: opp[f.REFERRAL_ID], f.REFERRAL_ID: None,
                                         f.REFERRAL_LINK: None, f.SYNC: False}
        )  # fmt: skip
    for link in list(links.iter_links(settings)):
        unlink(settings, link.referral_id)
    return {o["Id"]: o for o in sf_control.records("Opportunity")}


def unlink(settings: Any, referral_id: str) -> None:
    def delete(client: Any) -> None:
        client.delete_entity(referral_id, "link")

    tables.call(settings, settings.links_table, delete)


def pc_writes(pc_control: Any) -> int:
    counters = pc_control.counters()
    return sum(counters.get(k, 0) for k in PC_WRITES)


def test_adopt_links_100_opportunities_and_a_following_backfill_creates_and_writes_nothing(
    ops_settings, pc_control, sf_control, cli, run_queued
):
    for _ in range(100):
        pc_control.send_referral()
    assert cli("backfill", "--since", SINCE, "--source", "pc", "--per-record").exit_code == 0
    assert [r.action for r in run_queued()] == ["opportunity created"] * 100
    before = as_the_old_connector_left_them(ops_settings, sf_control)
    assert len(before) == 100 and not list(links.iter_links(ops_settings))
    pc_control.reset_counters()

    result = cli("adopt", "--referral-id-field", OLD_FIELD, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["scanned"], len(report["linked"]), report["skipped"]) == (100, 100, [])
    assert all(set(a["written"]) == ANCHORS and a["differing"] == [] for a in report["linked"])
    assert pc_writes(pc_control) == 0
    after = {o["Id"]: o for o in sf_control.records("Opportunity")}
    for opp_id, old in before.items():
        new = after[opp_id]
        changed = {k for k in {*old, *new} if old.get(k) != new.get(k)} - VOLATILE
        assert changed == ANCHORS, changed
        assert new[f.REFERRAL_ID] == old[OLD_FIELD] and new[f.SYNC] is True
        assert new[f.REFERRAL_LINK] == ops_settings.pc_portal_referral_url.format(id=old[OLD_FIELD])
    linked = {link.referral_id: link.opportunity_id for link in links.iter_links(ops_settings)}
    assert linked == {o[OLD_FIELD]: o["Id"] for o in before.values()}
    assert len([e for e in audit.recent(ops_settings, days=1) if e.action == ADOPTED_ACTION]) == 100

    assert cli("backfill", "--since", SINCE, "--restart", "--per-record").exit_code == 0
    results = run_queued()

    assert len(results) >= 200  # every referral and every (now flagged) opportunity
    assert "opportunity created" not in [r.action for r in results]
    assert {r.outcome.value for r in results} == {"noop"}, {r.action for r in results}
    assert len(sf_control.records("Opportunity")) == 100
    assert pc_writes(pc_control) == 0
    assert sorted(links.iter_links(ops_settings), key=lambda x: x.referral_id) and len(linked) == 100


def test_adopt_skips_what_it_cannot_prove_and_a_dry_run_writes_nothing(
    ops_settings, pc_control, sf_control, cli, run_queued
):
    pc_control.send_referral()
    pc_control.send_referral()
    assert cli("backfill", "--since", SINCE, "--source", "pc", "--per-record").exit_code == 0
    run_queued()
    held, free = sf_control.records("Opportunity")
    # `free` plays an opportunity of the old connector: its referral id only in the old field.
    sf_control.update_record(
        "Opportunity", free["Id"], **{OLD_FIELD: free[f.REFERRAL_ID], f.REFERRAL_ID: None}
    )
    unlink(ops_settings, free[f.REFERRAL_ID])
    not_a_guid = sf_control.create_opportunity("Typo", **{OLD_FIELD: "see Partner Center"})
    unknown = sf_control.create_opportunity("Gone", **{OLD_FIELD: "0f8fad5b-d9cb-469f-a165-70867728950e"})
    duplicate = sf_control.create_opportunity("Twin", **{OLD_FIELD: held[f.REFERRAL_ID]})

    dry = cli("adopt", "--referral-id-field", OLD_FIELD, "--dry-run", "--json")

    assert dry.exit_code == 0, dry.output
    assert [a["opportunity_id"] for a in json.loads(dry.stdout)["linked"]] == [free["Id"]]
    assert sf_control.record("Opportunity", free["Id"])[f.REFERRAL_ID] is None
    assert links.get(ops_settings, free[f.REFERRAL_ID]) is None

    result = cli("adopt", "--referral-id-field", OLD_FIELD)

    assert result.exit_code == 0, result.output
    assert "4 opportunities with NextStep: 1 linked, 0 already linked, 3 skipped" in result.stdout
    assert "is not a GUID" in result.stdout
    assert f"opportunity {held['Id']} already holds this referral id" in result.stdout
    assert unknown in result.stdout and not_a_guid in result.stdout and duplicate in result.stdout
    assert links.get(ops_settings, free[f.REFERRAL_ID]).opportunity_id == free["Id"]  # type: ignore[union-attr]
    assert sf_control.record("Opportunity", duplicate)[f.REFERRAL_ID] is None

    again = cli("adopt", "--referral-id-field", OLD_FIELD, "--json")  # idempotent
    assert json.loads(again.stdout)["linked"] == []
    assert json.loads(again.stdout)["already_linked"] == [free["Id"]]


def test_adopt_refuses_a_field_name_that_is_not_one(cli):
    result = cli("adopt", "--referral-id-field", "Id FROM Account --")

    assert result.exit_code == 2
    assert "not a Salesforce field API name" in result.stderr
