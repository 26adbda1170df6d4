"""Creating an opportunity with its children in two /composite calls, against the simulator over HTTP:
references between subrequests, reuse of existing accounts and contacts, all-or-none, and the
stepwise fallback. Also the simulator's composite rules this relies on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator
from devstack.sf_sim.app import resolve_references
from shared.config import Settings
from shared.core import salesforce_fields as f
from shared.errors import PermanentError
from shared.salesforce.new_opportunity import NewContact, NewOpportunity, create_with_children
from shared.salesforce.salesforce_client import SalesforceClient
from tests.integration.sf_helpers import make_client, sim_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(sf_sim: SalesforceSimulator, sf_control: SalesforceSimControl) -> Iterator[SalesforceClient]:
    cfg: Settings = sim_settings(sf_sim, sf_max_retries=1)
    yield make_client(sf_sim, cfg)


def a_new_opportunity(referral_id: str = "ref-1", contacts: int = 2, **changes: object) -> NewOpportunity:
    values: dict[str, object] = {
        "referral_id": referral_id,
        "fields": {
            "Name": "Ünïcode Größe GmbH – Cloud",
            "StageName": "Prospecting",
            "CloseDate": "2031-01-31",
            "Amount": 1234.5,
            f.SYNC: True,
        },
        "account_name": "Größe GmbH",
        "account_fields": {
            "BillingCity": "München",
            "BillingPostalCode": "80331",
            "BillingCountry": "Germany",
        },
        "contacts": tuple(
            NewContact(
                f"buyer{n}@grosse.example", {"FirstName": "Zoë", "LastName": f"Ng {n}"}, primary=n == 0
            )
            for n in range(contacts)
        ),
        "solutions": ({f.SOLUTION_ID: "SOL-1", f.SOLUTION_NAME: "Analytics"},),
        "note": ("Partner Center note [abcd1234]", "Needs <help>\nsoon & fast"),
    }
    values.update(changes)
    return NewOpportunity(**values)  # type: ignore[arg-type]


def test_a_new_opportunity_and_all_its_children_take_two_api_calls(client, sf_control):
    sf_control.reset_counters()
    opp = create_with_children(client, a_new_opportunity())

    assert opp is not None
    counters = sf_control.counters()
    assert (counters.get("composite_query"), counters.get("composite")) == (1, 1)  # lookups, then writes
    assert not any(sf_control.counters().get(k) for k in ("create", "upsert", "query", "update"))
    record = sf_control.record("Opportunity", opp)
    assert record[f.REFERRAL_ID] == "ref-1" and record["Name"] == "Ünïcode Größe GmbH – Cloud"
    account = sf_control.record("Account", record["AccountId"])
    assert account["Name"] == "Größe GmbH" and account["BillingCity"] == "München"
    roles = sf_control.records("OpportunityContactRole")
    assert sorted((r["OpportunityId"], r["IsPrimary"]) for r in roles) == [(opp, False), (opp, True)]
    contacts = {c["Id"]: c for c in sf_control.records("Contact")}
    assert {contacts[r["ContactId"]]["AccountId"] for r in roles} == {record["AccountId"]}
    assert [s[f.SOLUTION_OPPORTUNITY] for s in sf_control.records(f.SOLUTION)] == [opp]
    assert client.get_note_titles(opp) == {"Partner Center note [abcd1234]"}


def test_an_existing_account_and_contact_are_reused_not_duplicated(client, sf_control):
    account = sf_control.create_account("Größe GmbH", BillingPostalCode="80331")
    elsewhere = sf_control.create_account("Other AG", BillingPostalCode="10115")
    sf_control.create_record("Contact", LastName="Old", Email="buyer0@grosse.example", AccountId=elsewhere)
    known = sf_control.create_record(
        "Contact", LastName="Ng", Email="BUYER0@grosse.example", AccountId=account
    )

    opp = create_with_children(client, a_new_opportunity(contacts=2))

    assert opp is not None
    assert sf_control.record("Opportunity", opp)["AccountId"] == account
    assert len(sf_control.records("Account")) == 2
    assert known in {r["ContactId"] for r in sf_control.records("OpportunityContactRole")}
    assert len(sf_control.records("Contact")) == 3  # the two existing ones and buyer1


def test_a_refused_child_rolls_everything_back(client, sf_control):
    sf_control.add_validation_rule(f.SOLUTION, f.SOLUTION_ID, "SOL-1", "Solution SOL-1 is retired")

    with pytest.raises(PermanentError, match="retired"):
        create_with_children(client, a_new_opportunity())

    for sobject in ("Opportunity", "Account", "Contact", "OpportunityContactRole", f.SOLUTION):
        assert sf_control.records(sobject) == [], sobject


def test_an_existing_opportunity_or_a_graph_too_big_for_one_call_goes_stepwise(client, sf_control):
    sf_control.create_opportunity("Already there", **{f.REFERRAL_ID: "ref-1"})
    assert create_with_children(client, a_new_opportunity("ref-1")) is None
    sf_control.reset_counters()
    assert create_with_children(client, a_new_opportunity("ref-2", contacts=12)) is None
    assert sf_control.counters().get("composite", 0) == 0  # decided before any call
    assert len(sf_control.records("Opportunity")) == 1


def test_the_simulator_refuses_more_than_five_queries_in_one_composite(client):
    query = {"method": "GET", "url": client.query_path("SELECT Id FROM Account")}
    with pytest.raises(PermanentError, match="at most 5"):
        client.composite([{**query, "referenceId": f"q{n}"} for n in range(6)], all_or_none=False)


def test_references_keep_their_type_when_whole_and_index_into_lists():
    results = {"q": {"records": [{"Id": "001A", "Amount": 5.0}]}, "acct": {"id": "001B"}}
    assert resolve_references({"Amount": "@{q.records[0].Amount}"}, results) == {"Amount": 5.0}
    assert resolve_references("/sobjects/Account/@{acct.id}", results) == "/sobjects/Account/001B"
    assert resolve_references(["@{acct.id}", 7], results) == ["001B", 7]


def test_a_rolled_back_composite_restores_updates_deletes_and_their_indexes(client, sf_control):
    opp = sf_control.create_opportunity("Kept", **{f.REFERRAL_ID: "ref-old"})
    _, role = sf_control.add_contact(opp, email="kept@contoso.example")
    patch = {"method": "PATCH", "url": client.api_path(f"sobjects/Opportunity/{opp}"), "referenceId": "u",
             "body": {f.REFERRAL_ID: "ref-new", "Amount": 1.0}}  # fmt: skip
    delete = {"method": "DELETE", "url": client.api_path(f"sobjects/OpportunityContactRole/{role}"),
              "referenceId": "d"}  # fmt: skip
    note = {"method": "POST", "url": client.api_path("sobjects/ContentNote"), "referenceId": "n",
            "body": {"Title": "gone", "Content": "PHA+eDwvcD4="}}  # fmt: skip
    bad = {"method": "POST", "url": client.api_path("sobjects/Contact"), "referenceId": "x", "body": {}}

    with pytest.raises(PermanentError, match="LastName"):
        client.composite([patch, delete, note, bad], all_or_none=True)

    assert client.get_opportunity_by_referral_id("ref-old")["Id"] == opp
    assert client.get_opportunity_by_referral_id("ref-new") is None
    assert sf_control.record("Opportunity", opp)["Amount"] != 1.0
    assert [r["Id"] for r in sf_control.records("OpportunityContactRole")] == [role]
    assert client.get_note_titles(opp) == set() and sf_control.records("ContentNote") == []
