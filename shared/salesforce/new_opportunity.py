"""Creating an opportunity with its account, contacts, contact roles, solutions and first note in two
API calls instead of one per record: one /composite of lookups, then one all-or-none /composite of
writes whose later records refer to the earlier ones (`@{opp.id}`).

All-or-none matters beyond the call count: a crash can no longer leave an opportunity without its
contact roles or solutions, and a repeat finds either everything or nothing. When the opportunity
already exists (a repeat after a crash of the stepwise path) or the graph does not fit one call,
`create_with_children` returns None and the caller takes the stepwise path, which tops up what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from simple_salesforce.format import format_external_id, format_soql

from shared.core import salesforce_fields as f
from shared.salesforce.classify import DuplicatesDetected
from shared.salesforce.records import account_match_soql, note_link_record, note_record, solution_record


class CompositeApi(Protocol):
    """The part of the Salesforce client this module needs (the client implements it)."""

    def composite(
        self, subrequests: list[dict[str, Any]], *, all_or_none: bool = True, record_id: str | None = None
    ) -> list[dict[str, Any]]: ...
    def api_path(self, path: str) -> str: ...
    def query_path(self, soql: str) -> str: ...


MAX_SUBREQUESTS = 25


@dataclass(frozen=True)
class NewContact:
    email: str | None
    fields: dict[str, Any]  # FirstName, LastName, ... (None values are dropped)
    primary: bool = False
    role: str = "Business User"


@dataclass(frozen=True)
class NewOpportunity:
    referral_id: str
    fields: dict[str, Any]
    account_name: str | None = None
    account_fields: dict[str, Any] = field(default_factory=dict)
    contacts: tuple[NewContact, ...] = ()
    solutions: tuple[dict[str, Any], ...] = ()
    note: tuple[str, str] | None = None  # (title, plain text)


Linked = Callable[[str, str, str], None]
"""Told (sobject, matched id, the rule's message) when a duplicate rule's match replaces a new record."""


def create_with_children(
    sf: CompositeApi,
    new: NewOpportunity,
    *,
    link_duplicates: bool = True,
    linked: Linked | None = None,
    headers: dict[str, str] | None = None,
) -> str | None:
    """The new opportunity's id, or None when the caller must take the stepwise path.

    With `link_duplicates`, an account or contact that a duplicate rule refuses (DUPLICATES_DETECTED,
    which rolls the whole graph back) is replaced by the existing record the rule matched and the graph
    is sent again; each replacement is reported to `linked`. `headers` go on every write subrequest (a
    composite subrequest carries only its own `httpHeaders`: REST API Developer Guide, "Composite
    Subrequest", https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite_subrequest.htm)."""
    if _subrequest_count(new) > MAX_SUBREQUESTS:
        return None
    existing, account_id, contact_ids = _lookups(sf, new)
    if existing:
        return None
    linked_contacts: dict[int, str] = {}
    for _ in range(1 + 1 + len(new.contacts)):  # at most one replacement per account and contact
        try:
            return _write_graph(
                sf,
                new,
                account_id=account_id,
                contact_ids=contact_ids,
                linked_contacts=linked_contacts,
                headers=headers or {},
            )
        except DuplicatesDetected as exc:
            reference = exc.reference or ""
            if not link_duplicates or not exc.matches:
                raise
            if reference == "acct" and account_id is None:
                account_id = exc.matches[0]
                sobject = f.ACCOUNT
            elif reference.startswith("contact") and reference[7:].isdigit():
                linked_contacts[int(reference[7:])] = exc.matches[0]
                sobject = "Contact"
            else:
                raise
            if linked is not None:
                linked(sobject, exc.matches[0], exc.message)
    raise AssertionError("unreachable: every account and contact was replaced already")


def _write_graph(
    sf: CompositeApi,
    new: NewOpportunity,
    *,
    account_id: str | None,
    contact_ids: dict[str, str],
    linked_contacts: dict[int, str],
    headers: dict[str, str],
) -> str:
    writes = _Writes(sf, headers)
    account_ref = account_id
    if account_ref is None and new.account_name:
        account_ref = writes.post(f.ACCOUNT, {**_clean(new.account_fields), "Name": new.account_name}, "acct")
    contact_refs: list[str] = []
    for number, contact in enumerate(new.contacts):
        found = linked_contacts.get(number) or contact_ids.get((contact.email or "").lower())
        if found is None:
            body = _clean({**contact.fields, "AccountId": account_ref})
            body.setdefault("LastName", contact.email or "Unknown")
            found = writes.post("Contact", body, f"contact{number}")
        contact_refs.append(found)
    path = format_external_id(f.REFERRAL_ID, new.referral_id)
    body = {k: v for k, v in new.fields.items() if k.lower() != f.REFERRAL_ID.lower()}
    if account_ref:
        body["AccountId"] = account_ref
    opportunity = writes.add("PATCH", f"sobjects/{f.OPPORTUNITY}/{path}", body, "opp")
    for contact, contact_ref in zip(new.contacts, contact_refs, strict=True):
        role = {"OpportunityId": opportunity, "ContactId": contact_ref, "Role": contact.role,
                "IsPrimary": contact.primary}  # fmt: skip
        writes.post(f.CONTACT_ROLE, role, f"role{len(writes.requests)}")
    for number, solution in enumerate(new.solutions):
        writes.post(f.SOLUTION, _clean(solution_record(opportunity, solution)), f"solution{number}")
    if new.note:
        note = writes.post("ContentNote", note_record(*new.note), "note")
        writes.post("ContentDocumentLink", note_link_record(note, opportunity), "noteLink")
    responses = sf.composite(writes.requests, all_or_none=True, record_id=new.referral_id)
    return str(responses[writes.index("opp")]["body"]["id"])


def _subrequest_count(new: NewOpportunity) -> int:
    return 2 + 2 * len(new.contacts) + len(new.solutions) + (2 if new.note else 0)


def _lookups(sf: CompositeApi, new: NewOpportunity) -> tuple[bool, str | None, dict[str, str]]:
    """(an opportunity with this Referral Id exists, the matching account's id, contact id by email),
    in one call of up to three queries."""
    queries = {
        "opp": format_soql(
            f"SELECT Id FROM {f.OPPORTUNITY} WHERE {f.REFERRAL_ID} = {{}} LIMIT 1",  # noqa: S608 - SOQL; values go through format_soql
            new.referral_id,
        )
    }
    if new.account_name:
        queries["account"] = account_match_soql(new.account_name, new.account_fields)
    emails = sorted({c.email.lower() for c in new.contacts if c.email})
    if emails:
        queries["contacts"] = format_soql(
            "SELECT Id, AccountId, Email FROM Contact WHERE Email IN {} ORDER BY CreatedDate LIMIT 200",
            emails,
        )
    requests = [{"method": "GET", "url": sf.query_path(q), "referenceId": k} for k, q in queries.items()]
    answers = {
        str(r["referenceId"]): (r.get("body") or {}).get("records") or []
        for r in sf.composite(requests, all_or_none=False, record_id=new.referral_id)
    }
    account = answers.get("account") or []
    account_id = str(account[0]["Id"]) if account else None
    contact_ids: dict[str, str] = {}
    on_account: set[str] = set()  # the oldest contact with the email wins, one on the account first
    for row in answers.get("contacts") or []:
        email = str(row.get("Email") or "").lower()
        same_account = bool(account_id) and str(row.get("AccountId") or "")[:15] == str(account_id)[:15]
        if email not in contact_ids or (same_account and email not in on_account):
            contact_ids[email] = str(row["Id"])
        if same_account:
            on_account.add(email)
    return bool(answers.get("opp")), account_id, contact_ids


class _Writes:
    """The write subrequests; `post`/`add` return the `@{ref.id}` that later ones can refer to."""

    def __init__(self, sf: CompositeApi, headers: dict[str, str] | None = None) -> None:
        self.sf = sf
        self.headers = headers or {}
        self.requests: list[dict[str, Any]] = []

    def post(self, sobject: str, body: dict[str, Any], reference: str) -> str:
        return self.add("POST", f"sobjects/{sobject}", body, reference)

    def add(self, method: str, path: str, body: dict[str, Any], reference: str) -> str:
        request = {"method": method, "url": self.sf.api_path(path), "referenceId": reference, "body": body}
        if self.headers:
            request["httpHeaders"] = dict(self.headers)
        self.requests.append(request)
        return f"@{{{reference}.id}}"

    def index(self, reference: str) -> int:
        return next(i for i, r in enumerate(self.requests) if r["referenceId"] == reference)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
