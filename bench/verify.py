"""After a chaos run: are both sides equal for every pair, with no duplicate and no lost update?

Reads both simulators through their uncounted control APIs and compares the canonical `comparable()`
values the sync engine itself merges on (the mapping functions of `shared.core.mapping`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devstack.pc_sim.store import MICROSOFT_ORG_ID
from devstack.stack import LocalStack
from shared import api_clients
from shared.core import salesforce_fields as F
from shared.core.canonical import SYNCED_FIELDS
from shared.core.mapping import deal_from_partner_center, deal_from_salesforce
from shared.salesforce.salesforce_client import opportunity_select

EXAMPLES = 5
# Identity is checked by pairing the records; seeded referrals keep the external reference they were
# seeded with, which names no opportunity, so the id keys are not compared as values.
IDENTITY_KEYS = frozenset({"referral_id", "opportunity_id", "engagement_id"})


@dataclass
class Expectation:
    """The last values the run wrote: deal value on the Partner Center side, close date in Salesforce.
    `origins` maps each pair's origin record (referral id or opportunity id) to its side."""

    origins: dict[str, str] = field(default_factory=dict)  # record id -> "pc" | "sf"
    deal_value: dict[str, int] = field(default_factory=dict)  # referral id -> last written
    close_date: dict[str, str] = field(default_factory=dict)  # opportunity id -> last written


@dataclass
class Verdict:
    pairs: int = 0
    missing: list[str] = field(default_factory=list)
    duplicate_opportunities: list[str] = field(default_factory=list)  # referral ids with > 1 opportunity
    duplicate_referrals: list[str] = field(default_factory=list)  # opportunity ids with > 1 referral
    unequal: list[dict[str, Any]] = field(default_factory=list)
    lost_updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing or self.duplicate_opportunities or self.duplicate_referrals or self.unequal
            or self.lost_updates
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pairs": self.pairs,
            "missing": len(self.missing),
            "duplicates": len(self.duplicate_opportunities) + len(self.duplicate_referrals),
            "duplicate_opportunities": len(self.duplicate_opportunities),
            "duplicate_referrals": len(self.duplicate_referrals),
            "unequal_pairs": len(self.unequal),
            "lost_updates": len(self.lost_updates),
            "examples": {
                "missing": self.missing[:EXAMPLES],
                "duplicates": (self.duplicate_opportunities + self.duplicate_referrals)[:EXAMPLES],
                "unequal": self.unequal[:EXAMPLES],
                "lost_updates": self.lost_updates[:EXAMPLES],
            },
        }


def verify(stack: LocalStack, expected: Expectation) -> Verdict:
    settings = stack.settings
    referrals: list[dict[str, Any]] = [
        r for r in stack.pc.referrals() if r.get("organizationId") != MICROSOFT_ORG_ID
    ]
    # The org as the connector describes it (a single-currency org has no CurrencyIsoCode to select).
    org = api_clients.salesforce(settings).org()
    opportunities = stack.sf.query(opportunity_select(settings, org))
    opps_by_referral: dict[str, list[dict[str, Any]]] = {}
    for row in opportunities:
        if row.get(F.REFERRAL_ID):
            opps_by_referral.setdefault(str(row[F.REFERRAL_ID]), []).append(row)
    refs_by_external: dict[str, list[dict[str, Any]]] = {}
    for item in referrals:
        if item.get("externalReferenceId"):
            refs_by_external.setdefault(str(item["externalReferenceId"]), []).append(item)
    referral_by_id = {str(r["id"]): r for r in referrals}
    opp_by_id = {str(o["Id"]): o for o in opportunities}
    verdict = Verdict(pairs=len(expected.origins))
    verdict.duplicate_opportunities = [rid for rid, opps in opps_by_referral.items() if len(opps) > 1]
    verdict.duplicate_referrals = [
        oid for oid, refs in refs_by_external.items() if len(refs) > 1 and oid in opp_by_id
    ]
    for record_id, side in expected.origins.items():
        ref: dict[str, Any] | None
        opp: dict[str, Any] | None
        if side == "pc":
            ref = referral_by_id.get(record_id)
            opps = opps_by_referral.get(record_id, [])
            opp = opps[0] if opps else None
        else:
            opp = opp_by_id.get(record_id)
            rid = str((opp or {}).get(F.REFERRAL_ID) or "")
            ref = referral_by_id.get(rid)
            if ref is not None and ref.get("externalReferenceId") != record_id:
                ref = None
        if ref is None or opp is None:
            verdict.missing.append(record_id)
            continue
        _compare(verdict, settings, ref, opp, expected)
    return verdict


def _compare(
    verdict: Verdict, settings: Any, ref: dict[str, Any], opp: dict[str, Any], expected: Expectation
) -> None:
    pc_values = deal_from_partner_center(ref).comparable()
    sf_values = deal_from_salesforce(opp, settings).comparable()
    differing = {
        key: {"pc": pc_values.get(key), "sf": sf_values.get(key)}
        for key in SYNCED_FIELDS
        if key not in IDENTITY_KEYS and pc_values.get(key) != sf_values.get(key)
    }
    if differing:
        verdict.unequal.append({"referral": ref["id"], "opportunity": opp["Id"], "fields": differing})
    want_value = expected.deal_value.get(str(ref["id"]))
    if want_value is not None and (
        (ref.get("details") or {}).get("dealValue") != want_value or opp.get("Amount") != want_value
    ):
        verdict.lost_updates.append({
            "referral": ref["id"], "field": "deal_value", "written": want_value,
            "pc": (ref.get("details") or {}).get("dealValue"), "sf": opp.get("Amount"),
        })  # fmt: skip
    want_date = expected.close_date.get(str(opp["Id"]))
    if want_date is not None and (
        opp.get("CloseDate") != want_date or pc_values.get("close_date") != want_date
    ):
        verdict.lost_updates.append({
            "opportunity": opp["Id"], "field": "close_date", "written": want_date,
            "pc": pc_values.get("close_date"), "sf": opp.get("CloseDate"),
        })  # fmt: skip
