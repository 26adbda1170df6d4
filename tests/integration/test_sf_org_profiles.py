"""The connector against the simulator's org profiles (issue #14): it learns the org from describe,
adapts its writes (currency, country code field, duplicate rules, text lengths), refuses an org that
fails a required check, and `doctor` names the fix."""

from __future__ import annotations

import pytest

from shared.core import salesforce_fields as F
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.partner_center.referral_client import PartnerCenterClient
from shared.salesforce.new_opportunity import NewContact, NewOpportunity
from shared.salesforce.org_checks import OrgNotReady, org_checks, require_ready_org
from shared.store.audit import Outcome
from shared.sync.job_runner import run_job
from tests.integration.sf_helpers import make_client, sim_settings
from tests.integration.sync_fixtures import Sync

pytestmark = pytest.mark.integration
PROFILES = ("ideal", "new_org", "enterprise")


def failing(settings, client) -> list[str]:
    return [f"{c.label} — {c.fix}" for c in org_checks(settings, client.org()) if c.required and not c.ok]


@pytest.mark.parametrize("sf_profile", PROFILES)
def test_the_default_settings_pass_every_required_check_on_each_profile(sf_client, sf_profile):
    assert failing(sf_client.settings, sf_client) == []
    org = sf_client.org()
    assert org.multi_currency is (sf_profile != "new_org")
    assert org.country_picklists is (sf_profile == "new_org")
    assert org.record_type is not None
    assert org.record_type.developer_name == ("New_Business" if sf_profile == "enterprise" else "Master")


def test_the_description_is_read_once_and_cached(sf_client):
    sf_client.org()
    calls = sf_client.call_counts["describe"]
    sf_client.org()
    sf_client.get_opportunity("006000000000000AAA")
    assert sf_client.call_counts["describe"] == calls


@pytest.mark.parametrize(
    ("sf_profile", "overrides", "options", "fix"),
    [
        ("new_org", {"deal_currency_field": "CurrencyIsoCode"}, {}, "set DEAL_CURRENCY_FIELD to auto"),
        ("ideal", {"active_stage_name": "Working"}, {}, "set ACTIVE_STAGE_NAME to one of: Prospecting"),
        # the Renewal sales process has no Prospecting (the on-hold stage)
        ("enterprise", {"sf_opportunity_record_type": "Renewal"}, {}, "set ON_HOLD_STAGE_NAME to one of"),
        ("enterprise", {"sf_opportunity_record_type": "Upsell"}, {}, "set SF_OPPORTUNITY_RECORD_TYPE"),
        ("ideal", {"account_country_field": "Account.Country__c"}, {}, "set ACCOUNT_COUNTRY_FIELD to auto"),
        ("ideal", {}, {"read_only_fields": [f"Opportunity.{F.HELP}"]}, "give the integration user Edit"),
    ],
    ids=["currency", "stage", "record-type-stages", "record-type", "country", "field-permission"],
)
def test_a_wrong_setting_or_permission_fails_a_required_check_naming_the_fix(
    sf_sim, sf_control, settings, *, sf_profile, overrides, options, fix
):
    if options:
        sf_control.set_profile(sf_profile, **options)
    client = make_client(sf_sim, sim_settings(sf_sim, settings, **overrides))
    problems = failing(client.settings, client)
    assert any(fix in p for p in problems), problems
    with pytest.raises(OrgNotReady) as refused:
        require_ready_org(client)
    assert fix in str(refused.value)


def test_the_worker_refuses_an_org_failing_a_check_before_any_write(sf_sim, sf_control, settings, pc_sim):
    bad = sim_settings(sf_sim, settings, active_stage_name="Working", **pc_sim.settings_overrides())
    client = make_client(sf_sim, bad)
    job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id="006000000000001AAA", source=JobSource.POLL)
    with PartnerCenterClient(bad) as pc, pytest.raises(OrgNotReady, match="ACTIVE_STAGE_NAME"):
        run_job(job, settings=bad, pc=pc, sf=client)
    assert client.call_counts["create"] + client.call_counts["composite"] == 0


def new_referral(referral_id: str = "ref-profile-1", **account: object) -> NewOpportunity:
    return NewOpportunity(
        referral_id=referral_id,
        fields={
            "Name": "Fabrikam deal",
            "StageName": "Prospecting",
            "CloseDate": "2030-01-31",
            "CurrencyIsoCode": "USD",
            F.REFERRAL_ID: referral_id,
        },
        account_name=str(account.pop("name", "Fabrikam")),
        account_fields={"BillingCountry": "DE", "BillingCity": "Berlin", **account},
        contacts=(
            NewContact(
                "kai@fabrikam.example",
                {"FirstName": "Kai", "LastName": "Meyer", "Email": "kai@fabrikam.example"},
                primary=True,
            ),
        ),
    )


@pytest.mark.parametrize("sf_profile", ["new_org"])
def test_a_new_org_takes_the_country_code_in_its_code_field_and_no_currency(sf_client, sf_control):
    opportunity_id = sf_client.create_with_children(new_referral())
    assert opportunity_id
    opp = sf_control.record("Opportunity", opportunity_id)
    account = sf_control.record("Account", opp["AccountId"])
    assert (account["BillingCountryCode"], account["BillingCountry"]) == ("DE", "Germany")
    assert "CurrencyIsoCode" not in opp


@pytest.mark.parametrize("sf_profile", ["enterprise"])
def test_an_enterprise_org_gets_the_configured_record_type_and_its_currency(sf_sim, sf_control, settings):
    client = make_client(
        sf_sim,
        sim_settings(
            sf_sim, settings, sf_opportunity_record_type="Renewal", on_hold_stage_name="Qualification"
        ),
    )
    new = new_referral()
    new = NewOpportunity(**{**new.__dict__, "fields": {**new.fields, "StageName": "Perception Analysis"}})
    opp = sf_control.record("Opportunity", client.create_with_children(new) or "")
    assert opp["RecordTypeId"][:15] == client.org().record_type.record_type_id[:15]  # type: ignore[union-attr]
    assert opp["CurrencyIsoCode"] == "USD"


@pytest.mark.parametrize("sf_profile", ["new_org"])
def test_a_duplicate_rule_match_links_the_existing_account_and_contact_and_says_so(sf_client, sf_control):
    existing_account = sf_control.create_account("Fabrikam Inc.", BillingCountryCode="DE")
    existing_contact = sf_control.create_record(
        "Contact",
        FirstName="Kai",
        LastName="Meyer",
        Email="kai.meyer@fabrikam.example",
        AccountId=existing_account,
    )
    new = new_referral(name="Fabrikam")  # not the exact name our own lookup matches
    new = NewOpportunity(
        **{**new.__dict__, "contacts": (NewContact(None, {"FirstName": "Kai", "LastName": "Meyer"}),)}
    )
    sf_client.take_adaptations()
    opp = sf_control.record("Opportunity", sf_client.create_with_children(new) or "")
    assert opp["AccountId"][:15] == existing_account[:15]
    [role] = sf_control.query(
        f"SELECT ContactId FROM OpportunityContactRole WHERE OpportunityId = '{opp['Id']}'"
    )
    assert role["ContactId"][:15] == existing_contact[:15]
    assert len(sf_control.records("Account")) == 1
    notes = sf_client.take_adaptations()
    assert any("Account" in n and "duplicate rule" in n for n in notes), notes


@pytest.mark.parametrize("sf_profile", ["new_org"])
def test_allow_save_saves_the_duplicate_instead(sf_sim, sf_control, settings):
    sf_control.create_account("Fabrikam Inc.")
    client = make_client(sf_sim, sim_settings(sf_sim, settings, sf_on_duplicate="allow_save"))
    assert client.create_with_children(new_referral(name="Fabrikam"))
    assert len(sf_control.records("Account")) == 2


@pytest.mark.parametrize("sf_profile", ["new_org"])
def test_the_stepwise_path_links_a_duplicate_too(sf_client, sf_control):
    existing = sf_control.create_account("Fabrikam Ltd")
    assert sf_client.find_or_create_account("Fabrikam", {"BillingCountry": "DE"})[:15] == existing[:15]


@pytest.mark.parametrize("sf_profile", PROFILES)
def test_over_long_text_is_cut_to_the_field_length_and_audited(sf_client, sf_control):
    contact = NewContact(
        "long@fabrikam.example",
        {
            "FirstName": "K" * 50,
            "LastName": "Meyer",
            "Phone": "+49 " + "1" * 60,
            "Email": "long@fabrikam.example",
        },
    )
    new = new_referral(BillingCity="B" * 55)
    new = NewOpportunity(**{**new.__dict__, "contacts": (contact,)})
    sf_client.take_adaptations()
    opp = sf_control.record("Opportunity", sf_client.create_with_children(new) or "")
    account = sf_control.record("Account", opp["AccountId"])
    assert account["BillingCity"] == "B" * 40
    [person] = sf_control.query("SELECT FirstName, Phone FROM Contact WHERE Email = 'long@fabrikam.example'")
    assert (len(person["FirstName"]), len(person["Phone"])) == (40, 40)
    notes = sf_client.take_adaptations()
    assert any("Contact.FirstName cut to its 40 characters" in n for n in notes), notes


@pytest.mark.parametrize("sf_profile", ["new_org"])
def test_a_microsoft_referral_whose_customer_matches_an_existing_account_links_to_it(sync: Sync, sf_profile):
    referral = sync.pcc.send_referral()
    customer = referral["customerProfile"]["name"]
    existing = sync.sfc.create_account(f"{customer} Inc.")  # a fuzzy match: the standard rule's, not ours
    result = sync.referral(referral["id"], "referral-created")
    assert result.outcome is Outcome.OK, result
    [opp] = sync.opps_for(referral["id"])
    assert opp["AccountId"][:15] == existing[:15]
    assert len(sync.sfc.records("Account")) == 1
    assert any(c.startswith("adapted:") and "duplicate" in c for c in result.conflicts), result  # audited


@pytest.mark.parametrize("sf_profile", PROFILES)
def test_doctor_prints_the_checklist_and_exits_zero_when_ready(cli, sf_profile):
    registered = cli("register-webhooks", "--no-test-event")
    assert registered.exit_code == 0, registered.output
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "✔ Stages" in result.output and result.output.rstrip().endswith("ready to sync")
    assert "✖" not in result.output


def test_doctor_exits_non_zero_naming_the_fix(cli, ops_settings):
    result = cli("doctor", settings=ops_settings.model_copy(update={"won_stage_name": "Won"}))
    assert result.exit_code == 1, result.output
    assert "✖ Stage 'Won' of WON_STAGE_NAME" in result.output
    assert "set WON_STAGE_NAME to one of:" in result.output
    assert "✖ Webhook registration" in result.output  # nothing registered yet: the fix is named
