"""How a webhook registration compares with ours, and reading test-event delivery results."""

from __future__ import annotations

import pytest

from shared.ops.webhook_health import RegistrationState, _answered, compare_registration
from shared.partner_center.registration import REFERRAL_EVENTS, TEST_EVENT, Registration

OURS = "https://cosell.example/api/partner-center/events"


@pytest.mark.parametrize(
    ("registration", "state", "missing"),
    [
        (None, RegistrationState.MISSING, REFERRAL_EVENTS),
        (
            Registration(webhook_url=OURS, webhook_events=[*REFERRAL_EVENTS, TEST_EVENT]),
            RegistrationState.OK,
            (),
        ),
        (Registration(webhook_url=OURS, webhook_events=list(REFERRAL_EVENTS)), RegistrationState.OK, ()),
        (
            Registration(webhook_url=OURS, webhook_events=["referral-created"]),
            RegistrationState.INCOMPLETE,
            REFERRAL_EVENTS[1:],
        ),
        (
            Registration(webhook_url="https://flow.example/x", webhook_events=list(REFERRAL_EVENTS)),
            RegistrationState.ELSEWHERE,
            (),
        ),
    ],
)
def test_registration_state(registration, state, missing):
    result = compare_registration(registration, OURS)
    assert (result.state, result.missing_events) == (state, tuple(missing))


def test_rows_mark_only_events_registered_to_our_url_as_ours():
    elsewhere = compare_registration(
        Registration(webhook_url="https://x.example", webhook_events=["referral-created"]), OURS
    )
    assert [(r.event, r.ours) for r in elsewhere.rows()][:2] == [
        ("referral-created", False),
        ("referral-updated", False),
    ]
    assert elsewhere.rows()[0].url == "https://x.example" and elsewhere.rows()[1].url is None


@pytest.mark.parametrize(
    ("results", "answered", "code"),
    [
        ([], False, None),
        ([{"responseCode": "OK", "systemError": False}], True, "OK"),
        ([{"responseCode": 202}], True, "202"),
        ([{"responseCode": 500}, {"responseCode": 503}], False, "503"),
        ([{"responseCode": "OK", "systemError": True}], False, "OK"),
        (None, False, None),
    ],
)
def test_a_test_event_counts_as_answered_on_a_2xx_or_ok_without_system_error(results, answered, code):
    assert _answered(results) == (answered, code)
