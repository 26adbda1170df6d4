"""Every selected "How can Microsoft help" value reaches Partner Center: the first as the request
code, the others on one line of the request's notes, read back the same way (so a round trip changes
nothing and the merge sees no phantom edit)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.core import help_codes
from shared.core.mapping import deal_from_partner_center, partner_center_create_body, partner_center_patch
from tests.unit.builders import a_referral, a_settings

CODES = [
    "GeneralOrOther",
    "CustomerTechnicalArchitecture",
    "ProofOfConceptOrDemo",
    "QuotesOrLicensing",
    "PostSalesCustomerSuccess",
    "WorkloadSpecificValueProposition",
]


def test_the_first_value_is_the_code_and_the_others_are_named_in_the_requests_notes() -> None:
    value = "ProofOfConceptOrDemo;QuotesOrLicensing;GeneralOrOther"
    deal = deal_from_partner_center(a_referral()).model_copy(
        update={"help_requested": value, "notes": "Pilot"}
    )

    invite = partner_center_create_body(deal, a_settings())["inviteContext"]

    assert invite["assistanceRequestCode"] == "ProofOfConceptOrDemo"
    assert invite["notes"] == "Pilot\nAlso requested from Microsoft: QuotesOrLicensing, GeneralOrOther"
    assert help_codes.from_invite_context(invite) == value


@given(st.lists(st.sampled_from(CODES), min_size=1, unique=True), st.text(max_size=40))
def test_any_selection_round_trips_through_the_referral(selected: list[str], notes: str) -> None:
    value = ";".join(selected)
    referral = a_referral(inviteContext={"notes": notes, "assistanceRequestCode": "Unknown"})

    patched = referral
    for op in partner_center_patch({"help_requested": value}, referral):
        parts = op["path"].strip("/").split("/")
        target = patched
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = op["value"]

    assert deal_from_partner_center(patched).help_requested == value
    again = partner_center_patch({"help_requested": value}, patched)
    assert again == []  # nothing left to change: no write on the next sync


def test_dropping_the_extra_values_removes_the_line() -> None:
    notes = help_codes.invite_notes(
        "Pilot\nAlso requested from Microsoft: QuotesOrLicensing", "ProofOfConceptOrDemo"
    )
    assert notes == "Pilot"
