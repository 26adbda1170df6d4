"""Salesforce ⇄ canonical ⇄ Partner Center mapping: the public surface, one import for the engine.

The work lives in small modules: `mapping_salesforce`, `mapping_partner_center`, `stages` (stage <->
status table), `marks` (✔/✖ in the name) and `countries` (ISO codes). All of it is pure.
"""

from __future__ import annotations

from shared.core.countries import UnknownCountry, is_country_code, is_currency_code, normalise_country
from shared.core.mapping_partner_center import (
    ReferralCategory,
    deal_from_partner_center,
    is_incoming_from_microsoft,
    is_marketplace_lead,
    partner_center_create_body,
    partner_center_patch,
    referral_category,
    syncs_to_salesforce,
)
from shared.core.mapping_salesforce import (
    deal_from_salesforce,
    employees_for_size,
    salesforce_account_fields,
    salesforce_contact_fields,
    salesforce_opportunity_fields,
    salesforce_solution_fields,
    size_for_employees,
)
from shared.core.marks import strip_mark, with_mark
from shared.core.stages import (
    format_referral_status,
    parse_referral_status,
    stage_for_status,
    stage_matches_status,
    status_for_stage,
)

__all__ = [
    "ReferralCategory",
    "UnknownCountry",
    "deal_from_partner_center",
    "deal_from_salesforce",
    "employees_for_size",
    "format_referral_status",
    "is_country_code",
    "is_currency_code",
    "is_incoming_from_microsoft",
    "is_marketplace_lead",
    "normalise_country",
    "parse_referral_status",
    "partner_center_create_body",
    "partner_center_patch",
    "referral_category",
    "salesforce_account_fields",
    "salesforce_contact_fields",
    "salesforce_opportunity_fields",
    "salesforce_solution_fields",
    "size_for_employees",
    "stage_for_status",
    "stage_matches_status",
    "status_for_stage",
    "strip_mark",
    "syncs_to_salesforce",
    "with_mark",
]
