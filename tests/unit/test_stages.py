"""Stage <-> status table: accept, decline, won/lost, custom stages, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.mapping_salesforce import salesforce_opportunity_fields
from shared.core.stages import (
    VALID_STATUSES,
    format_referral_status,
    parse_referral_status,
    stage_for_status,
    stage_matches_status,
    status_for_stage,
)
from tests.unit.builders import a_settings

SETTINGS = a_settings()
ALL_STATUSES = [(status, sub) for status, subs in VALID_STATUSES.items() for sub in subs]


@pytest.mark.parametrize(
    ("status", "substatus", "stage"),
    [
        ("New", "Pending", "Prospecting"),
        ("New", "Received", "Prospecting"),
        (None, None, "Prospecting"),
        ("Active", "Accepted", "Qualification"),
        ("Closed", "Won", "Closed Won"),
        ("Closed", "Lost", "Closed Lost"),
        ("Closed", "Declined", "Closed Lost"),
        ("Closed", "Expired", "Closed Lost"),
    ],
)
def test_each_status_has_its_stage(status, substatus, stage):
    assert stage_for_status(status, substatus, SETTINGS) == stage


def test_an_unknown_status_has_no_stage_so_the_stage_is_left_alone():
    assert stage_for_status("Archived", None, SETTINGS) is None
    assert salesforce_opportunity_fields(
        {"status": "Archived", "substatus": "None"}, SETTINGS, current_stage="Qualification"
    ) == {"Referral_Status__c": "Archived/None"}


def test_only_a_received_referral_waits_on_hold_while_new():
    assert stage_for_status("New", "Pending", SETTINGS, received=True) == "Prospecting"
    assert stage_for_status("New", "Pending", SETTINGS, received=False) == "Qualification"


@pytest.mark.parametrize(
    ("stage", "previous", "flags", "expected"),
    [
        # accept: on-hold -> active stage
        ("Qualification", ("New", "Pending"), {}, ("Active", "Accepted")),
        # decline: closed as lost straight from on-hold
        ("Closed Lost", ("New", "Pending"), {}, ("Closed", "Declined")),
        ("Closed Lost", ("New", "Received"), {}, ("Closed", "Declined")),
        # lost after acceptance
        ("Closed Lost", ("Active", "Accepted"), {}, ("Closed", "Lost")),
        ("Closed Lost", None, {}, ("Closed", "Lost")),
        ("Closed Won", ("Active", "Accepted"), {}, ("Closed", "Won")),
        ("Closed Won", ("New", "Pending"), {}, ("Closed", "Won")),
        # a service-set Expired stays Expired while the stage says lost
        ("Closed Lost", ("Closed", "Expired"), {}, ("Closed", "Expired")),
        # on-hold keeps Pending/Received; a new on-hold opportunity is Pending
        ("Prospecting", ("New", "Received"), {}, ("New", "Received")),
        ("Prospecting", None, {}, ("New", "Pending")),
        # any other open stage is Active/Accepted
        ("Needs Analysis", ("Active", "Accepted"), {}, ("Active", "Accepted")),
        ("Negotiation/Review", ("New", "Pending"), {}, ("Active", "Accepted")),
        # an accepted referral cannot go back to New: on-hold is then just a pipeline stage
        ("Prospecting", ("Active", "Accepted"), {}, ("Active", "Accepted")),
        # custom closed stages classified by the opportunity's own flags
        ("Signed", ("Active", "Accepted"), {"is_closed": True, "is_won": True}, ("Closed", "Won")),
        ("Dropped", ("Active", "Accepted"), {"is_closed": True, "is_won": False}, ("Closed", "Lost")),
        ("Dropped", ("New", "Pending"), {"is_closed": True, "is_won": False}, ("Closed", "Declined")),
    ],
)
def test_stage_means_status_given_the_previous_status(stage, previous, flags, expected):
    prev_status, prev_sub = previous or (None, None)
    result = status_for_stage(
        stage, SETTINGS, previous_status=prev_status, previous_substatus=prev_sub, **flags
    )
    assert result == expected


def test_no_stage_means_no_status():
    assert status_for_stage(None, SETTINGS, previous_status="Active", previous_substatus="Accepted") is None


def test_an_open_stage_already_represents_active_so_it_is_not_rewritten():
    assert stage_matches_status("Needs Analysis", "Active", "Accepted", SETTINGS)
    assert not stage_matches_status("Prospecting", "Closed", "Won", SETTINGS)
    assert not stage_matches_status("Prospecting", "Active", "Accepted", SETTINGS)  # accepted: leave on-hold
    assert stage_matches_status("Prospecting", "New", "Received", SETTINGS)
    assert not stage_matches_status(None, "Active", "Accepted", SETTINGS)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("Active/Accepted", ("Active", "Accepted")), ("New", ("New", "None")), ("", None), (None, None)],
)
def test_recorded_status_text_parses(text, parsed):
    assert parse_referral_status(text) == parsed


stage_names = st.text(min_size=1, max_size=30).filter(str.strip)


@st.composite
def distinct_stage_settings(draw):
    names = draw(st.lists(stage_names, min_size=4, max_size=4, unique=True))
    return a_settings(
        on_hold_stage_name=names[0],
        active_stage_name=names[1],
        won_stage_name=names[2],
        lost_stage_name=names[3],
    )


@given(settings=distinct_stage_settings(), status=st.sampled_from(ALL_STATUSES))
def test_every_status_round_trips_through_its_stage(settings, status):
    name, substatus = status
    stage = stage_for_status(name, substatus, settings)
    assert stage is not None
    assert status_for_stage(stage, settings, previous_status=name, previous_substatus=substatus) == status
    assert stage_matches_status(stage, name, substatus, settings)
    assert parse_referral_status(format_referral_status(name, substatus)) == status


@given(
    settings=distinct_stage_settings(),
    which=st.sampled_from(["on_hold", "active", "won", "lost"]),
    previous=st.sampled_from([None, *ALL_STATUSES]),
)
def test_every_table_stage_round_trips_through_its_status(settings, which, previous):
    stage = getattr(settings, f"{which}_stage_name")
    if which == "on_hold" and previous and previous[0] != "New":
        previous = None  # an accepted or closed referral does not go back on hold
    prev_status, prev_sub = previous or (None, None)
    status = status_for_stage(stage, settings, previous_status=prev_status, previous_substatus=prev_sub)
    assert status is not None
    assert status in ALL_STATUSES
    assert stage_for_status(status[0], status[1], settings) == stage
