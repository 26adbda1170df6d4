"""A deal's claim held on its link entity, on Azurite: one holder at a time, a claim-only entity for a
referral with no link yet (read as no link), saves that keep or release the claim, expiry for dead
workers, and no write by a holder whose claim was taken over."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import TableClient

from shared.errors import ConflictError, TransientError
from shared.store import entity_requests, link_claims, links
from shared.store.link_claims import LinkClaim
from shared.store.link_store import TableLinkStore
from shared.store.links import Link
from shared.store.tables import table
from shared.sync.routing import SeenBeforeClaim

pytestmark = pytest.mark.integration


def busy(settings, referral_id: str) -> bool:
    try:
        claim, _ = link_claims.take(settings, referral_id, ttl_seconds=60, wait_seconds=0)
    except TransientError:
        return True
    link_claims.release(settings, claim)
    return False


def test_a_referral_with_no_link_is_claimed_by_one_worker_and_reads_as_unlinked(settings):
    store = TableLinkStore(settings)
    with store.claim("ref-lc1", ttl_seconds=60):
        assert store.get("lc1") is None
        assert links.get(settings, "lc1") is None  # the claim-only entity is no link
        assert "lc1" not in [link.referral_id for link in links.iter_links(settings)]
        assert busy(settings, "lc1")
    assert not busy(settings, "lc1")
    # Released without a save: the claim-only entity is gone.
    assert list(table(settings, settings.links_table).query_entities("PartitionKey eq 'ref-lc1'")) == []


def test_saves_under_the_claim_keep_it_and_the_release_clears_it(settings):
    store = TableLinkStore(settings)
    with store.claim("ref-lc2", ttl_seconds=60):
        first = store.save(Link("lc2", "006-2", last_outcome="ok"))
        assert busy(settings, "lc2")  # the save kept the claim
        second = store.save(replace(first, snapshot={"deal_value": 5}))
        assert store.get("lc2") == second
        assert busy(settings, "lc2")
    saved = links.get(settings, "lc2")
    assert saved is not None and saved.snapshot == {"deal_value": 5} and saved.claim_owner == ""
    assert not busy(settings, "lc2")


def test_claiming_a_link_just_read_is_one_write_and_proves_it_unchanged(settings, monkeypatch):
    links.save(settings, Link("lc3", "006-3"))
    store = TableLinkStore(settings)
    read = store.get("lc3")
    assert read is not None
    seen = SeenBeforeClaim(referral=None, link_etag=read.etag, read_at=time.monotonic())  # type: ignore[arg-type]
    calls: list[str] = []

    def counted(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return call

    for name in ("insert", "get", "merge", "replace"):  # the link table's single-entity requests
        monkeypatch.setattr(entity_requests, name, counted(name, getattr(entity_requests, name)))
    for name in ("create_entity", "get_entity", "update_entity", "delete_entity", "upsert_entity"):
        monkeypatch.setattr(TableClient, name, counted(name, getattr(TableClient, name)))
    with store.claim("ref-lc3", ttl_seconds=60):
        claimed = store.get("lc3")
        assert calls == ["merge"]  # the claim: If-Match on the ETag just read
        assert claimed is not None and claimed.etag != read.etag and claimed.claimed_over == read.etag
        assert seen.still_fresh(claimed)
        store.save(replace(claimed, snapshot={"stage": "won"}))
    assert calls == ["merge", "replace", "merge"]  # claim, save, release


def test_a_link_saved_by_another_worker_between_read_and_claim_is_not_fresh(settings):
    links.save(settings, Link("lc4", "006-4"))
    store = TableLinkStore(settings)
    read = store.get("lc4")
    assert read is not None
    seen = SeenBeforeClaim(referral=None, link_etag=read.etag, read_at=time.monotonic())  # type: ignore[arg-type]
    links.save(settings, replace(read, snapshot={"deal_value": 9}))  # another worker, in between
    with store.claim("ref-lc4", ttl_seconds=60):
        claimed = store.get("lc4")
        assert claimed is not None and claimed.snapshot == {"deal_value": 9}
        assert not seen.still_fresh(claimed)
        with pytest.raises(ConflictError):
            store.save(replace(read, snapshot={"deal_value": 1}))  # the stale read never wins


def test_a_claim_taken_over_after_expiry_stops_the_old_holders_writes(settings):
    old, _ = link_claims.take(settings, "lc5", ttl_seconds=0)
    time.sleep(0.05)
    new, _ = link_claims.take(settings, "lc5", ttl_seconds=60, wait_seconds=0)
    with pytest.raises(ConflictError):
        link_claims.save(settings, Link("lc5", "006-old"), old)
    link_claims.release(settings, old)  # a no-op: the claim is not its own any more
    assert busy(settings, "lc5")
    saved, _ = link_claims.save(settings, Link("lc5", "006-new"), new, release=True)
    assert links.get(settings, "lc5") == saved
    assert not busy(settings, "lc5")


def test_a_save_outside_the_claim_never_overwrites_a_held_link(settings):
    links.save(settings, Link("lc6", "006-6"))
    claim, _ = link_claims.take(settings, "lc6", ttl_seconds=60)
    read_during = links.get(settings, "lc6")
    assert read_during is not None and read_during.claim_owner
    with pytest.raises(ConflictError, match="another worker"):
        links.save(settings, replace(read_during, snapshot={"x": 1}))
    link_claims.release(settings, claim)
    with pytest.raises(ConflictError):  # read during the claim: the release changed it since
        links.save(settings, replace(read_during, claim_owner="", snapshot={"x": 1}))
    kept = links.get(settings, "lc6")
    assert kept is not None and kept.snapshot == {} and not kept.claim_owner


def test_a_new_link_replaces_a_claim_only_entity_whose_claim_is_over_but_not_a_live_one(settings):
    link_claims.take(settings, "lc7", ttl_seconds=60)  # a worker holding it (never released)
    with pytest.raises(ConflictError):
        links.save(settings, Link("lc7", "006-7"))
    link_claims.take(settings, "lc8", ttl_seconds=0)  # a worker that died holding it
    time.sleep(0.05)
    saved = links.save(settings, Link("lc8", "006-8"))
    assert links.get(settings, "lc8") == saved


def test_a_batch_claims_new_referrals_in_one_write_and_only_reads_linked_ones(settings):
    links.save(settings, Link("lc9", "006-9"))
    claimed = link_claims.try_take_new(settings, "lc10", ttl_seconds=60)
    assert isinstance(claimed, LinkClaim) and claimed.placeholder
    assert link_claims.try_take_new(settings, "lc10", ttl_seconds=60) is None  # held: a job's
    linked = link_claims.try_take_new(settings, "lc9", ttl_seconds=60)
    assert isinstance(linked, Link) and linked.opportunity_id == "006-9" and not linked.claim_owner
    saved, _ = link_claims.save(settings, Link("lc10", "006-10"), claimed, release=True)
    assert links.get(settings, "lc10") == saved
    assert not busy(settings, "lc10")


def test_a_claim_whose_write_landed_before_the_connection_broke_is_still_ours(settings, monkeypatch):
    real_insert = entity_requests.insert
    broken: list[str] = []

    def lands_then_breaks(*args: Any, **kwargs: Any) -> str:
        real_insert(*args, **kwargs)
        broken.append("insert")
        raise ServiceResponseError("('Connection aborted.', ConnectionResetError(104, 'reset'))")

    monkeypatch.setattr(entity_requests, "insert", lands_then_breaks)
    claim, link = link_claims.take(settings, "lc11", ttl_seconds=60, wait_seconds=0)
    monkeypatch.undo()
    assert broken == ["insert"] and link is None and claim.placeholder
    assert busy(settings, "lc11")
    link_claims.release(settings, claim)
    assert not busy(settings, "lc11")
