"""The safety net for missed webhooks and expired credentials: referrals Partner Center changed since
the reconcile watermark are compared with their link snapshots, and the drifted ones get a job.

"Drifted" means what the worker would act on: the three-way merge of (snapshot as the Salesforce
side, the referral as Partner Center's side, snapshot) has something to write. A referral without
a link (or with an empty snapshot) has drifted too, unless it is a kind the connector does not
bring to Salesforce (a marketplace lead with co-sell only). The watermark moves to the run's start
only after the jobs are on the queue; the next run re-reads `overlap` before it, for late commits
and clock skew between us and Partner Center.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.config import Settings
from shared.core.mapping import deal_from_partner_center, syncs_to_salesforce
from shared.core.merge import OwnerPolicy, merge
from shared.core.referral import Referral
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.backfill import Enqueue, odata_datetime
from shared.ops.ops_clients import OpsClients
from shared.store import job_queue, links, watermarks
from shared.store.links import Link

log = logging.getLogger("cosell_sync.ops.reconcile")

WATERMARK = "partner-center-reconcile"
DEFAULT_OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(hours=24)
_BATCH = 100
_PAGE = 100


@dataclass
class ReconcileReport:
    checked: int = 0
    drifted: int = 0
    enqueued: int = 0
    since: datetime | None = None
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    drifted_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "drifted": self.drifted,
            "enqueued": self.enqueued,
            "since": self.since.isoformat() if self.since else None,
            "watermark_before": self.watermark_before.isoformat() if self.watermark_before else None,
            "watermark_after": self.watermark_after.isoformat() if self.watermark_after else None,
            "drifted_ids": self.drifted_ids,
        }


def drifted_fields(
    referral: Mapping[str, Any], link: Link | None, settings: Settings, policy: OwnerPolicy
) -> list[str] | None:
    """The fields the worker would write for this referral (pure). None: not ours to sync;
    ["*"]: no link or snapshot yet; []: in sync."""
    if link is None or not link.snapshot:
        return ["*"] if syncs_to_salesforce(referral, settings) else None
    if link.pending:
        # A sync died between its writes and its snapshot save: let the worker finish it.
        return sorted({key for writes in link.pending.values() for key in writes}) or ["*"]
    ids = {"referral_id": link.referral_id, "opportunity_id": link.opportunity_id}
    current = {**deal_from_partner_center(referral).comparable(), **ids}
    snapshot = dict(link.snapshot)
    result = merge(snapshot, current, snapshot, policy)
    return sorted({*result.to_salesforce, *result.to_partner_center})


def window_start(mark: datetime | None, now: datetime, overlap: timedelta) -> datetime:
    return now - FIRST_LOOKBACK if mark is None else mark - overlap


def reconcile(
    settings: Settings,
    clients: OpsClients,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
    enqueue: Enqueue = job_queue.enqueue,
) -> ReconcileReport:
    """Compare referrals changed since the watermark with their snapshots and enqueue the drifted."""
    now = now or datetime.now(UTC)
    policy = OwnerPolicy.from_settings(settings)
    mark = watermarks.get(settings, WATERMARK)
    since = window_start(mark, now, overlap)
    report = ReconcileReport(since=since, watermark_before=mark)
    query = f"updatedDateTime ge {odata_datetime(since)}"
    batch: list[SyncJob] = []
    # `updatedDateTime ge` is not a documented filter: `select` verifies each result and pages the
    # whole collection itself when the tenant ignores or refuses it.
    changed = clients.pc.select(
        query, lambda r: _changed_since(r, since), orderby="updatedDateTime asc", top=_PAGE
    )
    for referral in changed:
        if not referral.id:
            continue
        report.checked += 1
        fields = drifted_fields(referral.to_wire(), links.get(settings, referral.id), settings, policy)
        if not fields:
            continue
        report.drifted += 1
        report.drifted_ids.append(referral.id)
        log.info("referral %s drifted from its snapshot: %s", referral.id, ", ".join(fields))
        batch.append(_job(referral))
        if len(batch) >= _BATCH:
            report.enqueued += _flush(settings, batch, enqueue)
    report.enqueued += _flush(settings, batch, enqueue)
    report.watermark_after = watermarks.advance(settings, WATERMARK, now)
    log.info(
        "reconcile: checked %s, drifted %s, enqueued %s", report.checked, report.drifted, report.enqueued
    )
    return report


def _changed_since(referral: Referral, since: datetime) -> bool:
    stamp = referral.updated_date_time
    return stamp is None or stamp.astimezone(UTC) >= since


def _job(referral: Referral) -> SyncJob:
    assert referral.id
    return SyncJob(
        kind=RecordKind.REFERRAL,
        record_id=referral.id,
        source=JobSource.RECONCILE,
        observed_at=referral.updated_date_time or datetime.now(UTC),
    )


def _flush(settings: Settings, batch: list[SyncJob], enqueue: Enqueue) -> int:
    if not batch:
        return 0
    sent = enqueue(settings, list(batch))
    batch.clear()
    return sent
