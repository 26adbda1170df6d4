"""The simulator's OData filter subset, JSON Patch, and the documented validation rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from devstack.pc_sim.odata import FilterError, parse_filter
from devstack.pc_sim.patch import PatchError, apply_patch
from devstack.pc_sim.seller import microsoft_referral
from devstack.pc_sim.validation import referral_problems, transition_problems

A = {
    "id": "1",
    "engagementId": "e-1",
    "status": "New",
    "substatus": "Pending",
    "direction": "Incoming",
    "externalReferenceId": "006A",
    "updatedDateTime": "2025-03-01T10:00:00.000001Z",
    "customerProfile": {"address": {"country": "US"}},
    "details": {"dealValue": 500},
}
B = {
    "id": "2",
    "engagementId": "e-2",
    "status": "Active",
    "substatus": "Accepted",
    "direction": "Outgoing",
    "updatedDateTime": "2025-03-02T10:00:00Z",
    "customerProfile": {"address": {"country": "IE"}},
    "details": {"dealValue": 1500},
}


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("status eq 'New'", ["1"]),
        ("status ne 'New'", ["2"]),
        ("customerProfile/address/country eq 'IE'", ["2"]),
        ("externalReferenceId eq '006A'", ["1"]),
        ("externalReferenceId eq null", ["2"]),
        ("engagementId eq e-2", ["2"]),
        ("updatedDateTime gt 2025-03-01T12:00:00Z", ["2"]),
        ("updatedDateTime ge '2025-03-01T10:00:00.000001+00:00'", ["1", "2"]),
        ("updatedDateTime lt 2025-03-02T00:00:00Z", ["1"]),
        ("details/dealValue le 500", ["1"]),
        ("status eq 'New' and direction eq 'Incoming'", ["1"]),
        ("status eq 'New' or direction eq 'Outgoing'", ["1", "2"]),
        ("(status eq 'New' or status eq 'Active') and substatus eq 'Accepted'", ["2"]),
        ("not (status eq 'New')", ["2"]),
        ("STATUS eq 'New'", []),
        ("name eq 'O''Brien'", []),
    ],
)
def test_filter_subset(expression, matches):
    predicate, _ = parse_filter(expression)
    assert [r["id"] for r in (A, B) if predicate(r)] == matches


def test_filter_reports_the_paths_it_uses():
    _, paths = parse_filter(
        "engagementId eq 'x' and (status eq 'New' or customerProfile/address/country eq 'US')"
    )
    assert paths == {"engagementId", "status", "customerProfile/address/country"}


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "status",
        "status eq",
        "status like 'New'",
        "(status eq 'New'",
        "status eq 'New')",
        "status eq 'New' and",
        "status eq 'unterminated",
        "team/any(t:t/email eq 'x')",
        "'New' eq status",
    ],
)
def test_malformed_filters_are_rejected(expression):
    with pytest.raises(FilterError):
        parse_filter(expression)


def test_patch_replaces_adds_and_appends():
    patched = apply_patch(
        {"details": {"dealValue": 1}, "team": []},
        [
            {"op": "replace", "path": "/details/dealValue", "value": 2},
            {"op": "add", "path": "/team/-", "value": {"email": "a@b"}},
            {"op": "replace", "path": "/inviteContext/notes", "value": "created on the way"},
        ],
    )
    assert patched == {
        "details": {"dealValue": 2},
        "team": [{"email": "a@b"}],
        "inviteContext": {"notes": "created on the way"},
    }


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "/name", "value": None},
        {"op": "replace", "path": "name", "value": 1},
        {"op": "replace", "path": "/team/5", "value": 1},
        {"op": "replace"},
    ],
)
def test_patch_refuses_what_the_api_refuses(operation):
    with pytest.raises(PatchError):
        apply_patch({"team": []}, [operation])


def test_patch_leaves_the_original_untouched():
    original = {"details": {"dealValue": 1}}
    apply_patch(original, [{"op": "replace", "path": "/details/dealValue", "value": 2}])
    assert original == {"details": {"dealValue": 1}}


def valid_cosell() -> dict[str, Any]:
    return microsoft_referral()


def changed(referral: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    return apply_patch(referral, [{"op": "replace", "path": path, "value": value}])


def test_a_complete_cosell_referral_is_valid():
    assert referral_problems(valid_cosell()) == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("/customerProfile/address/country", "Ireland", "two-letter"),
        ("/customerProfile/address/country", "ie", "two-letter"),
        ("/details/dealValue", 0, "positive"),
        ("/details/dealValue", -5, "positive"),
        ("/details/dealValue", "abc", "positive"),
        ("/details/currency", "euro", "ISO 4217"),
        ("/status", "Active", "not valid with status"),
        ("/substatus", "Won", "not valid with status"),
        ("/type", "Private", "type"),
        ("/customerProfile/team", [], "customer contact"),
        ("/details/requirements/solutions", [], "solution"),
        ("/name", "", "name is required"),
    ],
)
def test_validation_rules(path, value, problem):
    problems = referral_problems(changed(valid_cosell(), path, value))
    assert any(problem in p for p in problems), problems


def test_private_deal_needs_neither_contact_nor_solution():
    private = changed(valid_cosell(), "/consent/consentToShareReferralWithMicrosoftSellers", False)
    private = changed(private, "/type", "Independent")
    private["customerProfile"]["team"] = []
    private["details"]["requirements"]["solutions"] = []
    assert referral_problems(private) == []


@pytest.mark.parametrize(
    ("before", "after", "problem"),
    [
        ({"status": "Closed"}, {"status": "Active"}, "cannot move"),
        ({"status": "Active"}, {"status": "New"}, "cannot move"),
        (
            {"consent": {"consentToShareReferralWithMicrosoftSellers": True}},
            {"consent": {"consentToShareReferralWithMicrosoftSellers": False}},
            "private again",
        ),
        ({"type": "Shared"}, {"type": "Independent"}, "Shared"),
    ],
)
def test_transition_rules(before, after, problem):
    assert any(problem in p for p in transition_problems(before, after))


def test_allowed_transitions_pass():
    before = copy.deepcopy(valid_cosell())
    after = changed(changed(before, "/status", "Active"), "/substatus", "Accepted")
    assert transition_problems(before, after) == []
