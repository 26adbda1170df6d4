"""The org checks over hand-made org descriptions (no simulator): settings resolved from the org,
the fix each failing check names, and what the writes adapt."""

from __future__ import annotations

from shared.core import salesforce_fields as F
from shared.salesforce.classify import DuplicatesDetected, classify
from shared.salesforce.org_checks import org_checks
from shared.salesforce.org_profile import (
    FieldInfo,
    ObjectInfo,
    OrgDescription,
    RecordTypeInfo,
    choose_record_type,
    resolved_country_path,
    resolved_currency_field,
)
from tests.unit.builders import a_settings

STAGES = ("Prospecting", "Qualification", "Closed Won", "Closed Lost")
MASTER = RecordTypeInfo("Master", "012000000000000AAA", master=True, available=True, default=True)


def fields(*names: str, read_only: tuple[str, ...] = ()) -> dict[str, FieldInfo]:
    return {n.lower(): FieldInfo(n, "string", 40, n not in read_only, n not in read_only) for n in names}


def an_org(
    *, multi_currency: bool = False, picklists: bool = True, read_only: tuple[str, ...] = ()
) -> OrgDescription:
    settings = a_settings()
    opp = [
        "Name",
        "StageName",
        "CloseDate",
        "Description",
        "AccountId",
        settings.deal_value_field,
        F.SYNC,
        F.REFERRAL_ID,
        F.REFERRAL_LINK,
        F.HELP,
        F.VISIBILITY,
        F.MSFT_CRM_ID,
        F.AUDIT,
        F.REFERRAL_STATUS,
    ]
    if multi_currency:
        opp.append("CurrencyIsoCode")
    account = [
        "Name",
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "NumberOfEmployees",
    ] + (["BillingCountryCode"] if picklists else [])
    objects = {
        "opportunity": ObjectInfo("Opportunity", True, fields(*opp, read_only=read_only), (MASTER,)),
        "account": ObjectInfo("Account", True, fields(*account)),
        "contact": ObjectInfo(
            "Contact", True, fields("FirstName", "LastName", "Email", "Phone", "Title", "AccountId")
        ),
        "opportunitycontactrole": ObjectInfo(
            F.CONTACT_ROLE, True, fields("OpportunityId", "ContactId", "Role", "IsPrimary")
        ),
        F.SOLUTION.lower(): ObjectInfo(
            F.SOLUTION,
            True,
            fields(
                F.SOLUTION_OPPORTUNITY, F.SOLUTION_ID, F.SOLUTION_NAME, F.SOLUTION_PUBLISHER, F.SOLUTION_TYPE
            ),
        ),
        "contentnote": ObjectInfo("ContentNote", True, fields("Title", "Content")),
    }
    return OrgDescription(objects, frozenset(objects), MASTER, None, STAGES, None)


def failures(settings, org) -> list[str]:
    return [f"{c.label} — {c.fix}" for c in org_checks(settings, org) if c.required and not c.ok]


def test_auto_settings_resolve_from_the_org():
    settings = a_settings(deal_currency_field="auto", account_country_field="auto")
    assert resolved_currency_field(settings, an_org(multi_currency=False)) == ""
    assert resolved_currency_field(settings, an_org(multi_currency=True)) == "CurrencyIsoCode"
    assert resolved_country_path(settings, an_org(picklists=True)) == ("Account", "BillingCountryCode")
    assert resolved_country_path(settings, an_org(picklists=False)) == ("Account", "BillingCountry")
    assert failures(settings, an_org()) == []


def test_an_explicit_currency_field_in_a_single_currency_org_names_the_fix():
    problems = failures(a_settings(deal_currency_field="CurrencyIsoCode"), an_org(multi_currency=False))
    assert any("does not exist — set DEAL_CURRENCY_FIELD to auto" in p for p in problems), problems


def test_a_stage_outside_the_sales_process_names_the_setting_and_the_valid_stages():
    [problem] = failures(a_settings(won_stage_name="Won"), an_org(multi_currency=True))
    assert (
        "WON_STAGE_NAME" in problem
        and "one of: Prospecting, Qualification, Closed Won, Closed Lost" in problem
    )


def test_a_read_only_field_fails_the_permission_check():
    [problem] = failures(a_settings(), an_org(multi_currency=True, read_only=(F.HELP,)))
    assert f"Opportunity.{F.HELP} (read-only)" in problem and "Edit access" in problem


def test_the_record_type_is_the_setting_or_the_users_default():
    renewal = RecordTypeInfo("Renewal", "0125g0000000002AAA", master=False, available=True, default=False)
    new_business = RecordTypeInfo(
        "New_Business", "0125g0000000001AAA", master=False, available=True, default=True
    )
    types = (renewal, new_business, MASTER)
    assert choose_record_type(types, "") == (new_business, None)
    assert choose_record_type(types, "renewal") == (renewal, None)
    chosen, problem = choose_record_type(types, "Upsell")
    assert chosen is None and "Renewal, New_Business" in str(problem)


def test_duplicates_detected_carries_the_matched_ids_best_first():
    body = [
        {
            "errorCode": "DUPLICATES_DETECTED",
            "message": "Use one of these records?",
            "fields": [],
            "duplicateResult": {
                "matchResults": [
                    {
                        "matchRecords": [
                            {"matchConfidence": 80.0, "record": {"Id": "001A"}},
                            {"matchConfidence": 95.0, "record": {"Id": "001B"}},
                        ]
                    }
                ]
            },
        }
    ]
    error = classify(400, body).error()
    assert isinstance(error, DuplicatesDetected)
    assert error.matches == ("001B", "001A")


def test_doctor_says_whether_the_partner_team_can_include_the_opportunity_team():
    from dataclasses import replace

    from shared.salesforce.org_checks import check_teams

    assert check_teams(a_settings(), replace(an_org(), global_names=frozenset({"opportunityteammember"}))).ok
    off = check_teams(a_settings(), replace(an_org(), global_names=frozenset()))
    assert (off.ok, off.required) == (True, False)  # advice: the sync runs, owner only
    assert "only the opportunity owner" in off.label and "Enable Team Selling" in off.label


def test_custom_mappings_and_defaults_are_checked_against_the_org():
    import json

    mapped = a_settings(
        custom_mappings=json.dumps(
            [{"name": "region", "salesforce": "Region__c", "partner_center": "x/region"}]
        ),
        create_defaults=json.dumps({"Account.Industry": "Other"}),
    )
    problems = " ".join(failures(mapped, an_org(multi_currency=True)))
    assert "Opportunity.Region__c (mapping region) does not exist" in problems
    assert "Account.Industry (CREATE_DEFAULTS)" in problems
    assert not failures(a_settings(), an_org(multi_currency=True))
