"""Which externalReferenceId values are worth looking up as an opportunity id."""

from __future__ import annotations

import pytest

from shared.salesforce.salesforce_client import looks_like_opportunity_id


@pytest.mark.parametrize("value", ["0065g00000000NRAAY", "0065g00000000NR"])
def test_fifteen_and_eighteen_character_opportunity_ids_are_looked_up(value):
    assert looks_like_opportunity_id(value)


@pytest.mark.parametrize(
    "value",
    ["", "SEED00000001", "0015g00000000NRAAY", "0065g00000000NRAA", "0065g00000000NR'--", "D365-OPP-000123"],
)
def test_other_references_are_not_queried(value):
    assert not looks_like_opportunity_id(value)
