"""B3 pre-flight and update rules: each problem is reported in words the seller can act on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.core.canonical import Address, CanonicalDeal
from shared.core.mapping import deal_from_partner_center
from shared.core.validation import validate_for_create, validate_update
from tests.unit.builders import a_referral

VALID = deal_from_partner_center(a_referral())


def _with(**changes) -> CanonicalDeal:
    return VALID.model_copy(update=changes)


def test_a_complete_co_sell_deal_is_valid():
    assert validate_for_create(VALID) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"customer_name": None}, "customer (account) name is missing"),
        ({"customer_address": Address()}, "country is missing"),
        ({"customer_address": Address(country="Atlantis")}, "'Atlantis' is not an ISO 3166 country"),
        ({"deal_value": None}, "deal value must be greater than 0"),
        ({"deal_value": Decimal("0.00")}, "deal value must be greater than 0"),
        ({"deal_value": Decimal("-5.00")}, "deal value must be greater than 0"),
        ({"currency": None}, "currency is missing"),
        ({"currency": "ABC"}, "'ABC' is not an ISO 4217 code"),
        ({"close_date": None}, "close date is missing"),
        ({"solutions": ()}, "at least one Microsoft Partner Center solution"),
        ({"contacts": ()}, "customer contact is required"),
        ({"visible": False}, "must be visible to Microsoft sellers"),
        ({"name": None}, "opportunity name is missing"),
    ],
)
def test_each_missing_or_invalid_part_blocks_create_with_a_reason(changes, problem):
    problems = validate_for_create(_with(**changes))
    assert len(problems) == 1
    assert problem in problems[0]


def test_a_deal_without_help_needs_no_contact():
    assert validate_for_create(_with(help_requested=None, contacts=(), visible=False)) == []


def test_every_problem_is_reported_at_once():
    assert len(validate_for_create(CanonicalDeal(help_requested="GeneralOrOther"))) == 9


def test_an_unchanged_deal_is_a_valid_update():
    assert validate_update(VALID, VALID) == []
    assert validate_update(VALID.comparable(), VALID) == []


@pytest.mark.parametrize(
    ("before", "after", "problem"),
    [
        ({}, {"visible": False}, "visibility cannot be reverted"),
        (
            {"status": "Closed", "substatus": "Won"},
            {"status": "Active", "substatus": "Accepted"},
            "cannot be reopened",
        ),
        ({}, {"deal_value": Decimal("0.00")}, "greater than 0"),
        ({}, {"currency": "XXY"}, "ISO 4217"),
        ({}, {"customer_address": Address(country="Narnia")}, "'Narnia'"),
        ({}, {"solutions": ()}, "at least one"),
        ({"help_requested": None}, {"contacts": ()}, "customer contact is required"),
        (
            {"contacts": ()},
            {"contacts": ()},
            None,
        ),  # already without contact and help unchanged: not re-reported
        ({"help_requested": None, "visible": False}, {"visible": False}, "must be visible"),
    ],
)
def test_update_rules(before, after, problem):
    problems = validate_update(_with(**before), _with(**after))
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_a_non_co_sell_referral_can_become_co_sell():
    before = _with(help_requested=None, visible=False)
    assert validate_update(before, _with(help_requested="QuotesOrLicensing", visible=True)) == []


def test_an_older_snapshot_without_some_fields_still_validates():
    snapshot = {"name": "Deal", "visible": True}
    assert validate_update(snapshot, VALID) == []
