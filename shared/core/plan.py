"""What one sync of a linked pair would do, computed from what was read (no I/O): the merge, the
problems that block it, and the exact JSON Patch for Partner Center. The engine executes a plan;
the dry run prints one, so both decide the same way by construction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any, Literal

from shared.config import Settings
from shared.core.canonical import CanonicalDeal
from shared.core.custom_mappings import CustomMappings, custom_mappings
from shared.core.mapping import deal_from_partner_center, deal_from_salesforce, partner_center_patch
from shared.core.mapping_partner_center import patch_for_paths
from shared.core.merge import MergeResult, OwnerPolicy, Side, merge
from shared.core.notes import NotesPlan, SellerNote, plan_notes
from shared.core.poll_window import parse_stamp
from shared.core.referral import Referral
from shared.core.validation import validate_update

Origin = Literal["salesforce", "partner_center"]


@dataclass(frozen=True)
class PairPlan:
    sf_deal: CanonicalDeal
    snapshot: Mapping[str, Any]
    on_hold: bool
    adopted_from: Side | None
    """Without a snapshot: the side whose record changed more recently, whose values won."""
    result: MergeResult
    problems: tuple[str, ...]
    """Refused changes and failed validations: when any, nothing is written (the record gets ✖)."""
    operations: tuple[dict[str, Any], ...]
    """The JSON Patch for Partner Center (empty when nothing goes there)."""
    notes: NotesPlan
    """Partner Center additions to attach in Salesforce, and seller notes appended to the referral."""
    notices: tuple[str, ...] = ()
    """What the audit line should also say, without blocking anything (e.g. `shared.sync.team_writes`)."""


def plan_pair(
    settings: Settings,
    policy: OwnerPolicy,
    referral: Referral,
    opp: Mapping[str, Any],
    snapshot: Mapping[str, Any] | None,
    *,
    origin: Origin,
    pending: Mapping[str, Mapping[str, Any]] | None = None,
    seller_notes: Sequence[SellerNote] = (),
) -> PairPlan:
    """`seller_notes` are the opportunity's notes not yet appended to the referral (read by the
    caller: their text is not on the opportunity record)."""
    assert referral.id
    ids = {"referral_id": referral.id, "opportunity_id": str(opp["Id"])}
    sf_deal = deal_from_salesforce(opp, settings)
    sf_values = {**sf_deal.comparable(), **ids}
    pc_values = {**deal_from_partner_center(referral.to_wire()).comparable(), **ids}
    adopted_from: Side | None = None
    if not snapshot:
        adopted_from = newer_side(opp, referral, origin=origin)
        snapshot = adoption_base(sf_values, pc_values, origin=adopted_from)
        snapshot["notes"] = pc_values.get("notes")  # no base to tell additions from: none is re-sent
    elif pending:
        snapshot = base_after_interrupted_sync(snapshot, pending, sf_values, pc_values)
    on_hold = (
        opp.get("StageName") == settings.on_hold_stage_name
        and sf_values.get("status") == "New"
        and referral.direction != "Outgoing"
    )
    notes = plan_notes(pc_values.get("notes"), snapshot.get("notes"), () if on_hold else seller_notes)
    # Notes are not a field to merge (see shared.core.notes): every side holds the same text here.
    sf_values["notes"] = pc_values["notes"] = snapshot.get("notes")
    merged = merge(sf_values, pc_values, snapshot, policy, push_to_partner_center=not on_hold)
    custom = custom_mappings(settings)
    result = _with_custom(_with_notes(merged, notes), custom, opp, referral, snapshot, push=not on_hold)
    problems = list(result.rejected)
    operations: list[dict[str, Any]] = []
    if result.to_partner_center:
        problems += validate_update(CanonicalDeal.from_comparable(dict(snapshot)), sf_deal)
        if not problems:
            wire = referral.to_wire()
            operations = partner_center_patch(result.to_partner_center, wire)
            operations += patch_for_paths(wire, custom.partner_center_values(result.to_partner_center))
    return PairPlan(
        sf_deal, snapshot, on_hold, adopted_from, result, tuple(problems), tuple(operations), notes
    )


def _with_custom(
    result: MergeResult,
    custom: CustomMappings,
    opp: Mapping[str, Any],
    referral: Referral,
    snapshot: Mapping[str, Any],
    *,
    push: bool,
) -> MergeResult:
    """The custom mappings' merge units (`x:<name>`) added to the standard ones."""
    if not custom.mappings:
        return result
    sf, pc = custom.from_salesforce(opp), custom.from_partner_center(referral.to_wire())
    to_sf, to_pc, merged = custom.merge(sf, pc, snapshot, push_to_partner_center=push)
    return replace(
        result,
        to_salesforce={**result.to_salesforce, **to_sf},
        to_partner_center={**result.to_partner_center, **to_pc},
        merged={**result.merged, **merged},
    )


def _with_notes(result: MergeResult, notes: NotesPlan) -> MergeResult:
    to_partner_center = dict(result.to_partner_center)
    if notes.to_partner_center is not None:
        to_partner_center["notes"] = notes.to_partner_center
    return replace(result, to_partner_center=to_partner_center, merged={**result.merged, "notes": notes.text})


def newer_side(opp: Mapping[str, Any], referral: Referral, *, origin: Origin) -> Side:
    """Which record changed more recently, by each side's own modification time (Salesforce's
    SystemModstamp, Partner Center's updatedDateTime); the job's origin when either is unknown.
    With no snapshot there is no base to tell who changed a field, so the newer record's values are
    the ones a person saw last."""
    stamp = opp.get("SystemModstamp")
    updated = referral.updated_date_time
    if not stamp or updated is None:
        return origin
    sf_time = parse_stamp(str(stamp))
    pc_time = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
    if sf_time == pc_time:
        return origin
    return "salesforce" if sf_time > pc_time else "partner_center"


def adoption_base(
    sf_values: Mapping[str, Any], pc_values: Mapping[str, Any], *, origin: Origin
) -> dict[str, Any]:
    """The merge base for a pair with no snapshot yet (adopted after a crash, or linked by a job that
    never finished, or link state lost): the `origin` side (the newer record, `newer_side`) is the
    one that "changed", so its values win without being reported as conflicts, except that an empty
    value never wipes one the other side holds (a referral without a close date must not clear the
    opportunity's required CloseDate)."""
    origin_values, other = (sf_values, pc_values) if origin == "salesforce" else (pc_values, sf_values)
    return {
        key: origin_values.get(key) if _empty(origin_values.get(key)) else other.get(key)
        for key in {*origin_values, *other}
    }


def base_after_interrupted_sync(
    snapshot: Mapping[str, Any],
    pending: Mapping[str, Mapping[str, Any]],
    sf_values: Mapping[str, Any],
    pc_values: Mapping[str, Any],
) -> dict[str, Any]:
    """The merge base when a sync died between its writes and its snapshot save (`pending` holds what
    it was writing). A side that holds the value written to it got that write: its value is our
    echo, not an edit, so the written value is the base there. Otherwise the old snapshot stays the
    base, so a write that never landed is still pending and an edit made since still counts."""
    base = dict(snapshot)
    sides = ((sf_values, pending.get("salesforce") or {}), (pc_values, pending.get("partner_center") or {}))
    for values, writes in sides:
        for key, value in writes.items():
            if values.get(key) == value:
                base[key] = value
    return base


def _empty(value: Any) -> bool:
    return value is None or value in ([], "")
