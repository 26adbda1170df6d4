"""Linked referral/opportunity pairs to measure on: seeded Partner Center referrals, each turned into
its Salesforce opportunity by one backfill job per referral (as `shared.ops backfill` enqueues them)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import wait_until
from devstack.stack import LocalStack
from shared.core import salesforce_fields as F
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.store.job_queue import enqueue


@dataclass(frozen=True)
class Pair:
    referral_id: str
    opportunity_id: str


def opportunities_by_referral(stack: LocalStack) -> dict[str, list[str]]:
    """Referral id -> ids of the opportunities carrying it (more than one would be a duplicate)."""
    found: dict[str, list[str]] = {}
    for row in stack.sf.query(f"SELECT Id, {F.REFERRAL_ID} FROM Opportunity"):
        if row.get(F.REFERRAL_ID):
            found.setdefault(str(row[F.REFERRAL_ID]), []).append(str(row["Id"]))
    return found


def seed_linked_pairs(stack: LocalStack, count: int, *, timeout: float = 300.0) -> list[Pair]:
    """`count` new referrals in Partner Center, synced to Salesforce; returns them in seed order."""
    before = {r["id"] for r in stack.pc.referrals()}
    stack.pc.seed(count)
    new = [r["id"] for r in stack.pc.referrals() if r["id"] not in before]
    jobs = [SyncJob(kind=RecordKind.REFERRAL, record_id=rid, source=JobSource.BACKFILL) for rid in new]
    enqueue(stack.settings, jobs)

    def linked() -> dict[str, list[str]] | None:
        found = opportunities_by_referral(stack)
        return found if all(rid in found for rid in new) else None

    found = wait_until(f"{count} opportunities", linked, timeout=timeout, interval=0.5)
    return [Pair(rid, found[rid][0]) for rid in new]
