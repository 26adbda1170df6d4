"""The one classification table for Salesforce errors: (HTTP status, error body) -> what the caller
does next. Retry mechanics live in the client; this module only decides."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.core import salesforce_fields as f
from shared.errors import ConfigError, CosellSyncError, PermanentError, TransientError


class Action(StrEnum):
    RETRY = "retry"  # transient: back off and try again
    REAUTH = "reauth"  # the session expired: fetch a new token once
    CONFIG = "config"  # settings/permissions: an admin must act
    RECORD = "record"  # this record cannot be saved as it is: audit it, mark it ✖


# errorCode -> (action, seconds to wait before retrying when the API gives no hint)
TABLE: dict[str, tuple[Action, float | None]] = {
    "INVALID_SESSION_ID": (Action.REAUTH, None),
    "REQUEST_LIMIT_EXCEEDED": (Action.RETRY, 2.0),
    "UNABLE_TO_LOCK_ROW": (Action.RETRY, None),
    "SERVER_UNAVAILABLE": (Action.RETRY, 5.0),
    "UNKNOWN_EXCEPTION": (Action.RETRY, None),
    "QUERY_TIMEOUT": (Action.RETRY, None),
    "INVALID_QUERY_LOCATOR": (Action.RETRY, None),
    "INVALID_FIELD": (Action.CONFIG, None),
    "INVALID_TYPE": (Action.CONFIG, None),
    "MALFORMED_QUERY": (Action.CONFIG, None),
    "API_DISABLED_FOR_ORG": (Action.CONFIG, None),
    "API_CURRENTLY_DISABLED": (Action.CONFIG, None),
    "REQUIRED_FIELD_MISSING": (Action.RECORD, None),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (Action.RECORD, None),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (Action.RECORD, None),
    "FIELD_INTEGRITY_EXCEPTION": (Action.RECORD, None),
    "STRING_TOO_LONG": (Action.RECORD, None),
    "DUPLICATE_VALUE": (Action.RECORD, None),
    "DUPLICATES_DETECTED": (Action.RECORD, None),
    "INVALID_CROSS_REFERENCE_KEY": (Action.RECORD, None),
    "INVALID_EMAIL_ADDRESS": (Action.RECORD, None),
    "INVALID_FIELD_FOR_INSERT_UPDATE": (Action.RECORD, None),
    "JSON_PARSER_ERROR": (Action.RECORD, None),
    "MALFORMED_ID": (Action.RECORD, None),
    "NOT_FOUND": (Action.RECORD, None),
    "ENTITY_IS_DELETED": (Action.RECORD, None),
    "INSUFFICIENT_ACCESS_OR_READONLY": (Action.RECORD, None),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": (Action.RECORD, None),
    "MULTIPLE_RECORDS": (Action.RECORD, None),
}
# A daily-allocation overrun will not clear in seconds: hand the job back with a long delay.
DAILY_LIMIT_RETRY_AFTER = 900.0
OUR_NAMES = frozenset(
    name.lower()
    for name in (
        *f.OPPORTUNITY_FIELDS,
        f.SOLUTION,
        f.SOLUTION_OPPORTUNITY,
        f.SOLUTION_ID,
        f.SOLUTION_NAME,
        f.SOLUTION_PUBLISHER,
        f.SOLUTION_TYPE,
        f.SOLUTIONS_RELATIONSHIP,
    )
)
PERMISSION_SET = "Partner_Center_Sync"


@dataclass(frozen=True)
class Verdict:
    """What to do about one failed call, with Salesforce's own words."""

    action: Action
    status: int
    code: str
    message: str
    fields: tuple[str, ...] = field(default_factory=tuple)
    retry_after: float | None = None
    duplicates: tuple[str, ...] = ()  # DUPLICATES_DETECTED: ids of the records the rule matched

    def error(self, *, record_id: str | None = None) -> CosellSyncError:
        """The shared.errors exception for this verdict."""
        detail = f"{self.code}: {self.message}" if self.code else self.message
        if self.fields:
            detail += f" [fields: {', '.join(self.fields)}]"
        kw: dict[str, Any] = {
            "provider": "salesforce",
            "status": self.status or None,
            "code": self.code or None,
            "record_id": record_id,
        }
        if self.action in (Action.RETRY,):
            return TransientError(detail, retry_after=self.retry_after, **kw)
        if self.action in (Action.CONFIG, Action.REAUTH):
            return ConfigError(_config_hint(self, detail), **kw)
        if self.code == "DUPLICATES_DETECTED":
            return DuplicatesDetected(detail, matches=self.duplicates, **kw)
        return PermanentError(detail, **kw)


class DuplicatesDetected(PermanentError):
    """A duplicate rule refused the save; `matches` are the ids of the existing records it matched
    (`duplicateResult.matchResults[].matchRecords[].record.Id`: SOAP API Developer Guide "DuplicateError",
    "DuplicateResult", "MatchResult", "MatchRecord",
    https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_duplicateresult.htm)."""

    def __init__(self, message: str, *, matches: tuple[str, ...] = (), **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.matches = matches
        self.reference: str | None = None  # the composite subrequest refused (its referenceId)


def duplicate_matches(err: dict[str, Any]) -> tuple[str, ...]:
    """The matched record ids of a DUPLICATES_DETECTED error, best match first."""
    result = err.get("duplicateResult")
    if not isinstance(result, dict):
        return ()
    found: list[tuple[float, str]] = []
    for match in result.get("matchResults") or []:
        for record in (match or {}).get("matchRecords") or []:
            rid = ((record or {}).get("record") or {}).get("Id")
            if rid:
                found.append((-float(record.get("matchConfidence") or 0), str(rid)))
    return tuple(dict.fromkeys(rid for _, rid in sorted(found, key=lambda m: m[0])))


def _config_hint(verdict: Verdict, detail: str) -> str:
    if verdict.action is Action.REAUTH:
        return f"{detail} — a fresh token was refused too; check the connected app session policies"
    text = f"{verdict.message} {' '.join(verdict.fields)}".lower()
    ours = sorted(name for name in OUR_NAMES if name in text)
    if verdict.code in ("INVALID_FIELD", "INVALID_TYPE") and ours:
        return (
            f"{detail} — the integration user cannot see the connector's fields: deploy "
            "salesforce-metadata/ and "
            f"assign the cosell-sync permission set ({PERMISSION_SET}) to the integration user"
        )
    if verdict.code == "INVALID_FIELD" and "currencyisocode" in text:
        return f"{detail} — this org has no multi-currency: set DEAL_CURRENCY_FIELD to auto (or empty)"
    if verdict.code == "INVALID_FIELD":
        return (
            f"{detail} — check the field names in DEAL_VALUE_FIELD, DEAL_CURRENCY_FIELD and "
            "ACCOUNT_COUNTRY_FIELD"
        )
    return detail


def first_error(body: Any) -> dict[str, Any]:
    """Salesforce error bodies are JSON lists; anything else (HTML from a proxy, a dict) is tolerated."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    if isinstance(body, dict):
        return body
    return {"message": str(body)[:500] if body else ""}


def classify(status: int, body: Any, *, retry_after: float | None = None) -> Verdict:
    """Decide what to do about an HTTP error answer (`body` parsed JSON or text)."""
    err = first_error(body)
    code = str(err.get("errorCode") or err.get("statusCode") or "")
    message = str(err.get("message") or "")
    fields = tuple(str(x) for x in err.get("fields") or ())
    action, hint = TABLE.get(code, (None, None))
    if action is None:
        if status == 401:
            action = Action.REAUTH
        elif status in (408, 429) or status >= 500:
            action, hint = Action.RETRY, 5.0 if status == 503 else None
        elif status == 403:
            action = Action.CONFIG
        else:
            action = Action.RECORD
    if code == "REQUEST_LIMIT_EXCEEDED" and "totalrequests" in message.lower():
        hint = DAILY_LIMIT_RETRY_AFTER
    return Verdict(
        action,
        status,
        code,
        message,
        fields,
        retry_after if retry_after is not None else hint,
        duplicate_matches(err) if code == "DUPLICATES_DETECTED" else (),
    )
