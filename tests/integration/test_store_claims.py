"""Claims on Azurite: one holder at a time, expiry for dead workers, release only of one's own claim."""

from __future__ import annotations

import time

import pytest

from shared.errors import TransientError
from shared.store import claims
from shared.store.tables import table

pytestmark = pytest.mark.integration


def test_a_second_worker_waits_and_then_is_told_to_retry(settings):
    with (
        claims.claim(settings, "deal-1"),
        pytest.raises(TransientError, match="another worker"),
        claims.claim(settings, "deal-1", wait_seconds=0.2),
    ):
        pass


def test_the_old_holder_cannot_release_a_claim_taken_over_by_another(settings):
    client = table(settings, settings.links_table)
    with claims.claim(settings, "deal-3", ttl_seconds=0):
        time.sleep(0.05)
        takeover = claims.claim(settings, "deal-3", ttl_seconds=60)
        takeover.__enter__()
    # The old holder has exited; the new holder's claim must still be there.
    assert client.get_entity("claim-deal-3", "claim")["Expires"]
    with pytest.raises(TransientError), claims.claim(settings, "deal-3", wait_seconds=0.1):
        pass
    takeover.__exit__(None, None, None)


def test_a_claim_whose_insert_landed_before_the_connection_broke_is_still_ours(settings, monkeypatch):
    from azure.core.exceptions import ServiceResponseError
    from azure.data.tables import TableClient

    real_create = TableClient.create_entity

    def lands_then_breaks(self, *args, **kwargs):
        real_create(self, *args, **kwargs)
        raise ServiceResponseError("('Connection aborted.', ConnectionResetError(104, 'reset'))")

    monkeypatch.setattr(TableClient, "create_entity", lands_then_breaks)
    with claims.claim(settings, "deal-9", wait_seconds=0):
        monkeypatch.undo()
        with (
            pytest.raises(TransientError, match="another worker"),
            claims.claim(settings, "deal-9", wait_seconds=0),
        ):
            pass
    with claims.claim(settings, "deal-9", wait_seconds=0):  # released by its holder: free again
        pass


def test_a_referral_claim_is_released_by_the_transaction_that_saves_its_link(settings):
    from shared.store import links
    from shared.store.links import Link

    referral_id = "0f0e0d0c-0b0a-4908-8706-050403020100"
    with claims.claim(settings, f"ref-{referral_id}") as held:
        saved = links.save_releasing(settings, Link(referral_id=referral_id, opportunity_id="006X"), held)
        with claims.claim(settings, f"ref-{referral_id}", wait_seconds=0):
            pass  # released already, inside the block: another worker may take it at once
    assert saved.etag and links.get(settings, referral_id) is not None


def test_a_link_save_whose_claim_was_taken_over_saves_nothing(settings):
    from shared.errors import ConflictError
    from shared.store import links
    from shared.store.links import Link

    referral_id = "1f0e0d0c-0b0a-4908-8706-050403020100"
    with claims.claim(settings, f"ref-{referral_id}", ttl_seconds=0) as held:
        time.sleep(0.05)
        with claims.claim(settings, f"ref-{referral_id}"):  # expired: another worker took it over
            with pytest.raises(ConflictError):
                links.save_releasing(settings, Link(referral_id=referral_id, opportunity_id="006X"), held)
            assert links.get(settings, referral_id) is None
