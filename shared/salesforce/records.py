"""Salesforce records and queries the client writes, built in one place for the stepwise calls and
the all-or-none composite create (`new_opportunity`)."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from simple_salesforce.format import format_soql

from shared.core import salesforce_fields as f


def account_match_soql(name: str, fields: dict[str, Any]) -> str:
    """The oldest account named `name`, with the same BillingPostalCode when one is given."""
    soql = format_soql("SELECT Id FROM Account WHERE Name = {}", name)
    if fields.get("BillingPostalCode"):
        soql += format_soql(" AND BillingPostalCode = {}", fields["BillingPostalCode"])
    return soql + " ORDER BY CreatedDate LIMIT 1"


def solution_record(opportunity_id: str, solution: dict[str, Any]) -> dict[str, Any]:
    """A solutions child record; `solution` holds fields by API name (fields.SOLUTION_ID, ...)."""
    body = {**solution, f.SOLUTION_OPPORTUNITY: opportunity_id}
    if not body.get("Name"):
        body["Name"] = str(solution.get(f.SOLUTION_NAME) or solution.get(f.SOLUTION_ID) or "Solution")[:80]
    return body


def note_record(title: str, text: str) -> dict[str, Any]:
    """An enhanced note (ContentNote): its content is HTML, base64-encoded."""
    return {"Title": title[:255], "Content": base64.b64encode(note_html(text).encode()).decode()}


def note_link_record(note_id: str, opportunity_id: str) -> dict[str, Any]:
    """Links a note to the opportunity, visible to every user who can see it."""
    return {"ContentDocumentId": note_id, "LinkedEntityId": opportunity_id, "ShareType": "V",
            "Visibility": "AllUsers"}  # fmt: skip


def note_html(body: str) -> str:
    """ContentNote content is HTML: escape the text and keep its lines as paragraphs."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() or [""])


def html_text(content: str) -> str:
    """A note's HTML content as plain text: paragraphs and line breaks become new lines."""
    content = re.sub(r"(?i)<br\s*/?>|</p>\s*", "\n", content)
    return html.unescape(re.sub(r"<[^>]+>", "", content)).strip()
