"""In-memory fakes of the engine's three ports (`shared.sync.ports`): Partner Center, Salesforce
and the link store. They keep just enough state to answer as the real ones do (eTags, external-id
lookups, the opportunity's nested children, ETag-checked link saves) and record every write, so the
engine's decisions are tested in milliseconds. The Azurite + simulators tier checks the wire."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from devstack.pc_sim.patch import apply_patch
from shared.core import salesforce_fields as F
from shared.core.notes import SellerNote
from shared.core.referral import Referral
from shared.errors import ConflictError, PermanentError, TransientError
from shared.partner_center.referral_client import ReferralRequest
from shared.salesforce.new_opportunity import NewOpportunity
from shared.store.links import Link

BASE_URL = "https://api.partner.microsoft.com/v1.0/engagements/referrals"


class FakePartnerCenter:
    def __init__(self) -> None:
        self.referrals: dict[str, dict[str, Any]] = {}
        self.sent: list[ReferralRequest] = []
        self.reads = 0

    def add(self, wire: dict[str, Any]) -> str:
        referral_id = str(wire.get("id") or uuid.uuid4())
        self.referrals[referral_id] = {**copy.deepcopy(wire), "id": referral_id, "eTag": _etag()}
        return referral_id

    def edit(self, referral_id: str, operations: list[dict[str, Any]]) -> None:
        """Microsoft's (or a partner user's) own change in Partner Center."""
        self.referrals[referral_id] = {
            **apply_patch(self.referrals[referral_id], operations),
            "eTag": _etag(),
        }

    def get_referral(self, referral_id: str) -> Referral:
        self.reads += 1
        if referral_id not in self.referrals:
            raise PermanentError("referral not found", status=404, provider="partner-center")
        return Referral.model_validate(copy.deepcopy(self.referrals[referral_id]))

    def find_by_external_reference(self, external_reference_id: str) -> Referral | None:
        found = [r for r in self.referrals.values() if r.get("externalReferenceId") == external_reference_id]
        return Referral.model_validate(copy.deepcopy(found[0])) if found else None

    def related_referrals(self, engagement_id: str) -> list[Referral]:
        return [
            Referral.model_validate(r)
            for r in self.referrals.values()
            if r.get("engagementId") == engagement_id
        ]

    def create_request(self, referral: Referral | dict[str, Any]) -> ReferralRequest:
        body = referral.to_wire() if isinstance(referral, Referral) else referral
        return ReferralRequest("POST", BASE_URL, body, {"Content-Type": "application/json"})

    def update_request(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> ReferralRequest:
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if etag:
            headers["If-Match"] = etag
        return ReferralRequest(
            "PATCH", f"{BASE_URL}/{referral_id}", operations, headers, "/referrals/{id}", referral_id
        )

    def create_referral(self, referral: Referral | dict[str, Any]) -> Referral:
        request = self.create_request(referral)
        self.sent.append(request)
        # As the simulator does: a partner-created referral starts Active/Accepted.
        referral_id = self.add({"status": "Active", "substatus": "Accepted", **request.body})
        return self.get_referral(referral_id)

    def update_referral(
        self, referral_id: str, operations: list[dict[str, Any]], *, etag: str | None
    ) -> Referral:
        request = self.update_request(referral_id, operations, etag=etag)
        self.sent.append(request)
        if etag and etag != self.referrals[referral_id]["eTag"]:
            raise ConflictError("eTag no longer current", status=412, provider="partner-center")
        self.edit(referral_id, operations)
        return Referral.model_validate(copy.deepcopy(self.referrals[referral_id]))  # return=representation


@dataclass
class FakeSalesforce:
    """Opportunities with their account, contact roles, solutions and note titles, answered in the
    nested shape `SalesforceClient.get_opportunity` returns."""

    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    solutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per opportunity: its notes ({"Id", "Title", "Text", "CreatedDate", "Author"})."""
    recycle_bin: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Users by id ({"Id", "FirstName", "LastName", "Email", "Phone", "Username", "IsActive"})."""
    team_members: dict[str, dict[str, Any]] = field(default_factory=dict)
    """OpportunityTeamMembers by id ({"Id", "OpportunityId", "UserId", "TeamMemberRole", ...})."""
    teams_enabled: bool = True
    writes: list[tuple[str, str]] = field(default_factory=list)
    refuse_updates: str | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):012d}AAA"

    def add_opportunity(self, fields: dict[str, Any], account: dict[str, Any] | None = None) -> str:
        opportunity_id = self.new_id("006")
        account_id = self.find_or_create_account(account["Name"], account) if account else None
        self.opportunities[opportunity_id] = {"Id": opportunity_id, "AccountId": account_id, **fields}
        self._stamp(opportunity_id)
        return opportunity_id

    def edit(self, opportunity_id: str, fields: dict[str, Any]) -> None:
        """A seller's edit in Salesforce."""
        self.opportunities[opportunity_id].update(fields)
        self._stamp(opportunity_id)

    def _stamp(self, opportunity_id: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        self.opportunities[opportunity_id]["SystemModstamp"] = stamp

    def get_opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        opp = self.opportunities.get(opportunity_id)
        if opp is None:
            return None
        roles = [
            {**r, "Contact": self.contacts[r["ContactId"]]}
            for r in self.roles.values()
            if r["OpportunityId"] == opportunity_id
        ]
        solutions = [s for s in self.solutions.values() if s[F.SOLUTION_OPPORTUNITY] == opportunity_id]
        return copy.deepcopy({
            **opp,
            "Account": self.accounts.get(opp.get("AccountId") or ""),
            "OpportunityContactRoles": {"records": roles} if roles else None,
            F.SOLUTIONS_RELATIONSHIP: {"records": solutions} if solutions else None,
            "ContentDocumentLinks": self._note_links(opportunity_id),
            "Owner": self.users.get(opp.get("OwnerId") or ""),
            **self._team_of(opportunity_id),
        })  # fmt: skip

    # ---------------------------------------------------------------- the partner team
    def add_user(
        self,
        email: str,
        first_name: str = "Pat",
        last_name: str = "Seller",
        *,
        active: bool = True,
        **values: Any,
    ) -> str:
        user_id = self.new_id("005")
        self.users[user_id] = {
            "Id": user_id, "FirstName": first_name, "LastName": last_name, "Email": email,
            "Phone": None, "Username": email, "IsActive": active, **values,
        }  # fmt: skip
        return user_id

    def add_to_team(self, opportunity_id: str, user_id: str, role: str = "Sales Rep") -> str:
        """A seller adds someone to the Opportunity Team."""
        record_id = self.new_id("00q")
        self.team_members[record_id] = {
            "Id": record_id, "OpportunityId": opportunity_id, "UserId": user_id,
            "TeamMemberRole": role, "OpportunityAccessLevel": "Read",
        }  # fmt: skip
        return record_id

    def _team_of(self, opportunity_id: str) -> dict[str, Any]:
        if not self.teams_enabled:
            return {}
        rows = [
            {**row, "User": self.users[row["UserId"]]}
            for row in self.team_members.values()
            if row["OpportunityId"] == opportunity_id
        ]
        return {"OpportunityTeamMembers": {"records": rows} if rows else None}

    def opportunity_teams_enabled(self) -> bool:
        return self.teams_enabled

    def active_users_by_email(self, emails: list[str]) -> dict[str, str]:
        wanted = {e.lower() for e in emails}
        found: dict[str, str] = {}
        for user in self.users.values():
            email = str(user.get("Email") or "").lower()
            if user.get("IsActive") and email in wanted:
                found.setdefault(email, user["Id"])
        return found

    def add_team_member(
        self, opportunity_id: str, user_id: str, role: str, access_level: str = "Read"
    ) -> str:
        assert self.teams_enabled, "OpportunityTeamMember is not an object in this org"
        for row in self.team_members.values():
            if row["OpportunityId"] == opportunity_id and row["UserId"] == user_id:
                return str(row["Id"])
        record_id = self.add_to_team(opportunity_id, user_id, role)
        self.team_members[record_id]["OpportunityAccessLevel"] = access_level
        self.writes.append(("team_add", opportunity_id))
        return record_id

    def delete_team_member(self, record_id: str) -> None:
        row = self.team_members.pop(record_id)
        self.writes.append(("team_delete", row["OpportunityId"]))

    def delete(self, opportunity_id: str) -> None:
        """A seller deletes the opportunity (it goes to the recycle bin)."""
        self.recycle_bin[opportunity_id] = self.opportunities.pop(opportunity_id)

    def undelete(self, opportunity_id: str) -> None:
        self.opportunities[opportunity_id] = self.recycle_bin.pop(opportunity_id)
        self._stamp(opportunity_id)

    def find_deleted_opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        opp = self.recycle_bin.get(opportunity_id)
        return {**opp, "IsDeleted": True} if opp else None

    def get_opportunity_by_referral_id(self, referral_id: str) -> dict[str, Any] | None:
        found = [i for i, o in self.opportunities.items() if o.get(F.REFERRAL_ID) == referral_id]
        return self.get_opportunity(found[0]) if found else None

    def update_opportunity(self, opportunity_id: str, fields: dict[str, Any]) -> None:
        if self.refuse_updates:
            raise PermanentError(self.refuse_updates, status=400, provider="salesforce")
        self.writes.append(("update", opportunity_id))
        self.edit(opportunity_id, fields)

    def update_opportunity_and_read(
        self, opportunity_id: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        self.update_opportunity(opportunity_id, fields)
        return self.get_opportunity(opportunity_id)

    def create_with_children(self, new: NewOpportunity) -> str | None:
        if any(o.get(F.REFERRAL_ID) == new.referral_id for o in self.opportunities.values()):
            return None
        account = {"Name": new.account_name, **new.account_fields} if new.account_name else None
        opportunity_id = self.add_opportunity({**new.fields, F.REFERRAL_ID: new.referral_id}, account)
        self.writes.append(("create", opportunity_id))
        account_id = self.opportunities[opportunity_id]["AccountId"]
        for contact in new.contacts:
            last_name = contact.email or "Unknown"
            contact_id = self.find_or_create_contact(
                account_id, None, last_name, contact.email, contact.fields
            )
            self.add_contact_role(opportunity_id, contact_id, primary=contact.primary)
        for solution in new.solutions:
            self.create_solution(opportunity_id, solution)
        if new.note:
            self.attach_note(opportunity_id, *new.note)
        return opportunity_id

    def upsert_opportunity_by_referral_id(self, referral_id: str, fields: dict[str, Any]) -> tuple[str, bool]:
        existing = self.get_opportunity_by_referral_id(referral_id)
        if existing:
            self.update_opportunity(existing["Id"], fields)
            return existing["Id"], False
        return self.add_opportunity({**fields, F.REFERRAL_ID: referral_id}), True

    def update_account(self, account_id: str, fields: dict[str, Any]) -> None:
        self.writes.append(("account", account_id))
        self.accounts[account_id].update(fields)

    def find_or_create_account(self, name: str, fields: dict[str, Any]) -> str:
        for account_id, account in self.accounts.items():
            if account["Name"] == name:
                return account_id
        account_id = self.new_id("001")
        self.accounts[account_id] = {**fields, "Name": name}
        return account_id

    def find_or_create_contact(
        self,
        account_id: str | None,
        first_name: str | None,
        last_name: str,
        email: str | None,
        fields: dict[str, Any],
    ) -> str:
        for contact_id, contact in self.contacts.items():
            if email and contact.get("Email") == email:
                return contact_id
        contact_id = self.new_id("003")
        self.contacts[contact_id] = {"FirstName": first_name, "LastName": last_name, "Email": email, **fields}
        return contact_id

    def add_contact_role(
        self, opportunity_id: str, contact_id: str, role: str = "Business User", primary: bool = False
    ) -> str:
        role_id = self.new_id("00K")
        self.roles[role_id] = {"Id": role_id, "OpportunityId": opportunity_id, "ContactId": contact_id,
                               "Role": role, "IsPrimary": primary}  # fmt: skip
        return role_id

    def delete_contact_role(self, role_id: str) -> None:
        del self.roles[role_id]

    def create_solution(self, opportunity_id: str, solution: dict[str, Any]) -> str:
        solution_id = self.new_id("a0X")
        self.solutions[solution_id] = {**solution, "Id": solution_id, F.SOLUTION_OPPORTUNITY: opportunity_id}
        return solution_id

    def delete_solution(self, record_id: str) -> None:
        del self.solutions[record_id]

    def attach_note(
        self, opportunity_id: str, title: str, body: str, author: str = "Integration User"
    ) -> str:
        note_id = self.new_id("069")
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        note = {"Id": note_id, "Title": title, "Text": body, "CreatedDate": created, "Author": author}
        self.notes.setdefault(opportunity_id, []).append(note)
        return note_id

    def get_note_titles(self, opportunity_id: str) -> set[str]:
        return {note["Title"] for note in self.notes.get(opportunity_id, [])}

    def get_seller_notes(self, note_ids: list[str]) -> list[SellerNote]:
        notes = [n for ns in self.notes.values() for n in ns if n["Id"] in note_ids]
        return [SellerNote(n["Id"], n["Title"], n["Text"], n["CreatedDate"], n["Author"]) for n in notes]

    def _note_links(self, opportunity_id: str) -> dict[str, Any] | None:
        links = [
            {"ContentDocumentId": n["Id"],
             "ContentDocument": {"Title": n["Title"], "FileType": "SNOTE", "CreatedDate": n["CreatedDate"]}}
            for n in self.notes.get(opportunity_id, [])
        ]  # fmt: skip
        return {"records": links} if links else None


class InMemoryLinkStore:
    """Links with ETag-checked saves (a stale save is a `ConflictError`, as in Table Storage) and
    claims that refuse a second holder (a `TransientError`, as `shared.store.claims` does)."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.claimed: set[str] = set()
        self.claims = 0
        self.saves = 0

    def get(self, referral_id: str) -> Link | None:
        return self.links.get(referral_id)

    def save(self, link: Link) -> Link:
        current = self.links.get(link.referral_id)
        if current is not None and link.etag != current.etag:
            raise ConflictError("link changed since it was read")
        saved = replace(link, etag=_etag(), synced_at=datetime.now(UTC))
        self.links[link.referral_id] = saved
        self.saves += 1
        return saved

    @contextmanager
    def claim(self, key: str, *, ttl_seconds: int) -> Iterator[None]:
        if key in self.claimed:
            raise TransientError(f"{key} is being synced by another worker")
        self.claimed.add(key)
        self.claims += 1
        try:
            yield
        finally:
            self.claimed.discard(key)


def _etag() -> str:
    return f'"{uuid.uuid4()}"'
