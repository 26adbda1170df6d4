"""What the poll asks Salesforce each time: the records of flagged opportunities saved since each
stream's watermark — the opportunities themselves (deleted ones too) and the children whose saves
leave the opportunity's own SystemModstamp alone: contact roles, solutions, accounts and notes.
Up to five queries, sent as one composite request (REST API Developer Guide, "Composite": at most
five query subrequests per call), so a poll that finds nothing costs one API call.

Deleted records come through `queryAll`, which returns rows from the recycle bin with IsDeleted =
true ("QueryAll" resource). ContentDocumentLink cannot be filtered by date (it requires an Id filter
on ContentDocumentId or LinkedEntityId), so notes are found as changed ContentDocuments of type
SNOTE and mapped to their opportunities by a second query, only when some changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from simple_salesforce.format import format_soql

from shared.core import salesforce_fields as f

_OPPORTUNITY_PREFIX = "006"


@dataclass(frozen=True)
class ChangeStream:
    name: str
    """The watermark's name (the opportunities' keeps its original name)."""
    soql: str
    """With `{since}` where the stream's start goes."""
    include_deleted: bool

    def query(self, since: datetime) -> str:
        return self.soql.replace("{since}", format_soql("{}", since.astimezone(UTC)))


OPPORTUNITIES = ChangeStream(
    "salesforce-opportunities",
    # Linked opportunities whose Sync was turned off come too: the engine pauses their pair.
    f"SELECT Id, SystemModstamp, LastModifiedById, IsDeleted, {f.REFERRAL_ID} FROM Opportunity "  # noqa: S608 - our own SOQL
    f"WHERE ({f.SYNC} = true OR {f.REFERRAL_ID} != null) AND SystemModstamp >= {{since}} "
    "ORDER BY SystemModstamp, Id",
    include_deleted=True,
)
CONTACT_ROLES = ChangeStream(
    "salesforce-contact-roles",
    f"SELECT Id, SystemModstamp, LastModifiedById, IsDeleted, OpportunityId FROM {f.CONTACT_ROLE} "  # noqa: S608
    f"WHERE SystemModstamp >= {{since}} AND Opportunity.{f.SYNC} = true ORDER BY SystemModstamp, Id",
    include_deleted=True,
)
SOLUTIONS = ChangeStream(
    "salesforce-solutions",
    f"SELECT Id, SystemModstamp, LastModifiedById, IsDeleted, {f.SOLUTION_OPPORTUNITY} FROM {f.SOLUTION} "  # noqa: S608
    f"WHERE SystemModstamp >= {{since}} AND {f.SOLUTION_OPPORTUNITY.replace('__c', '__r')}.{f.SYNC} = true "
    "ORDER BY SystemModstamp, Id",
    include_deleted=True,
)
ACCOUNTS = ChangeStream(
    "salesforce-accounts",
    f"SELECT Id, SystemModstamp, LastModifiedById, (SELECT Id FROM Opportunities WHERE {f.SYNC} = true) "  # noqa: S608
    "FROM Account "
    "WHERE SystemModstamp >= {since} ORDER BY SystemModstamp, Id",
    include_deleted=False,
)
NOTES = ChangeStream(
    "salesforce-notes",
    "SELECT Id, SystemModstamp, LastModifiedById FROM ContentDocument WHERE FileType = 'SNOTE' "
    "AND SystemModstamp >= {since} ORDER BY SystemModstamp, Id",
    include_deleted=False,
)
STREAMS = (OPPORTUNITIES, CONTACT_ROLES, SOLUTIONS, ACCOUNTS, NOTES)


def opportunities_of(stream: ChangeStream, row: Mapping[str, Any]) -> list[str]:
    """The opportunity ids a changed row stands for (notes: see `note_links_query`)."""
    if stream is OPPORTUNITIES:
        return [str(row["Id"])]
    if stream is CONTACT_ROLES:
        return [str(row["OpportunityId"])] if row.get("OpportunityId") else []
    if stream is SOLUTIONS:
        return [str(row[f.SOLUTION_OPPORTUNITY])] if row.get(f.SOLUTION_OPPORTUNITY) else []
    if stream is ACCOUNTS:
        children = row.get("Opportunities")
        records = children.get("records") or [] if isinstance(children, Mapping) else []
        return [str(child["Id"]) for child in records]
    return []


def modified_by(row: Mapping[str, Any], user_id: str) -> bool:
    """This row's latest version is `user_id`'s save (LastModifiedById, a system field set by the
    server: Object Reference, "System Fields"). Deleted rows never count: whether a delete updates
    LastModifiedById is not documented, so a deletion is always somebody's change to look at."""
    modifier = str(row.get("LastModifiedById") or "")
    return bool(user_id) and not row.get("IsDeleted") and modifier[:15] == user_id[:15]


def note_links_query(document_ids: list[str]) -> str:
    return format_soql(
        "SELECT ContentDocumentId, LinkedEntityId FROM ContentDocumentLink WHERE ContentDocumentId IN {}",
        document_ids,
    )


def opportunities_of_note_links(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Note id -> the opportunities it is linked to."""
    found: dict[str, list[str]] = {}
    for row in rows:
        entity = str(row.get("LinkedEntityId") or "")
        if entity.startswith(_OPPORTUNITY_PREFIX):
            found.setdefault(str(row["ContentDocumentId"]), []).append(entity)
    return found
