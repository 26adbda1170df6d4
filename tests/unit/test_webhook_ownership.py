"""Which registrations the webhook heal may take over: only ours (pure)."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.ops.adopt import check_field_name
from shared.ops.webhook_health import RegistrationState, compare_registration
from shared.partner_center.registration import REFERRAL_EVENTS, Registration

OURS = "https://prod.example/api/partner-center/events"
FORMER = "https://old-prod.example/api/partner-center/events"
STAGING = "https://staging.example/api/partner-center/events"


def registered(url: str) -> Registration:
    return Registration(webhook_url=url, webhook_events=list(REFERRAL_EVENTS))


@pytest.mark.parametrize(
    ("registration", "state", "heal", "foreign"),
    [
        (None, RegistrationState.MISSING, "re-register", None),
        (registered(OURS), RegistrationState.OK, "none", None),
        (Registration(webhook_url=OURS, webhook_events=["referral-created"]), RegistrationState.INCOMPLETE,
         "re-register", None),
        (registered(FORMER), RegistrationState.FORMER, "re-register", None),
        (registered(FORMER.upper() + "/"), RegistrationState.FORMER, "re-register", None),
        (registered(STAGING), RegistrationState.ELSEWHERE, "leave", STAGING),
    ],
)  # fmt: skip
def test_only_a_missing_incomplete_or_former_registration_is_healable(registration, state, heal, foreign):
    result = compare_registration(registration, OURS, [FORMER])

    assert result.state is state
    assert result.state.healable is (heal == "re-register")
    assert result.to_json()["heal"] == heal
    assert result.foreign_url == foreign
    if foreign:
        assert foreign in result.describe() and "not taken over" in result.describe()


def test_without_own_urls_every_other_url_is_foreign():
    assert compare_registration(registered(FORMER), OURS).state is RegistrationState.ELSEWHERE


@pytest.mark.parametrize("name", ["NextStep", "Old_Referral_Id__c", "MSPC__Referral_Identifier__c"])
def test_adopt_accepts_field_api_names(name):
    assert check_field_name(name) == name


@pytest.mark.parametrize("name", ["", "Id FROM Account", "a__b__c__c", "_x", "x_", "Referral_Id__c", "x;"])
def test_adopt_refuses_anything_else_and_our_own_field(name):
    with pytest.raises(ConfigError):
        check_field_name(name)
