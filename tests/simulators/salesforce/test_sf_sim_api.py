"""The simulator's wire fidelity, checked with simple-salesforce's own code paths over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from devstack.sf_sim import loopback_session
from shared.core import salesforce_fields as f

pytestmark = pytest.mark.integration


def body(exc: Any) -> Any:
    """The parsed error body simple-salesforce attaches to its exceptions."""
    return exc.content


@pytest.fixture
def sf(sf_sim, sf_control):
    creds = sf_sim.credentials
    return Salesforce(
        username=creds.username,
        consumer_key=creds.client_id,
        privatekey=creds.private_key_pem,
        domain="login",
        session=loopback_session(sf_sim.port),
        version="59.0",
    )


def test_simple_salesforce_logins_work_unchanged(sf_sim, sf_control):
    creds = sf_sim.credentials
    session = loopback_session(sf_sim.port)
    soap = Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=session,
        version="59.0",
    )
    cc = Salesforce(
        consumer_key=creds.client_id,
        consumer_secret=creds.client_secret,
        domain="cosell-sim.my",
        session=session,
        version="59.0",
    )
    for sf in (soap, cc):
        assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == 0
    assert sf_control.counters()["soap_login"] == 1


def test_expired_session_is_a_json_list_401_that_simple_salesforce_refreshes(sf, sf_control):
    sf.query("SELECT Id FROM Opportunity")
    sf_control.expire_sessions()
    assert sf.query("SELECT Id FROM Opportunity")["done"] is True
    assert sf_control.counters()["token"] == 2
    direct = Salesforce(
        instance_url=f"https://{sf.sf_instance}", session_id="bogus", session=sf.session, version="59.0"
    )
    with pytest.raises(SalesforceExpiredSession) as caught:
        direct.query("SELECT Id FROM Opportunity")
    assert body(caught.value) == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_crud_statuses_and_derived_fields(sf, sf_control):
    created = sf.Opportunity.create(
        {"Name": "X", "StageName": "Closed Won", "CloseDate": "2030-01-01", "Amount": 1000}
    )
    assert created["success"] is True and len(created["id"]) == 18
    record = sf.Opportunity.get(created["id"])
    assert (record["IsClosed"], record["IsWon"], record["Probability"], record["ForecastCategoryName"]) == (
        True,
        True,
        100.0,
        "Closed",
    )
    assert record["SystemModstamp"].endswith("+0000") and len(record["SystemModstamp"]) == 28
    assert sf.Opportunity.update(created["id"], {"StageName": "Closed Lost"}) == 204
    assert (
        sf.Opportunity.get(created["id"][:15], params={"fields": "IsWon,Probability"})["Probability"] == 0.0
    )
    assert sf.Opportunity.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Opportunity.get(created["id"])
    assert body(gone.value)[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_required_fields_and_read_only_fields_fail_in_salesforce_shape(sf, sf_control):
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Opportunity.create({"Name": "X"})
    assert body(missing.value)[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert body(missing.value)[0]["fields"] == ["StageName", "CloseDate"]
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Opportunity.create(
            {"Name": "X", "StageName": "Prospecting", "CloseDate": "2030-01-01", "IsWon": True}
        )
    assert body(read_only.value)[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_upsert_answers_300_for_a_non_unique_external_id_and_404_for_an_unknown_field(sf, sf_control):
    for _ in range(2):
        sf_control.create_opportunity(**{f.MSFT_CRM_ID: "CRM-1"})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Opportunity.upsert(f"{f.MSFT_CRM_ID}/CRM-1", {"Amount": 1})
    with pytest.raises(SalesforceResourceNotFound):
        sf.Opportunity.upsert("Nope__c/1", {"Amount": 1})
    sf_control.create_opportunity(**{f.REFERRAL_ID: "REF-1"})
    with pytest.raises(SalesforceMalformedRequest) as dup:
        sf.Opportunity.create(
            {"Name": "X", "StageName": "Prospecting", "CloseDate": "2030-01-01", f.REFERRAL_ID: "ref-1"}
        )
    assert body(dup.value)[0]["errorCode"] == "DUPLICATE_VALUE"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'alpha'", ["Alpha"]),
        ("Name != 'Alpha' AND Amount > 25", ["Gamma"]),
        ("(Amount < 15 OR Amount >= 30) AND NOT Name LIKE 'g%'", ["Alpha"]),
        ("Name IN ('Beta', 'gamma')", ["Beta", "Gamma"]),
        ("Name NOT IN ('Beta')", ["Alpha", "Gamma"]),
        ("Description = null", ["Alpha", "Gamma"]),
        ("Description != null", ["Beta"]),
        (f"{f.SYNC} = true", ["Beta"]),
        ("CloseDate <= 2030-02-01", ["Alpha", "Beta"]),
        ("SystemModstamp > 2000-01-01T00:00:00Z", ["Alpha", "Beta", "Gamma"]),
        ("SystemModstamp > 2000-01-01T00:00:00+02:00", ["Alpha", "Beta", "Gamma"]),
        ("CreatedDate = TODAY", ["Alpha", "Beta", "Gamma"]),
        (f"{f.HELP} INCLUDES ('QuotesOrLicensing')", ["Beta"]),
        ("Account.Name = 'Contoso'", ["Gamma"]),
    ],
)
def test_soql_filters(sf, sf_control, where, expected):
    account = sf_control.create_account("Contoso")
    sf_control.create_opportunity("Alpha", amount=10, close_date="2030-01-01")
    sf_control.create_opportunity(
        "Beta",
        amount=20,
        close_date="2030-02-01",
        sync=True,
        Description="d",
        **{f.HELP: "QuotesOrLicensing;GeneralOrOther"},
    )
    sf_control.create_opportunity("Gamma", amount=30, close_date="2030-03-01", account_id=account)
    rows = sf.query_all(f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Name")["records"]
    assert [r["Name"] for r in rows] == expected


def test_soql_order_limit_offset_count_and_errors(sf, sf_control):
    for name, amount in (("A", 3), ("B", None), ("C", 1)):
        sf_control.create_opportunity(name, amount=amount)
    rows = sf.query("SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST LIMIT 2 OFFSET 1")[
        "records"
    ]
    assert [r["Name"] for r in rows] == ["C", "B"]
    assert sf.query("SELECT COUNT() FROM Opportunity WHERE Amount > 0")["totalSize"] == 2
    for bad, code in (
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = '2030-01-01'", "INVALID_FIELD"),
        ("SELECT Nope__c FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Id FROM ContentDocumentLink", "MALFORMED_QUERY"),
    ):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query(bad)
        assert body(caught.value)[0]["errorCode"] == code, bad


def test_every_rest_answer_carries_the_limit_header(sf, sf_control):
    response = sf.session.get(f"{sf.base_url}sobjects/Opportunity/006000000000000AAA", headers=sf.headers)
    assert response.status_code == 404
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_collections_all_or_none_rolls_back(sf, sf_control):
    payload = {
        "allOrNone": True,
        "records": [
            {"attributes": {"type": "Account"}, "Name": "Kept?"},
            {"attributes": {"type": "Account"}},
        ],
    }
    results = sf.restful("composite/sobjects", method="POST", json=payload)
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf_control.records("Account") == []


def test_country_picklists_switch(sf, sf_control):
    with pytest.raises(SalesforceMalformedRequest):
        sf.Account.create({"Name": "X", "BillingCountryCode": "DE"})
    sf_control.configure(country_picklists=True)
    account = sf.Account.create({"Name": "X", "BillingCountryCode": "de"})["id"]
    assert sf.Account.get(account)["BillingCountry"] == "Germany"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "Y", "BillingCountry": "Atlantis"})
    assert body(caught.value)[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_modstamps_are_monotonic_milliseconds(sf_control):
    ids = [sf_control.create_opportunity(f"D{i}") for i in range(30)]
    stamps = [sf_control.record("Opportunity", i)["SystemModstamp"] for i in ids]
    assert stamps == sorted(stamps) and len(set(stamps)) == 30


def test_random_faults_are_reproducible_with_a_seed(sf, sf_control):
    outcomes = []
    for _ in range(2):
        sf_control.clear_faults()
        sf_control.inject_fault(
            "UNABLE_TO_LOCK_ROW", times=None, probability=0.5, seed=7, endpoints=["query"]
        )
        run = []
        for _ in range(12):
            try:
                sf.query("SELECT Id FROM Opportunity")
                run.append(True)
            except SalesforceMalformedRequest:
                run.append(False)
        outcomes.append(run)
    assert outcomes[0] == outcomes[1] and True in outcomes[0] and False in outcomes[0]


def test_latency_fault_delays_the_answer(sf, sf_control):
    sf_control.inject_fault("LATENCY", latency=0.3, endpoints=["query"])
    started = time.monotonic()
    sf.query("SELECT Id FROM Opportunity")
    assert time.monotonic() - started >= 0.3


def test_ten_thousand_opportunities_page_quickly(sf, sf_sim, sf_control):
    org = sf_sim.org
    for i in range(10_000):
        org.create(
            "Opportunity",
            {
                "Name": f"Bulk {i}",
                "StageName": "Prospecting",
                "CloseDate": "2030-01-01",
                f.SYNC: i % 2 == 0,
                f.REFERRAL_ID: f"R-{i}",
            },
        )
    started = time.monotonic()
    rows = list(
        sf.query_all_iter(
            f"SELECT Id, SystemModstamp FROM Opportunity WHERE {f.SYNC} = true ORDER BY SystemModstamp, Id"
        )
    )
    hit = sf.query(f"SELECT Id FROM Opportunity WHERE {f.REFERRAL_ID} = 'r-9999'")
    elapsed = time.monotonic() - started
    assert len(rows) == 5000 and hit["totalSize"] == 1
    assert elapsed < 5, elapsed
