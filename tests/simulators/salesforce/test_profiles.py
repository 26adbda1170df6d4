"""Org profiles over real HTTP, through simple-salesforce: what each profile refuses, with the error
bodies Salesforce documents, and what describe tells the app about the org."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from devstack.sf_sim import SalesforceSimulator
from devstack.sf_sim.profiles import MASTER_RECORD_TYPE_ID, NEW_BUSINESS, RENEWAL
from tests.simulators.salesforce.conftest import client

ALLOW = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}


def refused(call: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 400
    content: Any = caught.value.content
    return list(content)


def fields_of(sf: Any, sobject: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}


# ---------------------------------------------------------------- profile selection
def test_the_default_profile_is_ideal_and_the_control_api_switches_and_resets(ideal):
    sf, control = ideal
    assert control.profile()["name"] == "ideal"
    assert "CurrencyIsoCode" in fields_of(sf, "Opportunity")
    assert control.set_profile("new_org")["name"] == "new_org"
    assert "CurrencyIsoCode" not in fields_of(sf, "Opportunity")
    control.reset()  # back to the simulator's own profile
    assert control.profile()["name"] == "ideal"
    with SalesforceSimulator() as plain:
        assert plain.org.profile.name == "ideal"


def test_unknown_profile_is_refused(ideal):
    _sf, control = ideal
    with pytest.raises(Exception, match="unknown org profile"):
        control.set_profile("galactic")


# ---------------------------------------------------------------- new_org: single currency
def test_new_org_has_no_currency_field_anywhere(new_org):
    sf, _control = new_org
    body = refused(sf.query, "SELECT Id, CurrencyIsoCode FROM Opportunity")
    assert body[0]["errorCode"] == "INVALID_FIELD"
    assert body[0]["message"].startswith("No such column 'CurrencyIsoCode' on entity 'Opportunity'.")
    body = refused(sf.query, "SELECT Id FROM Account WHERE CurrencyIsoCode = 'USD'")
    assert body[0]["errorCode"] == "INVALID_FIELD"
    body = refused(sf.Opportunity.create, {"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01",
                                           "CurrencyIsoCode": "USD"})  # fmt: skip
    assert body == [
        {
            "message": "No such column 'CurrencyIsoCode' on sobject of type Opportunity",
            "errorCode": "INVALID_FIELD",
            "fields": ["CurrencyIsoCode"],
        }
    ]


# ---------------------------------------------------------------- new_org: country picklists
def test_new_org_countries_are_picklist_names_and_codes_kept_in_step(new_org):
    sf, _control = new_org
    account = sf.Account.create({"Name": "Contoso", "BillingCountry": "Germany", "ShippingCountryCode": "fr"})
    got = sf.Account.get(account["id"])
    assert (got["BillingCountry"], got["BillingCountryCode"]) == ("Germany", "DE")
    assert (got["ShippingCountry"], got["ShippingCountryCode"]) == ("France", "FR")
    sf.Account.update(account["id"], {"BillingCountryCode": "US"})
    assert sf.Account.get(account["id"])["BillingCountry"] == "United States"
    body = refused(sf.Account.create, {"Name": "Fabrikam", "BillingCountry": "DE"})
    assert body[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and body[0]["fields"] == ["BillingCountry"]
    assert body[0]["message"].startswith(
        "There's a problem with this country, even though it may appear correct."
    )
    body = refused(sf.Account.create, {"Name": "Fabrikam", "BillingCountryCode": "Germany"})
    assert body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    body = refused(
        sf.Account.create, {"Name": "Fabrikam", "BillingCountry": "France", "BillingCountryCode": "DE"}
    )
    assert body[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    code = fields_of(sf, "Account")["BillingCountryCode"]
    assert any(v["value"] == "DE" and v["label"] == "Germany" for v in code["picklistValues"])


def test_enterprise_countries_are_free_text(enterprise):
    sf, _control = enterprise
    account = sf.Account.create({"Name": "Contoso", "BillingCountry": "DE"})
    assert sf.Account.get(account["id"])["BillingCountry"] == "DE"
    assert "BillingCountryCode" not in fields_of(sf, "Account")


# ---------------------------------------------------------------- new_org: duplicate rules
def test_new_org_refuses_a_duplicate_account_with_the_documented_duplicate_result(new_org):
    sf, _control = new_org
    first = sf.Account.create({"Name": "Contoso Ltd."})["id"]
    body = refused(sf.Account.create, {"Name": "contoso"})
    assert body[0]["errorCode"] == "DUPLICATES_DETECTED"
    assert body[0]["message"] == "Use one of these records?"
    result = body[0]["duplicateResult"]
    assert result["duplicateRule"] == "Standard_Account_Duplicate_Rule" and result["allowSave"] is True
    match = result["matchResults"][0]
    assert match["entityType"] == "Account" and match["rule"] == "Standard_Account_Match_Rule_v1_0"
    assert match["size"] == 1 and match["success"] is True
    assert [m["record"]["Id"] for m in match["matchRecords"]] == [first]
    second = sf.Account.create({"Name": "contoso"}, headers=ALLOW)["id"]
    assert second != first


def test_new_org_contact_duplicates_by_email_or_name_on_the_account(new_org):
    sf, _control = new_org
    account = sf.Account.create({"Name": "Contoso"})["id"]
    first = sf.Contact.create({"LastName": "Doe", "FirstName": "Jo", "Email": "jo@contoso.example"})["id"]
    body = refused(sf.Contact.create, {"LastName": "Other", "Email": "JO@contoso.example"})
    assert body[0]["duplicateResult"]["matchResults"][0]["matchRecords"][0]["record"]["Id"] == first
    sf.Contact.create({"LastName": "Roe", "FirstName": "Al", "AccountId": account})
    body = refused(sf.Contact.create, {"LastName": "Roe", "FirstName": "Al", "AccountId": account})
    assert body[0]["duplicateResult"]["duplicateRule"] == "Standard_Contact_Duplicate_Rule"
    sf.Contact.create({"LastName": "Roe", "FirstName": "Al"})  # no account, no email: not a match


def test_duplicate_rules_apply_in_collections_and_composite_with_rollback(new_org):
    sf, control = new_org
    sf.Account.create({"Name": "Northwind"})
    payload = {
        "allOrNone": True,
        "records": [{"attributes": {"type": "Account"}, "Name": "Fresh"},
                    {"attributes": {"type": "Account"}, "Name": "Northwind Inc"}],
    }  # fmt: skip
    results = sf.restful("composite/sobjects", method="POST", json=payload)
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "DUPLICATES_DETECTED"
    assert "duplicateResult" in results[1]["errors"][0]
    allowed = sf.restful("composite/sobjects", method="POST", json=payload, headers=ALLOW)
    assert all(r["success"] for r in allowed)
    composite: dict[str, Any] = {
        "allOrNone": True,
        "compositeRequest": [
            {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "a",
             "body": {"Name": "Brand New", "BillingCountry": "Spain"}},
            {"method": "POST", "url": "/services/data/v59.0/sobjects/Account", "referenceId": "b",
             "body": {"Name": "Northwind"}},
        ],
    }  # fmt: skip
    answers = sf.restful("composite", method="POST", json=composite)["compositeResponse"]
    assert answers[1]["body"][0]["errorCode"] == "DUPLICATES_DETECTED"
    assert not any(r["Name"] == "Brand New" for r in control.records("Account"))
    composite["compositeRequest"][0]["body"]["BillingCountry"] = "ES"  # a code in the name field
    composite["compositeRequest"][1]["httpHeaders"] = ALLOW
    answers = sf.restful("composite", method="POST", json=composite)["compositeResponse"]
    assert answers[0]["body"][0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert answers[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"


def test_other_profiles_have_no_duplicate_rules(enterprise, ideal):
    for sf, _control in (enterprise, ideal):
        sf.Account.create({"Name": "Contoso"})
        sf.Account.create({"Name": "Contoso"})


# ---------------------------------------------------------------- enterprise: currencies
def test_enterprise_currencies_active_and_inactive(enterprise):
    sf, _control = enterprise
    opp = {"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01"}
    created = sf.Opportunity.create({**opp, "CurrencyIsoCode": "EUR"})["id"]
    assert sf.Opportunity.get(created)["CurrencyIsoCode"] == "EUR"
    body = refused(sf.Opportunity.create, {**opp, "CurrencyIsoCode": "CAD"})
    assert body[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert body[0]["fields"] == ["CurrencyIsoCode"]
    values = {
        v["value"]: v["active"] for v in fields_of(sf, "Opportunity")["CurrencyIsoCode"]["picklistValues"]
    }
    assert values == {"USD": True, "EUR": True, "GBP": True, "JPY": True, "CAD": False, "AUD": False}


# ---------------------------------------------------------------- enterprise: record types
def test_enterprise_record_types_restrict_stages(enterprise):
    sf, control = enterprise
    base = {"Name": "D", "CloseDate": "2030-01-01"}
    new = sf.Opportunity.create({**base, "StageName": "Needs Analysis"})["id"]
    assert sf.Opportunity.get(new)["RecordTypeId"] == NEW_BUSINESS.record_type_id  # the user's default
    body = refused(sf.Opportunity.create, {**base, "StageName": "Needs Analysis",
                                           "RecordTypeId": RENEWAL.record_type_id})  # fmt: skip
    assert body == [
        {
            "message": "StageName: bad value for restricted picklist field: Needs Analysis",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["StageName"],
        }
    ]
    renewal = sf.Opportunity.create({**base, "StageName": "Perception Analysis",
                                     "RecordTypeId": RENEWAL.record_type_id})["id"]  # fmt: skip
    refused(sf.Opportunity.update, renewal, {"StageName": "Prospecting"})
    rows = sf.query("SELECT Id, DeveloperName FROM RecordType WHERE SobjectType = 'Opportunity'")["records"]
    assert {r["DeveloperName"] for r in rows} == {"New_Business", "Renewal"}
    control.set_profile("enterprise", default_record_type="Renewal")
    created = sf.Opportunity.create({**base, "StageName": "Perception Analysis"})["id"]
    assert sf.Opportunity.get(created)["RecordTypeId"] == RENEWAL.record_type_id


def test_describe_shows_record_types_and_ui_api_their_stages(enterprise, new_org):
    sf, _control = enterprise
    infos = {i["developerName"]: i for i in sf.Opportunity.describe()["recordTypeInfos"]}
    assert infos["New_Business"]["defaultRecordTypeMapping"] is True
    assert infos["Master"]["master"] is True and infos["Master"]["recordTypeId"] == MASTER_RECORD_TYPE_ID
    stage = fields_of(sf, "Opportunity")["StageName"]
    assert all("validFor" in v for v in stage["picklistValues"])
    url = f"ui-api/object-info/Opportunity/picklist-values/{RENEWAL.record_type_id}/StageName"
    values = sf.restful(url)
    assert [v["value"] for v in values["values"]] == list(RENEWAL.stages)
    assert values["controllerValues"] == {} and values["values"][0]["validFor"] == []
    sf_new, _ = new_org
    assert [i["developerName"] for i in sf_new.Opportunity.describe()["recordTypeInfos"]] == ["Master"]
    assert "RecordTypeId" not in fields_of(sf_new, "Opportunity")
    master = sf_new.restful(
        f"ui-api/object-info/Opportunity/picklist-values/{MASTER_RECORD_TYPE_ID}/StageName"
    )
    assert len(master["values"]) == 10


# ---------------------------------------------------------------- every profile
@pytest.mark.parametrize("profile", ["ideal", "new_org", "enterprise"])
@pytest.mark.parametrize(
    "case",
    [
        ("Contact", "FirstName", 40, {"LastName": "X"}),
        ("Contact", "LastName", 80, {}),
        ("Contact", "Phone", 40, {"LastName": "X"}),
        ("Account", "Name", 255, {}),
        ("Account", "BillingCity", 40, {"Name": "X"}),
        ("Account", "BillingPostalCode", 20, {"Name": "X"}),
        ("Account", "BillingStreet", 255, {"Name": "X"}),
    ],
)
def test_text_lengths_are_enforced_and_described(profile_sims, profile, case):
    sobject, field, length, base = case
    sf = client(profile_sims[profile])
    assert fields_of(sf, sobject)[field]["length"] == length
    getattr(sf, sobject).create({**base, field: "x" * length}, headers=ALLOW)
    body = refused(getattr(sf, sobject).create, {**base, field: "y" * (length + 1)}, headers=ALLOW)
    assert body[0]["errorCode"] == "STRING_TOO_LONG" and body[0]["fields"] == [field]
    assert f"(max length={length})" in body[0]["message"]


def test_field_level_security_makes_a_field_read_only(ideal):
    sf, control = ideal
    control.set_profile("ideal", read_only_fields=["Opportunity.Referral_Status__c"])
    described = fields_of(sf, "Opportunity")["Referral_Status__c"]
    assert described["updateable"] is False and described["createable"] is False
    opp = sf.Opportunity.create({"Name": "D", "StageName": "Prospecting", "CloseDate": "2030-01-01"})["id"]
    body = refused(sf.Opportunity.update, opp, {"Referral_Status__c": "Active"})
    assert body[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert body[0]["fields"] == ["Referral_Status__c"]
