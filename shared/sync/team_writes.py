"""The partner team in the engine (see `shared.core.partner_team`): what the merge may compare of
Partner Center's team (one User query, only when Partner Center holds someone the Salesforce side
does not), and the Opportunity Team writes for a team that changed in Partner Center.

With Opportunity Teams off in the org only the owner is sent and nothing is written to teams. The
owner is never removed (it is no team row); people are only ever matched to existing active Users.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from shared.config import Settings
from shared.core.partner_team import (
    ACCESS_LEVEL,
    TEAM_FIELD,
    TeamMember,
    TeamSplit,
    emails_to_look_up,
    keep_partner_center_only,
    split_partner_center_team,
    team_changes,
    team_from_salesforce,
    unmatched_notice,
    without_unmatched,
)
from shared.core.plan import PairPlan
from shared.core.referral import Member, Referral

log = logging.getLogger(__name__)


@runtime_checkable
class TeamPort(Protocol):
    """The Salesforce side's team methods (`SalesforceClient`, the engine tier's fake)."""

    def opportunity_teams_enabled(self) -> bool: ...
    def active_users_by_email(self, emails: list[str]) -> dict[str, str]: ...
    def add_team_member(
        self, opportunity_id: str, user_id: str, role: str, access_level: str = "Read"
    ) -> str: ...
    def delete_team_member(self, record_id: str) -> None: ...


def teams_enabled(sf: object) -> bool:
    return isinstance(sf, TeamPort) and sf.opportunity_teams_enabled()


@dataclass(frozen=True)
class TeamView:
    """Partner Center's team as the merge sees it for one sync."""

    referral: Referral
    """The referral with only the members the merge compares."""
    pc_team: tuple[dict[str, Any], ...]
    """The team Partner Center holds (all of it)."""
    split: TeamSplit
    teams_enabled: bool

    def finish(self, plan: PairPlan) -> PairPlan:
        """The plan with Partner-Center-only members kept in any team sent there, a snapshot that
        holds only members both sides have, and the unmatched newcomers reported."""
        unmatched = self.split.unmatched
        operations = tuple(
            {**op, "value": keep_partner_center_only(list(op["value"]), list(self.pc_team), unmatched)}
            if op.get("path") == "/team" and isinstance(op.get("value"), list)
            else op
            for op in plan.operations
        )
        result = plan.result
        if TEAM_FIELD in result.merged and unmatched:
            merged = {**result.merged, TEAM_FIELD: without_unmatched(result.merged[TEAM_FIELD], unmatched)}
            result = replace(result, merged=merged)
        notice = unmatched_notice(self.split.unmatched_new, teams_enabled=self.teams_enabled)
        notices = (*plan.notices, notice) if notice else plan.notices
        return replace(plan, operations=operations, result=result, notices=notices)


def partner_team_view(
    sf: object,
    settings: Settings,
    referral: Referral,
    opp: Mapping[str, Any],
    previous_pc_state: Mapping[str, Any] | None,
) -> TeamView:
    """Split Partner Center's team: members on the Salesforce side or with an active User there
    take part in the merge; the others stay in Partner Center only (looked up in one query, only
    when there are any and the org has Opportunity Teams)."""
    pc_team = tuple(m.to_wire() for m in referral.team)
    enabled = teams_enabled(sf)
    salesforce_team = team_from_salesforce(opp, settings.sf_username)
    emails = emails_to_look_up(list(pc_team), salesforce_team)
    users: dict[str, str] = {}
    if emails and enabled and isinstance(sf, TeamPort):
        users = sf.active_users_by_email(emails)
    previous = previous_pc_state.get("team") if previous_pc_state is not None else None
    split = split_partner_center_team(list(pc_team), salesforce_team, users, previous)
    if len(split.shared) != len(pc_team):
        referral = referral.model_copy(update={"team": [Member.model_validate(m) for m in split.shared]})
    return TeamView(referral, pc_team, split, enabled)


def sync_partner_team(
    sf: object, opp: Mapping[str, Any], wanted: Sequence[Mapping[str, Any]], settings: Settings
) -> list[str]:
    """Make the Opportunity Team hold `wanted` (besides the owner): add the active User of each new
    email, delete the rows of people no longer wanted. Returns what could not be done (for the audit
    line); with Opportunity Teams off, nothing is written."""
    if not teams_enabled(sf) or not isinstance(sf, TeamPort):
        return []
    changes = team_changes(opp, [TeamMember(**m) for m in wanted])
    opportunity_id = str(opp["Id"])
    users = sf.active_users_by_email(list(changes.add)) if changes.add else {}
    missing = [email for email in changes.add if email not in users]
    for email in changes.add:
        if email in users:
            sf.add_team_member(opportunity_id, users[email], settings.partner_team_role, ACCESS_LEVEL)
    for record_id in changes.delete:
        sf.delete_team_member(record_id)
    if missing:
        log.info("partner team of %s: no active Salesforce user for %s", opportunity_id, ", ".join(missing))
    return missing


def add_team_after_create(
    sf: object, opportunity_id: str, team: Sequence[TeamMember], settings: Settings
) -> list[dict[str, Any]]:
    """A new opportunity's team from the referral's: the members with an active User join the
    Opportunity Team. Returns the members both sides now hold (the snapshot's value)."""
    if not team or not teams_enabled(sf) or not isinstance(sf, TeamPort):
        return []
    users = sf.active_users_by_email([m.email for m in team])
    held = []
    for member in team:
        if member.email in users:
            sf.add_team_member(opportunity_id, users[member.email], settings.partner_team_role, ACCESS_LEVEL)
            held.append(member.model_dump())
    return held
