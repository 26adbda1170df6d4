"""The Partner Center client against the simulator over real HTTP."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from devstack.pc_sim.seller import a_customer, partner_cosell_referral
from shared.config import load_settings
from shared.core.referral import Referral
from shared.errors import ConfigError, ConflictError, PermanentError, TransientError
from shared.partner_center.http_policy import RetryPolicy
from shared.partner_center.referral_client import PartnerCenterClient

pytestmark = pytest.mark.integration


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(pc_settings, sleeps):
    with PartnerCenterClient(
        pc_settings, sleep=sleeps.append, retry_policy=RetryPolicy(max_retries=3, rng=random.Random(0))
    ) as client:
        yield client


def a_cosell_referral(external_id: str = "006000000000001AAA", **changes: Any) -> Referral:
    return Referral.model_validate(partner_cosell_referral(external_id, **changes))


def test_create_then_get_returns_the_same_referral_with_server_fields(client):
    created = client.create_referral(a_cosell_referral())
    assert created.id and created.engagement_id and created.e_tag and created.e_tag.startswith('"')
    fetched = client.get_referral(created.id)
    assert fetched.name == "Contoso - Data platform"
    assert fetched.details and fetched.details.deal_value == Decimal(50000)
    assert fetched.e_tag == created.e_tag
    assert fetched.direction == "Outgoing"


def test_cosell_create_opens_microsofts_related_referral(client):
    created = client.create_referral(a_cosell_referral())
    related = client.related_referrals(created.engagement_id or "")
    assert {r.id for r in related} >= {created.id}
    microsoft_side = [r for r in related if r.organization_id == "msft"]
    assert len(microsoft_side) == 1
    assert (microsoft_side[0].status, microsoft_side[0].substatus) == ("New", "Pending")


def test_invalid_create_is_permanent_with_partner_center_problems(client):
    bad = a_cosell_referral(customerProfile={**a_customer(1), "team": []})
    bad.customer_profile.address.country = "Ireland"  # type: ignore[union-attr]
    with pytest.raises(PermanentError) as raised:
        client.create_referral(bad)
    assert raised.value.status == 400
    assert "two-letter" in str(raised.value)
    assert "customer contact" in str(raised.value)


def test_update_with_current_etag_changes_the_etag(client):
    created = client.create_referral(a_cosell_referral())
    updated = client.update_referral(
        created.id or "",
        [
            {"op": "replace", "path": "/details/dealValue", "value": 75000},
            {"op": "add", "path": "/team/-", "value": {"firstName": "Ana", "email": "ana@partner.example"}},
        ],
        etag=created.e_tag,
    )
    assert updated.details and updated.details.deal_value == Decimal(75000)
    assert len(updated.team) == 2
    assert updated.e_tag != created.e_tag


def test_update_with_stale_etag_is_a_conflict(client):
    created = client.create_referral(a_cosell_referral())
    client.update_referral(
        created.id or "", [{"op": "replace", "path": "/name", "value": "v2"}], etag=created.e_tag
    )
    with pytest.raises(ConflictError) as raised:
        client.update_referral(
            created.id or "", [{"op": "replace", "path": "/name", "value": "v3"}], etag=created.e_tag
        )
    assert raised.value.status == 412
    assert client.get_referral(created.id or "").name == "v2"


def test_making_a_visible_referral_private_is_refused(client):
    created = client.create_referral(a_cosell_referral())
    with pytest.raises(PermanentError, match="private"):
        client.update_referral(
            created.id or "",
            [
                {
                    "op": "replace",
                    "path": "/consent/consentToShareReferralWithMicrosoftSellers",
                    "value": False,
                }
            ],
            etag=created.e_tag,
        )


def test_unknown_referral_is_a_404_permanent_error(client):
    with pytest.raises(PermanentError) as raised:
        client.get_referral("00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404
    assert raised.value.request_id


def test_listing_follows_next_links_to_the_end(client, pc_control):
    pc_control.seed(250)
    seen = [r.external_reference_id for r in client.iter_referrals(top=100, orderby="createdDateTime asc")]
    assert len(seen) == 250
    assert seen[0] == "SEED00000001" and seen[-1] == "SEED00000250"
    assert client.call_counts["GET /referrals"] == 3


def test_listing_with_filter_and_descending_order(client, pc_control):
    pc_control.seed(30)
    first = client.create_referral(a_cosell_referral("006A"))
    client.update_referral(
        first.id or "", [{"op": "replace", "path": "/name", "value": "touched"}], etag=first.e_tag
    )
    newest = next(client.iter_referrals(orderby="updatedDateTime desc", top=5))
    assert newest.id == first.id
    irish = list(
        client.iter_referrals(filter="customerProfile/address/country eq 'IE' and status eq 'Active'")
    )
    assert len(irish) == 31


def test_lookup_by_external_reference(client):
    created = client.create_referral(a_cosell_referral("006O'Brien"))
    found = client.find_by_external_reference("006O'Brien")
    assert found is not None and found.id == created.id
    assert client.find_by_external_reference("006nothing") is None


def test_expired_token_is_refreshed_once_transparently(client, pc_control):
    created = client.create_referral(a_cosell_referral())
    assert pc_control.counters()["POST /token"] == 1
    pc_control.revoke_tokens()
    assert client.get_referral(created.id or "").id == created.id
    counters = pc_control.counters()
    assert counters["POST /token"] == 2
    assert counters["GET /referrals/{id}"] == 2


def test_wrong_credentials_are_a_config_error_naming_the_cause(pc_sim, pc_control):
    settings = load_settings(**{**pc_sim.settings_overrides(), "pc_refresh_token": "stolen-or-expired"})
    with PartnerCenterClient(settings) as client, pytest.raises(ConfigError) as raised:
        client.get_referral("00000000-0000-0000-0000-000000000001")
    assert "AADSTS70000" in str(raised.value)
    assert "stolen-or-expired" not in str(raised.value)


def test_throttling_is_retried_honouring_retry_after(client, pc_control, sleeps):
    created = client.create_referral(a_cosell_referral())
    pc_control.set_faults(
        api=[{"status": 429, "count": 2, "retry_after": 1.5, "endpoint": "GET /referrals/{id}"}]
    )
    assert client.get_referral(created.id or "").id == created.id
    assert sleeps == [1.5, 1.5]
    assert pc_control.counters()["GET /referrals/{id}"] == 3


def test_client_survives_random_429_and_503(pc_settings, pc_control, sleeps):
    client = PartnerCenterClient(
        pc_settings, sleep=sleeps.append, retry_policy=RetryPolicy(max_retries=6, rng=random.Random(0))
    )
    pc_control.seed(20)
    pc_control.set_faults(
        seed=7, api=[{"status": 503, "rate": 0.2}, {"status": 429, "rate": 0.1, "retry_after": 0}]
    )
    ids = [r.id for r in client.iter_referrals(top=5)]
    assert len(ids) == 20
    for referral_id in ids[:5]:
        assert client.get_referral(referral_id or "").id == referral_id
    assert sleeps, "the seeded faults should have forced at least one retry"
    client.close()


def test_outage_longer_than_the_retry_budget_is_transient(client, pc_control, sleeps):
    pc_control.set_faults(api=[{"status": 503, "count": 10}])
    with pytest.raises(TransientError):
        client.get_referral("00000000-0000-0000-0000-00000000000a")
    assert len(sleeps) == 3


def test_partner_cannot_update_microsofts_side(client, pc_control):
    incoming = pc_control.send_referral()
    related = [r for r in client.related_referrals(incoming["engagementId"]) if r.organization_id == "msft"]
    # A 403 on one record is that record's problem, not the credentials' (issue #15).
    with pytest.raises(PermanentError) as raised:
        client.update_referral(
            related[0].id or "", [{"op": "replace", "path": "/name", "value": "x"}], etag=None
        )
    assert raised.value.status == 403
