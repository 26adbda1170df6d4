"""The partner team both ways (pure): the opportunity owner and its Opportunity Team members in
Salesforce <-> the referral's `team` in Partner Center, matched by lower-cased email.

Partner Center shows a referral to a Referrals *user* only when its `team` includes them (spec
partner-center §1.2), so the people working the deal in Salesforce go to the referral's team. Back
the other way, a person added in Partner Center joins the Opportunity Team when Salesforce has an
active User with that email; nobody is invented.

Only members that can exist on both sides take part in the merge (`split_partner_center_team`): a
Partner Center member without an email, or whose email belongs to no active Salesforce user (or
any member but the owner when the org has Opportunity Teams off), stays in Partner Center only.
It is left out of the canonical value, kept in every team Partner Center is sent
(`keep_partner_center_only`), and reported once, on the sync that first sees it
(`TeamSplit.unmatched_new`). So such a member never makes the two sides differ, and never causes a
write on a later poll.

The integration user (`SF_USERNAME`) owns the opportunities the connector creates; it is not a
seller and never joins a partner team.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, field_validator

TEAM_FIELD: Final = "partner_team"
"""The canonical field (a `SYNCED_FIELDS` key)."""
TEAM_RELATIONSHIP: Final = "OpportunityTeamMembers"
TEAM_OBJECT: Final = "OpportunityTeamMember"
ACCESS_LEVEL: Final = "Read"

WIRE_KEYS: Final = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phoneNumber",
}
_USER_KEYS: Final = {"first_name": "FirstName", "last_name": "LastName", "email": "Email", "phone": "Phone"}


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def email_of(value: object) -> str | None:
    """A member's matching key: the lower-cased email, None without one."""
    text = _clean(value)
    return text.lower() if text else None


class TeamMember(BaseModel):
    """One person on the partner team, identified by lower-cased email."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: object) -> str:
        email = email_of(value)
        if email is None:
            raise ValueError("a partner team member needs an email")
        return email

    @field_validator("first_name", "last_name", "phone", mode="before")
    @classmethod
    def _text(cls, value: object) -> str | None:
        return _clean(value)


def normalise_team(members: Iterable[TeamMember]) -> tuple[TeamMember, ...]:
    """One member per email (the first kept), sorted by email: the merge then compares sets."""
    by_email: dict[str, TeamMember] = {}
    for member in members:
        by_email.setdefault(member.email, member)
    return tuple(by_email[key] for key in sorted(by_email))


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [m for m in value if isinstance(m, Mapping)] if isinstance(value, list) else []


def _member(record: Mapping[str, Any], keys: Mapping[str, str]) -> TeamMember | None:
    if email_of(record.get(keys["email"])) is None:
        return None
    return TeamMember(**{key: record.get(wire) for key, wire in keys.items()})


# --- Partner Center --------------------------------------------------------------------------------


def team_from_partner_center(team: object) -> tuple[TeamMember, ...]:
    """The referral's `team` (members without an email cannot be matched and are left out)."""
    return normalise_team(m for m in (_member(r, WIRE_KEYS) for r in _mappings(team)) if m is not None)


def team_wire(
    members: Iterable[Mapping[str, Any] | TeamMember], existing: object = None
) -> list[dict[str, Any]]:
    """The referral's `team` for these members; keys we do not map (title, contactPreference) of an
    existing member with the same email survive."""
    by_email = {email_of(m.get("email")): m for m in _mappings(existing)}
    out = []
    for item in members:
        member = item if isinstance(item, TeamMember) else TeamMember(**item)
        base = {k: v for k, v in (by_email.get(member.email) or {}).items() if k not in WIRE_KEYS.values()}
        wire = {wire: getattr(member, key) for key, wire in WIRE_KEYS.items()}
        out.append({**base, **{k: v for k, v in wire.items() if v is not None}})
    return out


# --- Salesforce ------------------------------------------------------------------------------------


def _children(opp: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    result = opp.get(relationship)
    if not isinstance(result, Mapping):
        return []
    return _mappings(result.get("records"))


def is_integration_user(user: Mapping[str, Any], integration_username: str) -> bool:
    username = _clean(user.get("Username"))
    return bool(
        username and integration_username and username.lower() == integration_username.strip().lower()
    )


def team_from_salesforce(opp: Mapping[str, Any], integration_username: str = "") -> tuple[TeamMember, ...]:
    """The owner (unless it is the integration user) and the Opportunity Team members' users."""
    users: list[Mapping[str, Any]] = []
    owner = opp.get("Owner")
    if isinstance(owner, Mapping) and not is_integration_user(owner, integration_username):
        users.append(owner)
    for row in _children(opp, TEAM_RELATIONSHIP):
        user = row.get("User")
        if isinstance(user, Mapping) and not is_integration_user(user, integration_username):
            users.append(user)
    return normalise_team(m for m in (_member(u, _USER_KEYS) for u in users) if m is not None)


@dataclass(frozen=True)
class TeamRow:
    """One OpportunityTeamMember of the opportunity as read."""

    record_id: str
    user_id: str
    email: str | None


def owner_email(opp: Mapping[str, Any]) -> str | None:
    owner = opp.get("Owner")
    return email_of(owner.get("Email")) if isinstance(owner, Mapping) else None


def team_rows(opp: Mapping[str, Any]) -> list[TeamRow]:
    rows = []
    for row in _children(opp, TEAM_RELATIONSHIP):
        user = row.get("User")
        email = email_of(user.get("Email")) if isinstance(user, Mapping) else None
        rows.append(TeamRow(str(row.get("Id") or ""), str(row.get("UserId") or ""), email))
    return rows


@dataclass(frozen=True)
class TeamChanges:
    """What to write to the Opportunity Team for a wanted partner team."""

    add: tuple[str, ...]
    """Emails to add (each needs an active User)."""
    delete: tuple[str, ...]
    """OpportunityTeamMember ids to delete (never the owner: the owner is no team row)."""


def team_changes(opp: Mapping[str, Any], wanted: Iterable[Mapping[str, Any] | TeamMember]) -> TeamChanges:
    """The Opportunity Team writes that make the opportunity hold `wanted` (owner included)."""
    want = {(m if isinstance(m, TeamMember) else TeamMember(**m)).email for m in wanted}
    rows = team_rows(opp)
    have = {row.email for row in rows if row.email}
    owner = owner_email(opp)
    add = tuple(sorted(email for email in want if email not in have and email != owner))
    delete = tuple(row.record_id for row in rows if row.record_id and row.email and row.email not in want)
    return TeamChanges(add, delete)


# --- the merge's view of Partner Center's team --------------------------------------------------------


@dataclass(frozen=True)
class TeamSplit:
    """Partner Center's team split into what the merge compares and what stays in Partner Center."""

    shared: tuple[dict[str, Any], ...]
    """Wire members the merge compares (their email is on the Salesforce side or an active user's)."""
    unmatched: frozenset[str]
    """Emails that cannot be on the Salesforce side (no active user, or teams off)."""
    unmatched_new: tuple[str, ...]
    """Unmatched emails not in the team Partner Center held at the last sync: reported once."""


def emails_to_look_up(pc_team: object, salesforce_team: Iterable[TeamMember]) -> list[str]:
    """Partner Center members' emails not on the Salesforce side: those may be users to add."""
    on_salesforce = {m.email for m in salesforce_team}
    emails = {email_of(m.get("email")) for m in _mappings(pc_team)}
    return sorted(e for e in emails if e and e not in on_salesforce)


def split_partner_center_team(
    pc_team: object,
    salesforce_team: Iterable[TeamMember],
    active_users: Iterable[str],
    previous_pc_team: object = None,
) -> TeamSplit:
    """`active_users`: lower-cased emails of active Salesforce users among `emails_to_look_up` (empty
    when the org has Opportunity Teams off). `previous_pc_team`: the team at the last sync (None:
    unknown, so nothing is reported as new). A new unmatched member takes part in the merge this
    once, so the sync writes its audit line saying it could not be added."""
    on_salesforce = {m.email for m in salesforce_team}
    users = {e.lower() for e in active_users}
    before = (
        None if previous_pc_team is None else {email_of(m.get("email")) for m in _mappings(previous_pc_team)}
    )
    shared, unmatched, new = [], set(), []
    for member in _mappings(pc_team):
        email = email_of(member.get("email"))
        if email is None:
            continue
        if email in on_salesforce or email in users:
            shared.append(dict(member))
            continue
        unmatched.add(email)
        if before is not None and email not in before:
            new.append(email)
            shared.append(dict(member))
    return TeamSplit(tuple(shared), frozenset(unmatched), tuple(sorted(set(new))))


def keep_partner_center_only(
    sent: list[dict[str, Any]], pc_team: object, unmatched: frozenset[str]
) -> list[dict[str, Any]]:
    """A team about to be sent to Partner Center, with the members only Partner Center can hold
    (no email, or unmatched) that it holds now appended: the connector never removes them."""
    sent_emails = {email_of(m.get("email")) for m in sent}
    kept = [
        dict(m)
        for m in _mappings(pc_team)
        if (email_of(m.get("email")) is None or email_of(m.get("email")) in unmatched)
        and (email_of(m.get("email")) is None or email_of(m.get("email")) not in sent_emails)
    ]
    return [*sent, *kept]


def without_unmatched(values: object, unmatched: frozenset[str]) -> list[Any]:
    """A canonical team value (list of member dicts) without the unmatched emails: what both sides
    hold after the sync, so the snapshot never claims Salesforce has them."""
    return [m for m in _mappings(values) if email_of(m.get("email")) not in unmatched]


def unmatched_notice(emails: Iterable[str], *, teams_enabled: bool) -> str:
    listed = ", ".join(emails)
    if not listed:
        return ""
    why = "no active Salesforce user has that email" if teams_enabled else "Opportunity Teams are off"
    return f"partner team: {listed} not added in Salesforce ({why})"
