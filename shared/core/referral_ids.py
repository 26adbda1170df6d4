"""Referral ids are GUIDs; nothing else may become part of a Partner Center URL (pure).

Partner Center's referral resource documents `id` and `engagementId` as GUID strings
(https://learn.microsoft.com/partner-center/developer/referral-resources). Ids reach us from
places an attacker or a user can edit: a webhook's `ResourceUri`, Salesforce's `Referral_Id__c`
(editable), command-line arguments. A value such as `..` would otherwise turn
`GET …/referrals/{id}` into `GET …/engagements`, so every boundary checks the shape first and
the client quotes the path segment anyway.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class InvalidReferralId(ValueError):
    """The value is not a referral id (a GUID); the message says why, without echoing much of it."""


def referral_id_problem(value: object) -> str | None:
    """Why `value` is not a referral id, or None when it is one."""
    if not isinstance(value, str):
        return f"referral id must be a string, not {type(value).__name__}"
    if not value:
        return "referral id is empty"
    if not _GUID.fullmatch(value):
        shown = value[:40].encode("unicode_escape").decode("ascii")
        return f"referral id {shown!r} is not a GUID"
    return None


def is_referral_id(value: object) -> bool:
    return referral_id_problem(value) is None


def require_referral_id(value: object) -> str:
    """The id unchanged (ids are compared as Partner Center sends them); raises
    `InvalidReferralId` when it is not a GUID."""
    problem = referral_id_problem(value)
    if problem:
        raise InvalidReferralId(problem)
    return str(value)


def path_segment(value: str) -> str:
    """One URL path segment: every reserved character (`/`, `?`, `#`, `%`, `.`-only names) quoted."""
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if set(quoted) <= {"."} else quoted
