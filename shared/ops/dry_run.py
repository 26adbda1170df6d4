"""What a sync of one opportunity would send to Partner Center, computed the way the engine
(`shared.sync.engine.SyncEngine._from_opportunity` and `_sync_pair`) decides it, with reads only:
the opportunity, its link and referral. Nothing is written anywhere.

Keep the branches in step with the engine; `tests/integration/test_ops_dry_run.py` runs the engine
after a dry run and asserts the request it sent is the one printed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import PermanentError
from shared.ops.clients import OpsClients
from shared.partner_center.models import Referral
from shared.salesforce import fields as F
from shared.store import links
from shared.store.links import Link
from shared.sync.mapping import (
    deal_from_salesforce,
    partner_center_create_body,
)
from shared.sync.merge import OwnerPolicy
from shared.sync.plan import Origin, plan_pair
from shared.sync.validation import validate_for_create


@dataclass(frozen=True)
class PlannedRequest:
    """The Partner Center request exactly as the engine would send it."""

    method: str
    url: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "path": self.path, "headers": self.headers,
                "body": self.body}  # fmt: skip


@dataclass(frozen=True)
class DryRunResult:
    opportunity_id: str
    action: str
    """create referral | update referral | nothing to send | skipped | invalid"""
    referral_id: str | None = None
    request: PlannedRequest | None = None
    problems: tuple[str, ...] = ()
    to_salesforce: dict[str, Any] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "opportunity_id": self.opportunity_id,
            "referral_id": self.referral_id,
            "action": self.action,
            "reason": self.reason,
            "request": self.request.to_json() if self.request else None,
            "problems": list(self.problems),
            "to_salesforce": self.to_salesforce,
            "conflicts": list(self.conflicts),
        }


def plan_opportunity_sync(settings: Settings, clients: OpsClients, opportunity_id: str) -> DryRunResult:
    """The Partner Center request a sync job for this opportunity would send, or why none."""
    opp = clients.sf.get_opportunity(opportunity_id)
    if opp is None:
        return DryRunResult(opportunity_id, "skipped", reason="opportunity not found")
    opportunity_id = str(opp["Id"])
    referral_id = opp.get(F.REFERRAL_ID)
    if not referral_id:
        return _plan_unlinked(settings, clients, opp)
    link = links.get(settings, str(referral_id))
    if not opp.get(F.SYNC) and link is None:
        return DryRunResult(opportunity_id, "skipped", str(referral_id), reason="not flagged for sync")
    try:
        referral = clients.pc.get_referral(str(referral_id))
    except PermanentError as exc:
        if exc.status == 404:
            return DryRunResult(
                opportunity_id,
                "invalid",
                str(referral_id),
                problems=(f"referral {referral_id} not found in Partner Center",),
            )
        raise
    return _plan_pair(settings, referral, opp, origin="salesforce", link=link)


def _plan_unlinked(settings: Settings, clients: OpsClients, opp: dict[str, Any]) -> DryRunResult:
    """An opportunity without a Referral Id: a create, or adopting a referral created before a crash."""
    opportunity_id = str(opp["Id"])
    if not opp.get(F.SYNC):
        return DryRunResult(opportunity_id, "skipped", reason="not flagged for sync")
    existing = clients.pc.find_by_external_reference(opportunity_id)
    if existing is None:
        return _plan_create(settings, opp)
    return _plan_pair(settings, existing, opp, origin="salesforce", link=None)


def _referrals_url(settings: Settings) -> str:
    return settings.pc_api_base_url.rstrip("/") + "/referrals"


def _plan_create(settings: Settings, opp: dict[str, Any]) -> DryRunResult:
    opportunity_id = str(opp["Id"])
    deal = deal_from_salesforce(opp, settings)
    problems = validate_for_create(deal)
    if problems:
        return DryRunResult(opportunity_id, "invalid", problems=tuple(problems))
    body = partner_center_create_body(deal, settings)
    request = PlannedRequest("POST", _referrals_url(settings), body, {"Content-Type": "application/json"})
    return DryRunResult(opportunity_id, "create referral", request=request)


def _plan_pair(
    settings: Settings, referral: Referral, opp: dict[str, Any], *, origin: Origin, link: Link | None
) -> DryRunResult:
    assert referral.id
    opportunity_id = str(opp["Id"])
    link = link if link is not None else links.get(settings, referral.id)
    plan = plan_pair(
        settings, OwnerPolicy.from_settings(settings), referral, opp, link.snapshot if link else None,
        origin=origin, pending=link.pending if link else None,
    )  # fmt: skip
    common: dict[str, Any] = {
        "referral_id": referral.id,
        "to_salesforce": plan.result.to_salesforce,
        "conflicts": tuple(f"{c.field}: {c.winner} won" for c in plan.result.conflicts),
    }
    if plan.problems:
        return DryRunResult(opportunity_id, "invalid", problems=plan.problems, **common)
    if plan.operations:
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if referral.e_tag:
            headers["If-Match"] = referral.e_tag
        url = f"{_referrals_url(settings)}/{referral.id}"
        request = PlannedRequest("PATCH", url, list(plan.operations), headers)
        return DryRunResult(opportunity_id, "update referral", request=request, **common)
    reason = (
        "on hold: edits wait until the opportunity leaves the on-hold stage" if plan.on_hold else "in sync"
    )
    return DryRunResult(opportunity_id, "nothing to send", reason=reason, **common)
