"""Pre-flight checks: what Partner Center would refuse, said in words a seller can act on.

Each function returns one line per problem (empty list = fine); the engine raises
`shared.errors.ValidationError(problems)` to mark the opportunity ✖ with the reasons in its Audit field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.core.canonical import CanonicalDeal
from shared.core.countries import is_country_code, is_currency_code
from shared.core.stages import CLOSED


def _as_deal(value: CanonicalDeal | Mapping[str, Any]) -> CanonicalDeal:
    return value if isinstance(value, CanonicalDeal) else CanonicalDeal.from_comparable(dict(value))


def _country_problem(deal: CanonicalDeal) -> str | None:
    country = deal.customer_address.country
    if country is None:
        return "the customer's country is missing (an ISO 3166 alpha-2 code such as US is required)"
    if not is_country_code(country):
        return f"the customer's country {country!r} is not an ISO 3166 country"
    return None


def _currency_problem(deal: CanonicalDeal) -> str | None:
    if deal.currency is None:
        return "the deal currency is missing"
    if not is_currency_code(deal.currency):
        return f"the deal currency {deal.currency!r} is not an ISO 4217 code"
    return None


def _deal_value_problem(deal: CanonicalDeal) -> str | None:
    if deal.deal_value is None or deal.deal_value <= 0:
        return "the deal value must be greater than 0"
    return None


def _help_problems(deal: CanonicalDeal) -> list[str]:
    if deal.help_requested is None:
        return []
    problems = []
    if not deal.contacts:
        problems.append("a customer contact is required when Microsoft's help is requested")
    if not deal.visible:
        problems.append("a referral asking for Microsoft's help must be visible to Microsoft sellers")
    return problems


def validate_for_create(deal: CanonicalDeal) -> list[str]:
    """Problems that block creating a referral from this deal (B3 pre-flight)."""
    problems = [
        p
        for p in (
            None if deal.name else "the opportunity name is missing",
            None if deal.customer_name else "the customer (account) name is missing",
            _country_problem(deal),
            _deal_value_problem(deal),
            _currency_problem(deal),
            None if deal.close_date else "the close date is missing",
            None if deal.solutions else "at least one Microsoft Partner Center solution is required",
        )
        if p
    ]
    return problems + _help_problems(deal)


def validate_update(before: CanonicalDeal | Mapping[str, Any], after: CanonicalDeal) -> list[str]:
    """Problems with changing the referral from `before` (a deal or a stored snapshot) to `after`.

    Only what changed is checked, so a referral that was already imperfect keeps syncing other edits.
    """
    old = _as_deal(before)
    problems = []
    if old.visible and not after.visible:
        problems.append("the referral is visible to Microsoft sellers; visibility cannot be reverted")
    if old.status == CLOSED and after.status != CLOSED:
        problems.append(f"the referral is closed ({old.status}/{old.substatus}) and cannot be reopened")
    if after.deal_value != old.deal_value and (problem := _deal_value_problem(after)):
        problems.append(problem)
    if after.currency != old.currency and (problem := _currency_problem(after)):
        problems.append(problem)
    if after.customer_address.country != old.customer_address.country and (
        problem := _country_problem(after)
    ):
        problems.append(problem)
    if after.solutions != old.solutions and not after.solutions and old.solutions:
        problems.append("at least one Microsoft Partner Center solution is required")
    help_related = (after.help_requested, after.contacts, after.visible)
    if help_related != (old.help_requested, old.contacts, old.visible):
        problems.extend(_help_problems(after))
    return problems
