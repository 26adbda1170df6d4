"""Salesforce stage <-> Partner Center status/substatus.

| Salesforce stage                          | Partner Center                                   |
|-------------------------------------------|--------------------------------------------------|
| on-hold stage                             | New/Pending (or New/Received): not yet accepted  |
| active stage, or any other open stage     | Active/Accepted                                  |
| won stage (or any closed-and-won stage)   | Closed/Won                                       |
| lost stage (or any closed-not-won stage)  | Closed/Lost; Closed/Declined when it leaves on-hold |

A stage alone does not say everything (Received vs Pending, Declined vs Lost, Expired), so reading a
stage takes the referral's previous status: Salesforce keeps it in `Referral_Status__c` as
"Status/Substatus". A referral never moves back out of Closed or from Active to New, so an open stage
after Active keeps Active/Accepted, whatever the stage is called.
"""

from __future__ import annotations

from typing import Final

from shared.config import Settings

NEW: Final = "New"
ACTIVE: Final = "Active"
CLOSED: Final = "Closed"
PENDING: Final = "Pending"
RECEIVED: Final = "Received"
ACCEPTED: Final = "Accepted"
WON: Final = "Won"
LOST: Final = "Lost"
DECLINED: Final = "Declined"
EXPIRED: Final = "Expired"

VALID_STATUSES: Final[dict[str, tuple[str, ...]]] = {
    NEW: (PENDING, RECEIVED),
    ACTIVE: (ACCEPTED,),
    CLOSED: (WON, LOST, DECLINED, EXPIRED),
}
"""Partner Center's status -> the substatuses allowed with it."""

Status = tuple[str, str]


def format_referral_status(status: str | None, substatus: str | None) -> str | None:
    """The text Salesforce's `Referral_Status__c` holds: "Active/Accepted"."""
    if not status:
        return None
    return f"{status}/{substatus or 'None'}"


def parse_referral_status(text: str | None) -> Status | None:
    """Inverse of `format_referral_status`; None for empty text."""
    if not text or not text.strip():
        return None
    status, _, substatus = text.strip().partition("/")
    return status.strip(), (substatus.strip() or "None")


def _is_new(status: str | None) -> bool:
    return status in (None, "", "None", NEW)


def stage_for_status(
    status: str | None, substatus: str | None, settings: Settings, *, received: bool = True
) -> str | None:
    """The Salesforce stage that represents a Partner Center status; None for a status this code
    does not know (Partner Center adds values without notice: the stage is then left alone).

    Only a referral *received* (from Microsoft) waits in the on-hold stage while it is new, as in the
    original connector; a new referral the partner created takes the active stage."""
    if _is_new(status):
        return settings.on_hold_stage_name if received else settings.active_stage_name
    if status == ACTIVE:
        return settings.active_stage_name
    if status == CLOSED:
        return settings.won_stage_name if substatus == WON else settings.lost_stage_name
    return None


def is_known_status(status: str | None) -> bool:
    return _is_new(status) or status in VALID_STATUSES


def status_for_stage(
    stage: str | None,
    settings: Settings,
    *,
    previous_status: str | None,
    previous_substatus: str | None,
    is_closed: bool | None = None,
    is_won: bool | None = None,
) -> Status | None:
    """The Partner Center status a Salesforce stage means, given the referral's previous status.

    `is_closed`/`is_won` (the opportunity's own flags) classify closed stages beyond the configured
    won/lost names. None when there is no stage to read.
    """
    if not stage:
        return None
    previous = (previous_status, previous_substatus or "None") if previous_status else None
    kind = _stage_kind(stage, settings, is_closed=is_closed, is_won=is_won)
    if kind == WON:
        return CLOSED, WON
    if kind == LOST:
        return _lost_status(previous)
    if kind == NEW and (previous is None or _is_new(previous[0])):
        return NEW, previous[1] if previous and previous[1] in VALID_STATUSES[NEW] else PENDING
    # Active, another open stage, or on-hold after acceptance (a referral cannot go back to New).
    # From Closed this is a reopen attempt; the merge refuses to push it.
    return ACTIVE, ACCEPTED


def _stage_kind(stage: str, settings: Settings, *, is_closed: bool | None, is_won: bool | None) -> str:
    """WON, LOST, NEW (on-hold) or ACTIVE (any other open stage)."""
    if stage == settings.won_stage_name:
        return WON
    if stage == settings.lost_stage_name:
        return LOST
    if is_closed:
        return WON if is_won else LOST
    return NEW if stage == settings.on_hold_stage_name else ACTIVE


def _lost_status(previous: Status | None) -> Status:
    if previous and previous[0] == CLOSED and previous[1] in (LOST, DECLINED, EXPIRED):
        return previous
    if previous and _is_new(previous[0]):
        return CLOSED, DECLINED  # closing a referral nobody accepted declines it
    return CLOSED, LOST


def stage_matches_status(stage: str | None, status: str, substatus: str, settings: Settings) -> bool:
    """True when `stage` already represents `status/substatus`, so the stage need not be written
    (an opportunity in "Needs Analysis" is already Active/Accepted). The on-hold stage represents only
    a referral not yet accepted: once Partner Center says Active, the opportunity leaves on-hold."""
    if not stage:
        return False
    if stage == settings.on_hold_stage_name:
        return _is_new(status)
    current = status_for_stage(stage, settings, previous_status=status, previous_substatus=substatus)
    return current == (status, substatus)
