"""Salesforce opportunity record <-> canonical deal, rule by rule (B2 settings, B8 fields)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from shared.core import salesforce_fields as f
from shared.core.canonical import Address, CanonicalDeal, Contact, Solution
from shared.core.mapping import (
    deal_from_salesforce,
    employees_for_size,
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
    size_for_employees,
)
from tests.unit.builders import (
    OPPORTUNITY_ID,
    REFERRAL_ID,
    a_contact_role,
    a_settings,
    a_solution_record,
    an_opportunity,
    children,
)

SETTINGS = a_settings()


def test_an_opportunity_maps_every_synced_field():
    deal = deal_from_salesforce(an_opportunity(), SETTINGS)
    assert deal == CanonicalDeal(
        name="Contoso - Data platform modernisation",
        customer_name="Contoso Ltd",
        customer_address=Address(
            street="1 Main St", city="Redmond", state="WA", postal_code="98052", country="US"
        ),
        customer_size="51to250employees",
        contacts=(
            Contact(
                first_name="Sue",
                last_name="Smith",
                email="sue@contoso.example",
                phone="+15550101",
                title="CTO",
            ),
        ),
        deal_value=Decimal("50000.00"),
        currency="USD",
        close_date=date(2025, 11, 14),
        status="Active",
        substatus="Accepted",
        help_requested="CustomerTechnicalArchitecture",
        visible=True,
        solutions=(
            Solution(id="SOL-15974-MQF", name="Contoso App", publisher="Contoso", solution_type="3P"),
        ),
        notes="Customer wants a migration plan",
        microsoft_crm_id=None,
        referral_id=REFERRAL_ID,
        opportunity_id=OPPORTUNITY_ID,
    )


@pytest.mark.parametrize("name", ["✔ Deal", "✖ Deal", "✔ ✖ Deal", "Deal ✔", "Deal"])
def test_the_sync_mark_is_never_part_of_the_synced_name(name):
    assert deal_from_salesforce(an_opportunity(Name=name), SETTINGS).name == "Deal"


@pytest.mark.parametrize(
    ("setting", "record", "country"),
    [
        ("Account.BillingCountry", {"Account": {"BillingCountry": "Germany"}}, "DE"),
        ("Account.BillingCountry", {"Account": {"BillingCountry": "deu"}}, "DE"),
        ("Account.Country_Code__c", {"Account": {"Country_Code__c": "fr"}}, "FR"),
        ("Opportunity.Customer_Country__c", {"Customer_Country__c": "Japan"}, "JP"),
        # a plain name is an Account field, as in the original connector
        ("Country_Code__c", {"Account": {"Country_Code__c": "fr"}}, "FR"),
        ("Account.BillingCountry", {"Account": {"BillingCountry": None}}, None),
        ("Account.BillingCountry", {"Account": None}, None),
        # kept as written so validation can say which value is wrong
        ("Account.BillingCountry", {"Account": {"BillingCountry": "Atlantis"}}, "Atlantis"),
    ],
)
def test_the_country_is_read_from_the_configured_field_and_normalised(setting, record, country):
    deal = deal_from_salesforce(an_opportunity(**record), a_settings(account_country_field=setting))
    assert deal.customer_address.country == country


def test_a_lookup_country_path_is_refused_at_start_with_the_reason():
    with pytest.raises(ValueError, match="cannot be written back"):
        a_settings(account_country_field="Account.Country__r.Code__c")


def test_deal_value_and_currency_come_from_the_configured_fields():
    settings = a_settings(deal_value_field="Total_Value__c", deal_currency_field="Deal_Currency__c")
    opp = an_opportunity(Total_Value__c=1234.5, Deal_Currency__c="eur")
    deal = deal_from_salesforce(opp, settings)
    assert (deal.deal_value, deal.currency) == (Decimal("1234.50"), "EUR")


@pytest.mark.parametrize("currency_field", ["", "CurrencyIsoCode"])
def test_a_single_currency_org_uses_the_default_currency(currency_field):
    opp = an_opportunity()
    del opp["CurrencyIsoCode"]
    settings = a_settings(deal_currency_field=currency_field, default_currency="EUR")
    assert deal_from_salesforce(opp, settings).currency == "EUR"


@pytest.mark.parametrize(
    ("help_value", "visibility", "help_requested", "visible"),
    [
        ("ProofOfConceptOrDemo", None, "ProofOfConceptOrDemo", True),  # visible by default with help
        ("ProofOfConceptOrDemo;QuotesOrLicensing", f.VISIBLE, "ProofOfConceptOrDemo;QuotesOrLicensing", True),
        ("ProofOfConceptOrDemo", f.HIDDEN, "ProofOfConceptOrDemo", True),  # help makes it co-sell: visible
        ("Unknown", None, None, False),
        (None, f.VISIBLE, None, True),
        (None, None, None, False),
    ],
)
def test_help_and_visibility(help_value, visibility, help_requested, visible):
    deal = deal_from_salesforce(an_opportunity(**{f.HELP: help_value, f.VISIBILITY: visibility}), SETTINGS)
    assert (deal.help_requested, deal.visible) == (help_requested, visible)


@pytest.mark.parametrize(
    ("stage", "recorded", "flags", "status"),
    [
        ("Prospecting", "New/Pending", {}, ("New", "Pending")),
        ("Qualification", "New/Pending", {}, ("Active", "Accepted")),  # accepted by the stage move
        ("Closed Lost", "New/Pending", {"IsClosed": True}, ("Closed", "Declined")),  # declined
        ("Closed Lost", "Active/Accepted", {"IsClosed": True}, ("Closed", "Lost")),
        ("Closed Won", "Active/Accepted", {"IsClosed": True, "IsWon": True}, ("Closed", "Won")),
        ("Prospecting", None, {}, ("New", "Pending")),
    ],
)
def test_status_comes_from_the_stage_and_the_recorded_partner_center_status(stage, recorded, flags, status):
    opp = an_opportunity(StageName=stage, **{f.REFERRAL_STATUS: recorded}, **flags)
    deal = deal_from_salesforce(opp, SETTINGS)
    assert (deal.status, deal.substatus) == status


def test_missing_parents_and_children_map_to_empty_values():
    opp = an_opportunity(Account=None, OpportunityContactRoles=None, **{f.SOLUTIONS_RELATIONSHIP: None})
    deal = deal_from_salesforce(opp, SETTINGS)
    assert deal.customer_name is None
    assert deal.customer_address == Address()
    assert deal.contacts == ()
    assert deal.solutions == ()


def test_contacts_and_solutions_compare_as_sets():
    roles = [
        a_contact_role(Email="B@x.example", LastName="B"),
        a_contact_role(Email="a@x.example", LastName="A"),
    ]
    solutions = [a_solution_record(**{f.SOLUTION_ID: "SOL-2"}), a_solution_record(**{f.SOLUTION_ID: "SOL-1"})]
    one = deal_from_salesforce(
        an_opportunity(
            OpportunityContactRoles=children(*roles), **{f.SOLUTIONS_RELATIONSHIP: children(*solutions)}
        ),
        SETTINGS,
    )
    other = deal_from_salesforce(
        an_opportunity(
            OpportunityContactRoles=children(*reversed(roles)),
            **{f.SOLUTIONS_RELATIONSHIP: children(*reversed(solutions), solutions[0])},
        ),
        SETTINGS,
    )
    assert one == other
    assert [c.email for c in one.contacts] == ["a@x.example", "b@x.example"]
    assert [s.id for s in one.solutions] == ["SOL-1", "SOL-2"]


@pytest.mark.parametrize(
    ("employees", "size"),
    [
        (None, None),
        (0, None),
        (1, "1to9employees"),
        (9, "1to9employees"),
        (10, "10to50employees"),
        (51, "51to250employees"),
        (1000, "251to1000employees"),
        (20001, "Morethan20000employees"),
    ],
)
def test_employee_count_maps_to_a_customer_size(employees, size):
    assert size_for_employees(employees) == size


@pytest.mark.parametrize(
    ("size", "employees"),
    [("51to250employees", 51), ("Morethan20000employees", 20001), ("51to500employees", 51), ("odd", None)],
)
def test_customer_size_maps_to_an_employee_count_inside_it(size, employees):
    assert employees_for_size(size) == employees


def test_opportunity_fields_for_each_changed_value():
    changes = {
        "name": "New name",
        "deal_value": "99.5",
        "currency": "EUR",
        "close_date": "2026-01-31",
        "help_requested": "QuotesOrLicensing",
        "visible": True,
        "notes": "From Microsoft",
        "microsoft_crm_id": "7-ABC123",
        "referral_id": "r-1",
        "contacts": [],  # not an opportunity field
        "customer_name": "Contoso",  # an account field
    }
    fields = salesforce_opportunity_fields(changes, SETTINGS, current_stage="Qualification")
    assert fields == {
        "Name": "New name",
        "Amount": 99.5,
        "CurrencyIsoCode": "EUR",
        "CloseDate": "2026-01-31",
        f.HELP: "QuotesOrLicensing",
        f.VISIBILITY: f.VISIBLE,
        "Description": "From Microsoft",
        f.MSFT_CRM_ID: "7-ABC123",
        f.REFERRAL_ID: "r-1",
        f.REFERRAL_LINK: "https://partner.microsoft.com/dashboard/referrals/v2/leads/r-1/details",
    }


def test_a_changed_name_can_carry_its_mark():
    fields = salesforce_opportunity_fields({"name": "✖ Deal"}, SETTINGS, current_stage=None, mark_ok=True)
    assert fields == {"Name": "✔ Deal"}


@pytest.mark.parametrize(
    ("current_stage", "status", "fields"),
    [
        ("Prospecting", ("Active", "Accepted"), {"StageName": "Qualification"}),
        ("Needs Analysis", ("Active", "Accepted"), {}),  # already an open stage: left alone
        ("Qualification", ("Closed", "Won"), {"StageName": "Closed Won"}),
        ("Closed Lost", ("Closed", "Declined"), {}),
        (None, ("New", "Pending"), {"StageName": "Prospecting"}),
    ],
)
def test_a_status_change_writes_the_stage_only_when_it_does_not_already_match(current_stage, status, fields):
    changes = {"status": status[0], "substatus": status[1]}
    result = salesforce_opportunity_fields(changes, SETTINGS, current_stage=current_stage)
    assert result == {f.REFERRAL_STATUS: f"{status[0]}/{status[1]}", **fields}


def test_status_without_substatus_is_a_programming_error():
    with pytest.raises(ValueError, match="together"):
        salesforce_opportunity_fields({"status": "Active"}, SETTINGS, current_stage=None)


def test_single_currency_orgs_get_no_currency_field():
    fields = salesforce_opportunity_fields(
        {"currency": "EUR"}, a_settings(deal_currency_field=""), current_stage=None
    )
    assert fields == {}


@pytest.mark.parametrize(
    ("setting", "opportunity", "account"),
    [
        ("Account.BillingCountry", {}, {"BillingCountry": "DE"}),
        ("Account.Country_Code__c", {}, {"Country_Code__c": "DE"}),
        ("Opportunity.Customer_Country__c", {"Customer_Country__c": "DE"}, {}),
        ("Country_Code__c", {}, {"Country_Code__c": "DE"}),
    ],
)
def test_the_country_is_written_to_the_configured_field(setting, opportunity, account):
    settings = a_settings(account_country_field=setting)
    changes = {"customer_country": "DE"}
    assert salesforce_opportunity_fields(changes, settings, current_stage=None) == opportunity
    assert salesforce_account_fields(changes, settings) == account


def test_account_fields_for_customer_changes():
    changes = {
        "customer_name": "Contoso GmbH",
        "customer_street": "Hauptstr. 1\nHinterhaus",
        "customer_city": "Berlin",
        "customer_state": None,
        "customer_postal_code": "10115",
        "customer_size": "251to1000employees",
        "deal_value": "1.00",  # an opportunity field
    }
    assert salesforce_account_fields(changes, SETTINGS) == {
        "Name": "Contoso GmbH",
        "BillingStreet": "Hauptstr. 1\nHinterhaus",
        "BillingCity": "Berlin",
        "BillingState": None,
        "BillingPostalCode": "10115",
        "NumberOfEmployees": 251,
    }


def test_contact_and_solution_records():
    contact = {
        "first_name": "Ana",
        "last_name": "Lee",
        "email": "ana@x.example",
        "phone": None,
        "title": None,
    }
    assert salesforce_contact_fields(contact) == {
        "FirstName": "Ana",
        "LastName": "Lee",
        "Email": "ana@x.example",
        "Phone": None,
        "Title": None,
    }
    solution = {"id": "SOL-1", "name": "App", "publisher": "Contoso", "solution_type": "3P"}
    assert salesforce_solution_fields(solution) == {
        f.SOLUTION_ID: "SOL-1",
        f.SOLUTION_NAME: "App",
        f.SOLUTION_PUBLISHER: "Contoso",
        f.SOLUTION_TYPE: "3P",
    }
