"""The Salesforce error classification table, as one parametrized test."""

from __future__ import annotations

import pytest

from shared.core import salesforce_fields as f
from shared.errors import ConfigError, PermanentError, TransientError
from shared.salesforce.classify import DAILY_LIMIT_RETRY_AFTER, Action, classify


def body(code: str, message: str = "msg", fields: list[str] | None = None) -> list[dict[str, object]]:
    return [{"errorCode": code, "message": message, "fields": fields or []}]


@pytest.mark.parametrize(
    ("status", "payload", "action", "error", "retry_after"),
    [
        (401, body("INVALID_SESSION_ID", "Session expired or invalid"), Action.REAUTH, ConfigError, None),
        (
            403,
            body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            Action.RETRY,
            TransientError,
            DAILY_LIMIT_RETRY_AFTER,
        ),
        (
            403,
            body("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
            Action.RETRY,
            TransientError,
            2.0,
        ),
        (400, body("UNABLE_TO_LOCK_ROW"), Action.RETRY, TransientError, None),
        (503, body("SERVER_UNAVAILABLE"), Action.RETRY, TransientError, 5.0),
        (503, "<html>Service Unavailable</html>", Action.RETRY, TransientError, 5.0),
        (500, body("UNKNOWN_EXCEPTION"), Action.RETRY, TransientError, None),
        (502, None, Action.RETRY, TransientError, None),
        (
            400,
            body("REQUIRED_FIELD_MISSING", "Required fields are missing: [CloseDate]", ["CloseDate"]),
            Action.RECORD,
            PermanentError,
            None,
        ),
        (
            400,
            body("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Amount must be positive"),
            Action.RECORD,
            PermanentError,
            None,
        ),
        (400, body("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"), Action.RECORD, PermanentError, None),
        (400, body("DUPLICATE_VALUE"), Action.RECORD, PermanentError, None),
        (404, body("NOT_FOUND"), Action.RECORD, PermanentError, None),
        (404, body("ENTITY_IS_DELETED"), Action.RECORD, PermanentError, None),
        (
            400,
            body("INVALID_FIELD", f"No such column '{f.REFERRAL_ID}' on entity 'Opportunity'"),
            Action.CONFIG,
            ConfigError,
            None,
        ),
        (400, body("MALFORMED_QUERY", "unexpected token"), Action.CONFIG, ConfigError, None),
        (403, body("API_DISABLED_FOR_ORG"), Action.CONFIG, ConfigError, None),
        (
            400,
            [{"statusCode": "STRING_TOO_LONG", "message": "too long", "fields": ["Name"]}],
            Action.RECORD,
            PermanentError,
            None,
        ),
        (418, body("SOMETHING_NEW"), Action.RECORD, PermanentError, None),
    ],
)
def test_classification_table(status, payload, action, error, retry_after):
    verdict = classify(status, payload)
    assert verdict.action is action
    assert verdict.retry_after == retry_after
    exc = verdict.error(record_id="006X")
    assert type(exc) is error
    assert exc.provider == "salesforce" and exc.record_id == "006X"


def test_permanent_errors_carry_salesforce_message_and_fields():
    exc = classify(
        400, body("REQUIRED_FIELD_MISSING", "Required fields are missing: [CloseDate]", ["CloseDate"])
    )
    text = str(exc.error(record_id="006A"))
    assert "REQUIRED_FIELD_MISSING" in text and "[fields: CloseDate]" in text and "(record 006A)" in text


def test_invalid_field_on_our_field_names_the_permission_set():
    exc = classify(400, body("INVALID_FIELD", f"No such column '{f.SYNC}' on entity 'Opportunity'")).error()
    assert "Partner_Center_Sync" in str(exc)


def test_invalid_field_on_a_configured_field_points_at_the_settings():
    exc = classify(
        400, body("INVALID_FIELD", "No such column 'Deal_Size__c' on entity 'Opportunity'")
    ).error()
    assert "DEAL_VALUE_FIELD" in str(exc) and "permission set" not in str(exc)


def test_a_server_retry_hint_wins():
    assert classify(503, None, retry_after=42.0).retry_after == 42.0
