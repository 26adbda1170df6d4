"""Adopting opportunities another tool synced (Microsoft's Power Automate connector): each opportunity
whose `--referral-id-field` holds a referral id is linked to that referral, so that backfill, the poll
and webhooks find the pair instead of creating a second opportunity.

Per opportunity: the value must be a GUID and the referral must exist (read from Partner Center); no
other opportunity may hold that referral id in our Referral Id field and no link may point that referral
elsewhere. Then the link is saved and only our anchor fields are written, and only where they differ:
Referral Id, Referral Link, Sync with Partner Center = true. Nothing else is written on either side.

The link's snapshot is the engine's own merge base for a pair without one (`plan_pair`, computed from
both records as they were before the anchor write): where both sides agree it holds their common value,
so the first sync after adopting writes nothing; where they differ it holds the base that lets the
record changed last win, as the engine would have decided. The report lists those fields per record.
The opportunity's existing notes are remembered as already shared, so the first sync does not append
them to the referral again (the old connector may have done it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.config import Settings
from shared.core import salesforce_fields as f
from shared.core.merge import OwnerPolicy
from shared.core.notes import SELLER_NOTE_PREFIX, new_seller_note_ids
from shared.core.plan import plan_pair
from shared.core.referral import Referral
from shared.core.referral_ids import referral_id_problem
from shared.errors import ConfigError, ConflictError, PermanentError
from shared.ops.ops_clients import OpsClients
from shared.store import audit, links
from shared.store.audit import AuditEntry, Outcome
from shared.store.links import Link

ADOPTED_ACTION = "adopted"
_WORD = r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*"
_FIELD_NAME = re.compile(rf"(?:{_WORD}__)?{_WORD}(?:__c)?")
"""An Opportunity field API name: standard (`NextStep`), custom (`Old_Id__c`) or namespaced
(`ns__Referral_Id__c`). Nothing else reaches the SOQL text."""

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Adopted:
    opportunity_id: str
    referral_id: str
    written: tuple[str, ...]
    """Our anchor fields written on the opportunity (empty: they already held the right values)."""
    differing: tuple[str, ...]
    """Fields the two records disagree on: the first sync settles them (the newer record wins)."""


@dataclass(frozen=True)
class Skipped:
    opportunity_id: str
    value: str
    reason: str


@dataclass
class AdoptReport:
    source_field: str
    dry_run: bool
    scanned: int = 0
    linked: list[Adopted] = field(default_factory=list)
    already: list[Adopted] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.source_field,
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "linked": [
                vars(a) | {"written": list(a.written), "differing": list(a.differing)} for a in self.linked
            ],
            "already_linked": [a.opportunity_id for a in self.already],
            "skipped": [vars(s) for s in self.skipped],
        }


def check_field_name(name: str) -> str:
    """An API field name of Opportunity (custom, possibly namespaced), never our own Referral Id."""
    if len(name) > 120 or not _FIELD_NAME.fullmatch(name):
        raise ConfigError(
            f"--referral-id-field {name!r} is not a Salesforce field API name", provider="salesforce"
        )
    if name.lower() == f.REFERRAL_ID.lower():
        raise ConfigError(
            f"--referral-id-field is the field adopt writes ({f.REFERRAL_ID})", provider="salesforce"
        )
    return name


def adopt(
    settings: Settings,
    clients: OpsClients,
    *,
    referral_id_field: str,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> AdoptReport:
    """Link every opportunity whose `referral_id_field` holds a referral id (see the module docstring)."""
    source = check_field_name(referral_id_field)
    report = AdoptReport(source_field=source, dry_run=dry_run)
    policy = OwnerPolicy.from_settings(settings)
    holders = {
        str(row[f.REFERRAL_ID]).lower(): str(row["Id"])
        for row in clients.sf.query(
            f"SELECT Id, {f.REFERRAL_ID} FROM Opportunity WHERE {f.REFERRAL_ID} != null"  # noqa: S608 - constant names
        )
    }
    rows = clients.sf.query(
        f"SELECT Id, {source} FROM Opportunity WHERE {source} != null ORDER BY Id"  # noqa: S608 - name checked above
    )
    for row in rows:
        report.scanned += 1
        _adopt_one(
            settings, clients, policy=policy, report=report, holders=holders,
            opportunity_id=str(row["Id"]), referral_id=str(row[source]).strip(),
        )  # fmt: skip
        if progress is not None:
            progress(1)
    return report


def _adopt_one(
    settings: Settings,
    clients: OpsClients,
    *,
    policy: OwnerPolicy,
    report: AdoptReport,
    holders: dict[str, str],
    opportunity_id: str,
    referral_id: str,
) -> None:
    found = _readable_pair(settings, clients, holders, opportunity_id, referral_id)
    if isinstance(found, str):
        report.skipped.append(Skipped(opportunity_id, referral_id[:60], found))
        return
    link, referral, opp = found
    anchor = {
        f.REFERRAL_ID: referral.id or referral_id,
        f.REFERRAL_LINK: settings.pc_portal_referral_url.format(id=referral.id or referral_id),
        f.SYNC: True,
    }
    to_write = {k: v for k, v in anchor.items() if opp.get(k) != v}
    if link is not None and link.snapshot:
        report.already.append(Adopted(opportunity_id, referral_id, tuple(to_write), ()))
        if to_write and not report.dry_run:
            clients.sf.update_opportunity(opportunity_id, to_write)
        return
    plan = plan_pair(settings, policy, referral, {**opp, **anchor}, None, origin="salesforce")
    differing = tuple(sorted({*plan.result.to_salesforce, *plan.result.to_partner_center} - {"notes"}))
    report.linked.append(Adopted(opportunity_id, referral_id, tuple(to_write), differing))
    if report.dry_run:
        return
    seen_notes = tuple(SELLER_NOTE_PREFIX + n for n in new_seller_note_ids(opp, ()))
    new = Link(
        referral_id=referral_id,
        opportunity_id=opportunity_id,
        snapshot=dict(plan.snapshot),
        note_digests=seen_notes,
        last_outcome=Outcome.OK.value,
        pc_state=referral.to_wire(),
        etag=link.etag if link is not None else None,
    )
    try:
        links.save(settings, new)  # first: a crash before the anchor write leaves a link the sync completes
    except ConflictError:
        report.linked.pop()
        reason = "the link changed while adopting (a sync ran): run adopt again"
        report.skipped.append(Skipped(opportunity_id, referral_id[:60], reason))
        return
    if to_write:
        clients.sf.update_opportunity(opportunity_id, to_write)
    holders[referral_id.lower()] = opportunity_id
    _audit_adoption(settings, report, opportunity_id, referral_id, tuple(to_write), differing)


def _readable_pair(
    settings: Settings, clients: OpsClients, holders: dict[str, str], opportunity_id: str, referral_id: str
) -> str | tuple[Link | None, Referral, dict[str, Any]]:
    """The link (if any), referral and opportunity to adopt, or why this one is skipped."""
    if problem := referral_id_problem(referral_id):
        return problem
    holder = holders.get(referral_id.lower())
    if holder is not None and holder != opportunity_id:
        return f"opportunity {holder} already holds this referral id in {f.REFERRAL_ID}"
    link = links.get(settings, referral_id)
    if link is not None and link.opportunity_id not in (None, opportunity_id):
        return f"the referral is already linked to opportunity {link.opportunity_id}"
    try:
        referral = clients.pc.get_referral(referral_id)
    except PermanentError as exc:
        return f"Partner Center: {exc.message}"
    opp = clients.sf.get_opportunity(opportunity_id)
    if opp is None:
        return "the opportunity is gone"
    return link, referral, opp


def _audit_adoption(  # noqa: PLR0917 - one audit row's fields
    settings: Settings,
    report: AdoptReport,
    opportunity_id: str,
    referral_id: str,
    written: tuple[str, ...],
    differing: tuple[str, ...],
) -> None:
    audit.write(
        settings,
        AuditEntry(
            trace_id=uuid.uuid4().hex,
            action=ADOPTED_ACTION,
            outcome=Outcome.OK,
            record_kind="opportunity",
            record_id=opportunity_id,
            referral_id=referral_id,
            opportunity_id=opportunity_id,
            source=f"adopt --referral-id-field {report.source_field}",
            changed_fields=written,
            conflicts=differing,
        ),
    )
