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
