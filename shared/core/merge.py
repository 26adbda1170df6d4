"""Three-way merge of Salesforce, Partner Center and the last synced snapshot (pure).

Per field (values from `CanonicalDeal.comparable()`):

- both sides equal -> nothing to write (also when both made the same change);
- only one side differs from the snapshot -> that side changed: copy it to the other side;
- both differ from the snapshot, differently -> a conflict: the field's owner wins, and it is recorded;
- no snapshot (first link) -> where one side is empty the other fills it, otherwise the owner wins.
  No conflict is recorded at first link: there is no earlier agreement to conflict with.

Fields with a direction:
- `notes`, `microsoft_crm_id`, `referral_id` flow only Partner Center -> Salesforce; a Salesforce edit
  of them is left alone (neither pushed nor reverted). `opportunity_id` flows only the other way.
- `visible` only ever becomes true. A side that went back to false is refused (reported in
  `rejected`), not pushed and not reverted, so the seller sees ✖ with the reason.
- `status`/`substatus` merge as one unit. A closed referral is never reopened from Salesforce
  (refused like visibility). When a Salesforce stage change is pushed, the status is also written back
  to Salesforce so its recorded Partner Center status (`Referral_Status__c`) follows.
- With `push_to_partner_center=False` (the opportunity sits in the on-hold stage) nothing goes to
  Partner Center and the snapshot keeps Partner Center's value, so those edits are pushed once the
  opportunity leaves on-hold; Partner Center -> Salesforce still flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from shared.config import Settings
from shared.core.canonical import SYNCED_FIELDS
from shared.core.stages import CLOSED
from shared.errors import ConfigError

Side = Literal["salesforce", "partner_center"]
SALESFORCE: Final[Side] = "salesforce"
PARTNER_CENTER: Final[Side] = "partner_center"

STATUS_UNIT: Final = ("status", "substatus")
PARTNER_CENTER_TO_SALESFORCE_ONLY: Final = frozenset({"notes", "microsoft_crm_id", "referral_id"})
SALESFORCE_TO_PARTNER_CENTER_ONLY: Final = frozenset({"opportunity_id"})
_FIXED_OWNERS: Final[dict[str, Side]] = {
    **dict.fromkeys(PARTNER_CENTER_TO_SALESFORCE_ONLY, PARTNER_CENTER),
    **dict.fromkeys(SALESFORCE_TO_PARTNER_CENTER_ONLY, SALESFORCE),
}
DEFAULT_OWNERS: Final[dict[str, Side]] = {
    **dict.fromkeys(SYNCED_FIELDS, SALESFORCE),
    "status": PARTNER_CENTER,
    "substatus": PARTNER_CENTER,
    **_FIXED_OWNERS,
}


class OwnerPolicyError(ConfigError, ValueError):
    """`CONFLICT_OWNER_OVERRIDES` names an unknown field or side, or a field whose direction is fixed."""


@dataclass(frozen=True)
class Conflict:
    """Both sides changed `field` differently since the snapshot; `winner`'s value was kept.

    For the status unit `field` is "status" and the values are [status, substatus] lists."""

    field: str
    salesforce: Any
    partner_center: Any
    snapshot: Any
    winner: Side


@dataclass(frozen=True)
class MergeResult:
    """What to write where. `merged` is the new snapshot once both writes have landed."""

    to_salesforce: dict[str, Any]
    to_partner_center: dict[str, Any]
    conflicts: tuple[Conflict, ...]
    merged: dict[str, Any]
    rejected: tuple[str, ...] = ()
    """Changes refused by a rule (one reason each): not written anywhere; worth a ✖."""

    @property
    def writes_nothing(self) -> bool:
        """True when neither side needs a write (an echo of our own write, or nothing changed)."""
        return not self.to_salesforce and not self.to_partner_center


@dataclass(frozen=True)
class OwnerPolicy:
    """Which side wins a conflict, per field. Status/substatus are one unit and share an owner."""

    owners: Mapping[str, Side] = field(default_factory=lambda: dict(DEFAULT_OWNERS))

    @classmethod
    def from_settings(cls, settings: Settings) -> OwnerPolicy:
        """The policy `CONFLICT_OWNER_OVERRIDES` configures; build it at start so a typo fails early."""
        return cls.parse(settings.conflict_owner_overrides)

    @classmethod
    def parse(cls, overrides: str) -> OwnerPolicy:
        """Defaults with "field=side,field=side" overrides applied; raises `OwnerPolicyError`."""
        owners = dict(DEFAULT_OWNERS)
        for item in (part.strip() for part in overrides.split(",")):
            if not item:
                continue
            name, sep, side = (text.strip() for text in item.partition("="))
            if not sep:
                raise OwnerPolicyError(f"conflict owner override {item!r} is not field=side")
            if name not in DEFAULT_OWNERS:
                raise OwnerPolicyError(
                    f"conflict owner override names unknown field {name!r}; "
                    f"fields: {', '.join(SYNCED_FIELDS)}"
                )
            if side not in (SALESFORCE, PARTNER_CENTER):
                raise OwnerPolicyError(
                    f"conflict owner override for {name!r} names unknown side {side!r}; "
                    f"sides: {SALESFORCE}, {PARTNER_CENTER}"
                )
            if name in _FIXED_OWNERS and side != _FIXED_OWNERS[name]:
                raise OwnerPolicyError(f"{name!r} only flows from {_FIXED_OWNERS[name]}; its owner is fixed")
            winner: Side = SALESFORCE if side == SALESFORCE else PARTNER_CENTER
            for unit_field in STATUS_UNIT if name in STATUS_UNIT else (name,):
                owners[unit_field] = winner
        return cls(owners)

    def owner(self, field_name: str) -> Side:
        """The side whose value wins when both changed `field_name` (a `SYNCED_FIELDS` key)."""
        return self.owners[field_name]


def _units() -> list[tuple[str, ...]]:
    units: list[tuple[str, ...]] = []
    for name in SYNCED_FIELDS:
        if name == "substatus":
            continue
        units.append(STATUS_UNIT if name == "status" else (name,))
    return units


_UNITS: Final = _units()


def _is_empty(value: tuple[Any, ...]) -> bool:
    return all(v is None or v in ([], "") for v in value)


@dataclass(frozen=True)
class _Unit:
    """One merge unit (a field, or status+substatus) with its three values."""

    names: tuple[str, ...]
    sf: tuple[Any, ...]
    pc: tuple[Any, ...]
    snap: tuple[Any, ...] | None

    @property
    def name(self) -> str:
        return self.names[0]


@dataclass
class _Outcome:
    to_salesforce: dict[str, Any] = field(default_factory=dict)
    to_partner_center: dict[str, Any] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    merged: dict[str, Any] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)

    def keep(self, unit: _Unit, value: tuple[Any, ...]) -> None:
        self.merged.update(zip(unit.names, value, strict=True))

    def write(self, target: Side, unit: _Unit, value: tuple[Any, ...]) -> None:
        writes = self.to_salesforce if target == SALESFORCE else self.to_partner_center
        writes.update(zip(unit.names, value, strict=True))


def merge(
    salesforce: Mapping[str, Any],
    partner_center: Mapping[str, Any],
    snapshot: Mapping[str, Any] | None,
    policy: OwnerPolicy,
    *,
    push_to_partner_center: bool = True,
) -> MergeResult:
    """Decide, per synced field, what each side must receive (see the module docstring)."""
    out = _Outcome()
    for names in _UNITS:
        known = snapshot is not None and all(n in snapshot for n in names)
        unit = _Unit(
            names=names,
            sf=tuple(salesforce.get(n) for n in names),
            pc=tuple(partner_center.get(n) for n in names),
            snap=tuple(snapshot.get(n) for n in names) if snapshot is not None and known else None,
        )
        if unit.sf == unit.pc:
            out.keep(unit, unit.sf)
        elif unit.name == "visible":
            _merge_visible(out, unit, push=push_to_partner_center)
        else:
            _apply(out, unit, _winner(out, unit, policy), push=push_to_partner_center)
    return MergeResult(
        to_salesforce=out.to_salesforce,
        to_partner_center=out.to_partner_center,
        conflicts=tuple(out.conflicts),
        merged=out.merged,
        rejected=tuple(out.rejected),
    )


def _winner(out: _Outcome, unit: _Unit, policy: OwnerPolicy) -> Side:
    """The side whose value should stand (the values differ); records a conflict when both changed."""
    owner = policy.owner(unit.name)
    if unit.snap is None:
        return PARTNER_CENTER if _is_empty(unit.sf) else SALESFORCE if _is_empty(unit.pc) else owner
    if unit.sf == unit.snap:
        return PARTNER_CENTER
    if unit.pc == unit.snap:
        return SALESFORCE
    out.conflicts.append(
        Conflict(
            field=unit.name,
            salesforce=_one(unit.sf),
            partner_center=_one(unit.pc),
            snapshot=_one(unit.snap),
            winner=owner,
        )
    )
    return owner


def _apply(out: _Outcome, unit: _Unit, winner: Side, *, push: bool) -> None:
    if winner == PARTNER_CENTER:
        if unit.name in SALESFORCE_TO_PARTNER_CENTER_ONLY:
            out.keep(unit, unit.sf)
        else:
            out.keep(unit, unit.pc)
            out.write(SALESFORCE, unit, unit.pc)
        return
    reopens = unit.names == STATUS_UNIT and unit.pc[0] == CLOSED and unit.sf[0] != CLOSED
    if reopens:
        out.rejected.append(
            f"status: the referral is closed in Partner Center ({unit.pc[0]}/{unit.pc[1]}); "
            "reopening it in Salesforce is not synced"
        )
    # A Salesforce edit of a Partner-Center-only field is neither pushed nor reverted; with pushing
    # off (on-hold) the snapshot keeps Partner Center's value so the edit is pushed after on-hold.
    if reopens or unit.name in PARTNER_CENTER_TO_SALESFORCE_ONLY or not push:
        out.keep(unit, unit.pc)
        return
    out.keep(unit, unit.sf)
    out.write(PARTNER_CENTER, unit, unit.sf)
    if unit.names == STATUS_UNIT:
        # Salesforce derives status from stage + its recorded Partner Center status: keep that record current.
        out.write(SALESFORCE, unit, unit.sf)


def _merge_visible(out: _Outcome, unit: _Unit, *, push: bool) -> None:
    hidden_side: Side = SALESFORCE if not unit.sf[0] else PARTNER_CENTER
    if unit.snap is not None and unit.snap[0]:
        side_name = "Salesforce" if hidden_side == SALESFORCE else "Partner Center"
        out.rejected.append(
            f"visible: {side_name} hid a referral that is visible to Microsoft sellers; "
            "visibility cannot be reverted"
        )
        out.keep(unit, (True,))
    elif hidden_side == PARTNER_CENTER and not push:
        out.keep(unit, unit.pc)
    else:
        out.keep(unit, (True,))
        out.write(hidden_side, unit, (True,))


def _one(value: tuple[Any, ...]) -> Any:
    return value[0] if len(value) == 1 else list(value)
