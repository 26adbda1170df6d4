"""SalesforceClient against the simulator over real HTTP: every operation, auth modes, errors, retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator
from shared.config import Settings
from shared.core import salesforce_fields as f
from shared.errors import ConfigError, PermanentError, TransientError
from shared.salesforce.salesforce_client import SalesforceClient
from tests.integration.sf_helpers import make_client, sim_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(sf_sim: SalesforceSimulator, sf_control: SalesforceSimControl) -> Settings:
    return sim_settings(sf_sim, sf_max_retries=3)


@pytest.fixture
def client(sf_sim: SalesforceSimulator, cfg: Settings) -> Iterator[SalesforceClient]:
    yield make_client(sf_sim, cfg)


def a_flagged_opportunity(control: SalesforceSimControl, name: str = "Contoso - Azure migration") -> str:
    account = control.create_account(
        "Contoso Ltd",
        BillingCity="Berlin",
        BillingCountry="Germany",
        BillingPostalCode="10115",
        NumberOfEmployees=250,
    )
    help_field: dict[str, Any] = {f.HELP: "ProofOfConceptOrDemo"}
    opp = control.create_opportunity(name, account_id=account, sync=True, **help_field)
    control.add_contact(
        opp, first_name="Avery", last_name="O'Brien", email="avery@contoso.example", primary=True
    )
    control.add_solution(opp, "SOL-42", "Contoso Accelerator", "Contoso Partner", "3P")
    return opp


@pytest.mark.parametrize("mode", ["jwt", "client_credentials", "password"])
def test_each_auth_mode_gets_a_session_and_queries(sf_sim, sf_control, mode):
    client = make_client(sf_sim, sim_settings(sf_sim, sf_auth_mode=mode))
    assert client.get_stages()[0]["ApiName"] == "Prospecting"
    assert client.call_counts["token"] == 1
    assert sf_control.counters()["token"] == 1


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"sf_username": "someone@else.example"}, "hasn't approved"),
        ({"sf_client_id": "wrong"}, "client identifier invalid"),
        ({"sf_auth_mode": "password", "sf_password": "nope"}, "authentication failure"),
        ({"sf_auth_mode": "client_credentials", "sf_client_secret": "nope"}, "invalid client credentials"),
    ],
)
def test_wrong_credentials_are_a_config_error_without_secrets(sf_sim, sf_control, override, expected):
    client = make_client(sf_sim, sim_settings(sf_sim, **override))
    with pytest.raises(ConfigError) as caught:
        client.get_stages()
    assert expected in str(caught.value)
    assert sf_sim.credentials.client_secret not in str(caught.value)
    assert sf_sim.credentials.password not in str(caught.value)


def test_get_opportunity_returns_everything_in_one_query(client, sf_control):
    opp = a_flagged_opportunity(sf_control)
    record = client.get_opportunity(opp)
    assert client.call_counts["query"] == 1
    assert record is not None
    assert record["Id"] == opp
    assert record["StageName"] == "Prospecting" and record["IsClosed"] is False
    assert record["Amount"] == 100000.0 and record["CurrencyIsoCode"] == "USD"
    assert record[f.SYNC] is True and record[f.HELP] == "ProofOfConceptOrDemo"
    assert record["Account"]["Name"] == "Contoso Ltd"
    assert record["Account"]["BillingCountry"] == "Germany"
    assert record["Account"]["NumberOfEmployees"] == 250
    role = record["OpportunityContactRoles"]["records"][0]
    assert role["IsPrimary"] is True and role["Contact"]["LastName"] == "O'Brien"
    solution = record[f.SOLUTIONS_RELATIONSHIP]["records"][0]
    assert solution[f.SOLUTION_ID] == "SOL-42" and solution[f.SOLUTION_TYPE] == "3P"
    assert client.get_opportunity("006000000000000AAA") is None


def test_a_custom_country_field_path_is_queried(sf_sim, sf_control):
    client = make_client(sf_sim, sim_settings(sf_sim, account_country_field="Account.BillingCountryCode"))
    sf_control.configure(country_picklists=True)
    account = sf_control.create_account("Fabrikam", BillingCountryCode="DE")
    opp = sf_control.create_opportunity(account_id=account, sync=True)
    record = client.get_opportunity(opp)
    assert record is not None
    assert record["Account"]["BillingCountryCode"] == "DE"
    assert record["Account"]["BillingCountry"] == "Germany"


def test_changed_opportunities_follows_pages_in_modstamp_order(client, sf_control):
    sf_control.configure(page_size=3)
    created = [sf_control.create_opportunity(f"Deal {i}", sync=True) for i in range(8)]
    sf_control.create_opportunity("not flagged", sync=False)
    sf_control.edit_opportunity(created[0], Description="edited last")
    from datetime import UTC, datetime, timedelta

    rows = list(client.changed_opportunities(datetime.now(UTC) - timedelta(hours=1)))
    assert [r["Id"] for r in rows] == created[1:] + created[:1]
    assert client.call_counts["query"] == 1 and client.call_counts["query_more"] == 2


def test_upsert_by_referral_id_creates_then_updates_and_encodes_the_id(client, sf_control):
    referral = "a/b c#1?x"
    body = {
        "Name": "From Partner Center",
        "StageName": "Prospecting",
        "CloseDate": "2030-01-31",
        f.SYNC: True,
    }
    opp_id, created = client.upsert_opportunity_by_referral_id(referral, body)
    assert created is True
    again, created_again = client.upsert_opportunity_by_referral_id(referral, {"Amount": 5.5})
    assert (again, created_again) == (opp_id, False)
    stored = sf_control.record("Opportunity", opp_id)
    assert stored[f.REFERRAL_ID] == referral and stored["Amount"] == 5.5
    assert client.get_opportunity_by_referral_id(referral)["Id"] == opp_id


def test_record_level_failures_are_permanent_with_salesforce_words(client, sf_control):
    opp = sf_control.create_opportunity()
    with pytest.raises(PermanentError) as missing:
        client.upsert_opportunity_by_referral_id("R-1", {"Name": "no stage"})
    assert missing.value.code == "REQUIRED_FIELD_MISSING" and "StageName" in str(missing.value)
    assert missing.value.record_id == "R-1"
    with pytest.raises(PermanentError) as picklist:
        client.update_opportunity(opp, {f.VISIBILITY: "Sometimes"})
    assert picklist.value.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert picklist.value.record_id == opp
    sf_control.add_validation_rule("Opportunity", "Description", "bad", "Description may not be 'bad'")
    with pytest.raises(PermanentError) as rule:
        client.update_opportunity(opp, {"Description": "bad"})
    assert rule.value.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "may not be 'bad'" in str(rule.value)
    assert client.call_counts["upsert"] == 1 and client.call_counts["update"] == 2  # no retries


def test_find_or_create_account_and_contact_reuse_matches(client, sf_control):
    first = client.find_or_create_account("Contoso", {"BillingPostalCode": "98052", "BillingCity": "Redmond"})
    assert client.find_or_create_account("contoso", {"BillingPostalCode": "98052"}) == first
    assert client.find_or_create_account("Contoso", {"BillingPostalCode": "10115"}) != first
    contact = client.find_or_create_contact(first, "Ana", "Díaz", "ana@contoso.example", {"Title": "CTO"})
    assert client.find_or_create_contact(first, "Ana", "Diaz", "ANA@contoso.example", {}) == contact
    assert sf_control.record("Contact", contact)["Title"] == "CTO"


def test_contact_roles_are_idempotent(client, sf_control):
    opp = sf_control.create_opportunity()
    contact = client.find_or_create_contact(None, "Bo", "Li", "bo@contoso.example", {})
    role = client.add_contact_role(opp, contact)
    assert client.add_contact_role(opp, contact) == role
    assert client.add_contact_role(opp, contact, role="Decision Maker", primary=True) == role
    roles = sf_control.records("OpportunityContactRole")
    assert len(roles) == 1 and roles[0]["Role"] == "Decision Maker" and roles[0]["IsPrimary"] is True


def test_solutions_are_created_and_deleted(client, sf_control):
    opp = sf_control.create_opportunity()
    sol = client.create_solution(
        opp, {f.SOLUTION_ID: "SOL-7", f.SOLUTION_NAME: "Seven", f.SOLUTION_TYPE: "1P"}
    )
    record = client.get_opportunity(opp)
    assert record[f.SOLUTIONS_RELATIONSHIP]["records"][0]["Id"] == sol
    client.delete_solution(sol)
    assert client.get_opportunity(opp)[f.SOLUTIONS_RELATIONSHIP] is None


def test_notes_are_attached_and_listed(client, sf_control):
    opp = sf_control.create_opportunity()
    note = client.attach_note(opp, "Partner Center update", "Line <1>\nLine & 2")
    assert client.get_note_titles(opp) == {"Partner Center update"}
    assert sf_control.note_content(note) == "<p>Line &lt;1&gt;</p><p>Line &amp; 2</p>"
    assert client.call_counts["create"] == 2


def test_collection_upsert_chunks_by_200_and_reports_per_record(client, sf_control):
    records = [
        {
            f.REFERRAL_ID: f"R-{i}",
            "Name": f"Deal {i}",
            "StageName": "Qualification",
            "CloseDate": "2030-01-01",
        }
        for i in range(450)
    ]
    records[7]["StageName"] = "Nope"
    results = client.upsert_opportunities_collection(records)
    assert client.call_counts["composite"] == 3
    assert len(results) == 450
    assert results[7]["success"] is False
    assert results[7]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert all(r["success"] and r["created"] for i, r in enumerate(results) if i != 7)
    again = client.upsert_opportunities_collection(records[:2])
    assert [r["created"] for r in again] == [False, False]


def test_lock_errors_are_retried_with_backoff(client, sf_control):
    sf_control.inject_fault("UNABLE_TO_LOCK_ROW", times=2, endpoints=["query"])
    assert client.get_stages()
    assert client.call_counts["query"] == 3
    assert len(client.slept) == 2 and client.slept[1] > client.slept[0]


def test_server_unavailable_beyond_the_retry_budget_is_transient(client, sf_control):
    sf_control.inject_fault("SERVER_UNAVAILABLE", times=10, html=True)
    with pytest.raises(TransientError) as caught:
        client.get_stages()
    assert caught.value.status == 503
    assert client.call_counts["query"] == 4  # 1 + sf_max_retries


def test_daily_limit_is_handed_back_with_a_long_delay(client, sf_control):
    sf_control.inject_fault("REQUEST_LIMIT_EXCEEDED", times=1)
    with pytest.raises(TransientError) as caught:
        client.get_stages()
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and caught.value.retry_after == 900.0
    assert client.call_counts["query"] == 1


def test_expired_session_reauthenticates_once(client, sf_control):
    client.get_stages()
    sf_control.expire_sessions()
    client.get_stages()
    assert client.call_counts["token"] == 2
    sf_control.configure(token_lifetime=0)
    with pytest.raises(ConfigError):
        client.get_stages()
    assert client.call_counts["token"] == 3


def test_hidden_custom_field_asks_for_the_permission_set(client, sf_control):
    opp = sf_control.create_opportunity()
    sf_control.configure(hidden_fields=[f"Opportunity.{f.REFERRAL_ID}"])
    with pytest.raises(ConfigError) as caught:
        client.get_opportunity(opp)
    assert "Partner_Center_Sync" in str(caught.value) and "permission set" in str(caught.value)


def test_single_currency_org(sf_sim, sf_control):
    sf_control.configure(multi_currency=False)
    opp = sf_control.create_opportunity()
    with pytest.raises(ConfigError) as caught:
        make_client(sf_sim, sim_settings(sf_sim, deal_currency_field="CurrencyIsoCode")).get_opportunity(opp)
    assert "DEAL_CURRENCY_FIELD to auto" in str(caught.value)
    for setting in ("", "auto"):  # auto: the org's description says single currency
        record = make_client(sf_sim, sim_settings(sf_sim, deal_currency_field=setting)).get_opportunity(opp)
        assert record is not None and "CurrencyIsoCode" not in record


def test_api_usage_is_read_and_slows_calls_above_the_threshold(client, sf_control):
    client.get_stages()
    assert client.api_usage is not None and client.api_usage[1] == 100_000
    assert client.slept == []
    sf_control.configure(api_used=95_000)
    client.get_stages()
    client.get_stages()
    assert client.api_usage[0] > 95_000
    assert len(client.slept) == 1 and client.slept[0] > 0


def test_update_and_read_back_is_one_composite_call_returning_the_new_stamp(client, sf_control):
    opp = sf_control.create_opportunity("Composite", sync=True)
    before = sf_control.record("Opportunity", opp)["SystemModstamp"]
    record = client.update_opportunity_and_read(opp, {"Amount": 4321.0, f.AUDIT: "line"})
    assert record is not None
    assert (record["Amount"], record[f.AUDIT]) == (4321.0, "line")
    assert record["SystemModstamp"] == sf_control.record("Opportunity", opp)["SystemModstamp"] != before
    # besides the org's description (read once a day: `SalesforceClient.org`)
    assert {k: v for k, v in client.call_counts.items() if k not in ("token", "describe")} == {"composite": 1}
    assert sf_control.counters().get("composite") == 1


def test_a_refused_update_in_a_composite_call_raises_and_changes_nothing(client, sf_control):
    opp = sf_control.create_opportunity("Composite", sync=True, amount=10.0)
    sf_control.add_validation_rule("Opportunity", "Amount", 666, "not that amount")
    with pytest.raises(PermanentError, match="not that amount"):
        client.update_opportunity_and_read(opp, {"Amount": 666.0})
    assert sf_control.record("Opportunity", opp)["Amount"] == 10.0
