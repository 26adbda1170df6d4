"""Round trips on generated deals (hypothesis): canonical -> Salesforce fields -> canonical, and
canonical -> Partner Center body / JSON Patch -> canonical, with odd text, every country, currencies
with 0 and 3 decimals, large and tiny values and missing optional parts."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pycountry
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core import salesforce_fields as f
from shared.core.canonical import SYNCED_FIELDS, Address, CanonicalDeal, Contact, Solution
from shared.core.mapping import (
    deal_from_partner_center,
    deal_from_salesforce,
    partner_center_create_body,
    partner_center_patch,
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
)
from shared.core.stages import VALID_STATUSES
from tests.unit.builders import a_referral, a_settings, children

COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
CURRENCIES = ["JPY", "KWD", "USD", "EUR", "BHD", "CLP", *sorted(c.alpha_3 for c in pycountry.currencies)[:40]]
STATUSES = [(s, sub) for s, subs in VALID_STATUSES.items() for sub in subs]
HELP_CODES = ["GeneralOrOther", "CustomerTechnicalArchitecture", "ProofOfConceptOrDemo", "QuotesOrLicensing"]
SIZES = [
    "1to9employees",
    "10to50employees",
    "51to250employees",
    "251to1000employees",
    "Morethan20000employees",
]
ODD = [
    'O\'Brien & "Sons"',
    "Ünïcødé GmbH",
    "שלום עולם",
    "مرحبا",
    "🚀 Rocket 🚀",
    "a\\b/c",
    "日本株式会社",
    "<b>x</b>",
]

# Text the way people type it: any letters, marks, symbols and spaces, never control characters,
# and never the sync marks (a name starting with ✔ is a mark, by definition).
text = st.one_of(
    st.sampled_from(ODD),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="✔✖✓✗✅❌✘"
        ),
        min_size=1,
        max_size=40,
    ),
)
optional_text = st.none() | text
money = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999999.99"), places=2),
    st.sampled_from([Decimal("0.01"), Decimal("1"), Decimal("999999999999.99"), Decimal("1234567.5")]),
)
email = st.builds(
    lambda user, host: f"{user}@{host}.example",
    st.from_regex(r"[A-Za-z0-9._%+-]{1,12}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True),
)

contacts = st.builds(
    Contact,
    first_name=optional_text,
    last_name=optional_text,
    email=st.none() | email,
    phone=optional_text,
    title=optional_text,
)
solutions = st.builds(
    Solution,
    id=st.from_regex(r"SOL-[0-9]{1,7}-[A-Z]{3}", fullmatch=True),
    name=optional_text,
    publisher=optional_text,
    solution_type=st.sampled_from([None, "3P", "1P"]),
)
street = st.none() | st.lists(text, min_size=1, max_size=3).map("\n".join)


@st.composite
def deals(draw) -> CanonicalDeal:
    status, substatus = draw(st.sampled_from(STATUSES))
    help_requested = draw(st.none() | st.sampled_from(HELP_CODES))
    return CanonicalDeal(
        name=draw(text),
        customer_name=draw(optional_text),
        customer_address=Address(
            street=draw(street),
            city=draw(optional_text),
            state=draw(optional_text),
            postal_code=draw(optional_text),
            country=draw(st.none() | st.sampled_from(COUNTRIES)),
        ),
        customer_size=draw(st.none() | st.sampled_from(SIZES)),
        contacts=tuple(draw(st.lists(contacts, max_size=3))),
        deal_value=draw(st.none() | money),
        currency=draw(st.sampled_from(CURRENCIES)),
        close_date=draw(st.none() | st.dates()),
        status=status,
        substatus=substatus,
        help_requested=help_requested,
        # Asking for help makes a referral co-sell, and co-sell referrals are always visible (B8).
        visible=draw(st.booleans()) or help_requested is not None,
        solutions=tuple(draw(st.lists(solutions, max_size=3))),
        notes=draw(optional_text),
        microsoft_crm_id=draw(optional_text),
        referral_id=draw(st.none() | st.uuids().map(str)),
        opportunity_id=draw(st.from_regex(r"006[A-Za-z0-9]{15}", fullmatch=True)),
    )


SF_SETTINGS = [
    a_settings(),
    a_settings(
        account_country_field="Customer_Country__c",
        deal_value_field="Total_Value__c",
        deal_currency_field="Deal_Currency__c",
        on_hold_stage_name="On Hold",
        active_stage_name="Working",
    ),
]


def _salesforce_record(deal: CanonicalDeal, settings: Any) -> dict[str, Any]:
    """The opportunity Salesforce would hold after our writes for `deal` landed."""
    values = deal.comparable()
    opp: dict[str, Any] = {"Id": deal.opportunity_id}
    opp.update(salesforce_opportunity_fields(values, settings, current_stage=None))
    stage = opp["StageName"]
    opp["IsClosed"] = stage in (settings.won_stage_name, settings.lost_stage_name)
    opp["IsWon"] = stage == settings.won_stage_name
    opp["Account"] = {"attributes": {"type": "Account"}, **salesforce_account_fields(values, settings)}
    opp["OpportunityContactRoles"] = children(
        *({"Contact": salesforce_contact_fields(c)} for c in deal.contacts)
    )
    opp[f.SOLUTIONS_RELATIONSHIP] = children(*(salesforce_solution_fields(s) for s in deal.solutions))
    return opp


@pytest.mark.parametrize("sf_settings", SF_SETTINGS, ids=["defaults", "custom-fields"])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(deal=deals())
def test_canonical_to_salesforce_and_back_is_lossless(sf_settings, deal):
    back = deal_from_salesforce(_salesforce_record(deal, sf_settings), sf_settings)
    assert back == deal.model_copy(update={"engagement_id": None})


@given(deal=deals())
def test_salesforce_fields_of_an_unchanged_deal_are_empty(deal):
    opp = _salesforce_record(deal, SF_SETTINGS[0])
    again = deal_from_salesforce(opp, SF_SETTINGS[0])
    changes = {k: v for k, v in again.comparable().items() if deal.comparable()[k] != v}
    assert salesforce_opportunity_fields(changes, SF_SETTINGS[0], current_stage=opp["StageName"]) == {}


def _as_created(deal: CanonicalDeal) -> dict[str, Any]:
    """The referral Partner Center would return for our create body (server fields filled in)."""
    body = partner_center_create_body(deal, a_settings())
    return {
        **body,
        "id": deal.referral_id,
        "engagementId": "e-1",
        "status": deal.status,
        "substatus": deal.substatus,
        "trackingInfo": {"microsoftMsxId": deal.microsoft_crm_id},
    }


@given(deal=deals())
def test_canonical_to_partner_center_create_body_and_back_is_lossless(deal):
    assert deal_from_partner_center(_as_created(deal)) == deal.model_copy(update={"engagement_id": "e-1"})


def _apply_strictly(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 `add`/`replace` as Partner Center applies them: `replace` needs the member, `add` the
    parent."""
    doc = copy.deepcopy(doc)
    for op in ops:
        assert op["op"] in ("add", "replace"), op
        *parents, leaf = op["path"].lstrip("/").split("/")
        node = doc
        for key in parents:
            assert isinstance(node.get(key), dict), f"{op['path']}: missing parent {key}"
            node = node[key]
        if op["op"] == "replace":
            assert leaf in node, f"replace of missing {op['path']}"
        node[leaf] = copy.deepcopy(op["value"])
    return doc


PC_WRITABLE = [f for f in SYNCED_FIELDS if f not in ("microsoft_crm_id", "referral_id")]


@st.composite
def referral_and_target(draw):
    start = draw(st.sampled_from(["builder", "generated", "sparse"]))
    if start == "builder":
        referral = a_referral()
    else:
        referral = _as_created(draw(deals()))
        if start == "sparse":
            for key in draw(
                st.sets(st.sampled_from(["details", "inviteContext", "consent", "externalReferenceId"]))
            ):
                referral.pop(key, None)
    current = deal_from_partner_center(referral)
    target = draw(deals())
    # visibility never goes back; the rest may change freely
    target = target.model_copy(update={"visible": target.visible or current.visible})
    return referral, current, target


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(case=referral_and_target())
def test_a_partner_center_patch_brings_the_referral_to_the_target(case):
    referral, current, target = case
    before, after = current.comparable(), target.comparable()
    changes = {k: after[k] for k in PC_WRITABLE if before[k] != after[k]}
    ops = partner_center_patch(changes, referral)
    patched = deal_from_partner_center(_apply_strictly(referral, ops)).comparable()
    for key in PC_WRITABLE:
        assert patched[key] == after[key], key
    assert partner_center_patch(changes, _apply_strictly(referral, ops)) == []
