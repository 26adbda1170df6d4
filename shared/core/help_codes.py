"""The "How can Microsoft help" field, every selected value.

Salesforce holds the seller's choices in a multi-select picklist ("A;B;C"). Partner Center's
referral takes ONE code, `inviteContext.assistanceRequestCode` (Referral resources, InviteContext:
https://learn.microsoft.com/partner-center/developer/referral-resources), and a free-text
`inviteContext.notes` beside it. So the first selected value is the request code and the others are
named on one line of the request's notes, in a form a Microsoft seller reads and we read back:

    Also requested from Microsoft: ProofOfConceptOrDemo, QuotesOrLicensing

Nothing is dropped silently: the line carries every further value, and the audit says where they went.
The canonical form is all selected codes joined by ";" in the seller's order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ALSO_REQUESTED = "Also requested from Microsoft:"
_LINE = re.compile(rf"^\s*{re.escape(ALSO_REQUESTED)}(.*)$", re.MULTILINE)
NO_HELP_CODES = frozenset({"", "unknown", "none"})


def codes(value: str | None) -> list[str]:
    """The selected codes of a canonical or multi-select value, in order, without "no help" codes."""
    seen: dict[str, None] = {}
    for part in re.split(r"[;,]", value or ""):
        code = part.strip()
        if code and code.lower() not in NO_HELP_CODES:
            seen.setdefault(code, None)
    return list(seen)


def joined(selected: list[str]) -> str | None:
    return ";".join(selected) or None


def from_invite_context(invite: Mapping[str, Any] | None) -> str | None:
    """The canonical value a referral's inviteContext holds: its code, then the codes on our line."""
    invite = invite or {}
    first = codes(str(invite.get("assistanceRequestCode") or ""))
    match = _LINE.search(str(invite.get("notes") or ""))
    more = codes(match.group(1)) if match else []
    return joined(first + [c for c in more if c not in first])


def invite_notes(current: str | None, value: str | None) -> str:
    """The request's notes with our line saying which further codes were requested (or without it)."""
    text = _LINE.sub("", current or "").strip()
    extra = codes(value)[1:]
    if not extra:
        return text
    line = f"{ALSO_REQUESTED} {', '.join(extra)}"
    return f"{text}\n{line}" if text else line


def request_code(value: str | None) -> str | None:
    selected = codes(value)
    return selected[0] if selected else None
