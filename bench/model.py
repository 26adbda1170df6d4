"""The deployment model the READMEs quote (issue #19): API calls a day for N linked referrals and M
changes a day, and how long a backfill takes at a given Partner Center request rate, computed from
the figures measured in bench/results.json. Pure arithmetic: no I/O, no clock.

Assumptions, each a parameter:
- the Salesforce poll runs on the deployed schedule (`SF_POLL_SCHEDULE`, once a minute) and an idle
  poll costs the measured `idle_poll_calls`; the queries of polls that find changes are part of the
  measured calls per update;
- a change costs the measured `api_calls_per_update.<direction>` calls (echoes of our own writes
  included); `sf_to_pc_share` of the changes are sellers' (SF→PC), the rest Microsoft's (PC→SF);
- the Partner Center reconcile runs on its deployed schedule and reads one page of `RECONCILE_PAGE`
  referrals per page of referrals changed in its window (interval + overlap). A tenant that ignores
  the `updatedDateTime` filter makes it page the whole collection, N / page pages, every run;
- a backfill is bound by the slower of the Partner Center request rate (calls per record × records /
  rate) and the CPU-bound record rate measured here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

DAY_S = 86_400
# Deployed schedules (shared/config.py defaults, infra/modules/app.bicep, infra/terraform/app.tf);
# tests/unit/test_bench_model.py checks they still agree with the app's defaults.
DEPLOYED_POLL_SCHEDULE = "0 * * * * *"
DEPLOYED_RECONCILE_SCHEDULE = "0 */30 * * * *"
RECONCILE_OVERLAP_S = 600.0  # shared.ops.reconcile.DEFAULT_OVERLAP
RECONCILE_PAGE = 100  # shared.ops.reconcile._PAGE
ORG_DAILY_CALLS = 100_000
# The example loads: (linked referrals, changes a day); backfill size and Partner Center rates.
LOADS: tuple[tuple[int, int], ...] = ((1_000, 500), (10_000, 5_000), (50_000, 20_000))
BACKFILL_REFERRALS = 10_000
PC_RATES_PER_S: tuple[float, ...] = (10.0, 50.0, 100.0)


def schedule_interval_s(schedule: str) -> float:
    """Seconds between two runs of an NCRONTAB schedule (seconds first), e.g. 60 for '0 * * * * *'.
    Taken between the second and third run after a fixed instant, so it is deterministic."""
    cron = croniter(schedule, datetime(2026, 1, 1, tzinfo=UTC), second_at_beginning=True)
    cron.get_next(datetime)
    second: datetime = cron.get_next(datetime)
    third: datetime = cron.get_next(datetime)
    return (third - second).total_seconds()


@dataclass(frozen=True)
class Calls:
    """API calls of one change (or one record), per service."""

    partner_center: float
    salesforce: float


@dataclass(frozen=True)
class DailyCalls:
    referrals: int
    changes: int
    salesforce: float
    salesforce_idle_polls: float
    salesforce_share: float
    """Of the org's daily allocation (0..1, may exceed 1)."""
    partner_center: float
    """With the reconcile's `updatedDateTime` filter honoured."""
    partner_center_filter_ignored: float
    """If the tenant ignores the filter: the reconcile pages every referral on each run."""


def daily_calls(
    referrals: int,
    changes: int,
    *,
    pc_to_sf: Calls,
    sf_to_pc: Calls,
    idle_poll_calls: float,
    poll_interval_s: float = 60.0,
    sf_to_pc_share: float = 0.5,
    org_daily_calls: int = ORG_DAILY_CALLS,
    reconcile_interval_s: float = 1_800.0,
    reconcile_overlap_s: float = RECONCILE_OVERLAP_S,
    reconcile_page: int = RECONCILE_PAGE,
) -> DailyCalls:
    """API calls a day for `referrals` linked referrals with `changes` changes a day in total."""
    if poll_interval_s <= 0 or reconcile_interval_s <= 0 or reconcile_page <= 0:
        raise ValueError("intervals and page size must be positive")
    if not 0.0 <= sf_to_pc_share <= 1.0:
        raise ValueError("sf_to_pc_share is a share (0..1)")
    sellers, microsoft = changes * sf_to_pc_share, changes * (1 - sf_to_pc_share)
    idle_polls = idle_poll_calls * DAY_S / poll_interval_s
    salesforce = idle_polls + sellers * sf_to_pc.salesforce + microsoft * pc_to_sf.salesforce
    runs = DAY_S / reconcile_interval_s
    changed_per_run = changes * (reconcile_interval_s + reconcile_overlap_s) / DAY_S
    pages_filtered = max(1, math.ceil(changed_per_run / reconcile_page))
    pages_everything = max(1, math.ceil(referrals / reconcile_page))
    per_changes = sellers * sf_to_pc.partner_center + microsoft * pc_to_sf.partner_center
    return DailyCalls(
        referrals=referrals,
        changes=changes,
        salesforce=salesforce,
        salesforce_idle_polls=idle_polls,
        salesforce_share=salesforce / org_daily_calls,
        partner_center=per_changes + runs * pages_filtered,
        partner_center_filter_ignored=per_changes + runs * pages_everything,
    )


@dataclass(frozen=True)
class BackfillTime:
    referrals: int
    pc_rate_per_s: float
    pc_bound_s: float
    """Partner Center calls / the allowed request rate."""
    cpu_bound_s: float
    """Referrals / the measured records per second."""
    salesforce_calls: float

    @property
    def seconds(self) -> float:
        return max(self.pc_bound_s, self.cpu_bound_s)

    @property
    def bound(self) -> str:
        return "Partner Center rate" if self.pc_bound_s >= self.cpu_bound_s else "CPU"


def backfill_time(
    referrals: int, *, pc_rate_per_s: float, per_record: Calls, records_per_s: float
) -> BackfillTime:
    """Time of a backfill of `referrals` at `pc_rate_per_s` Partner Center requests a second, given the
    measured calls per record and the measured (CPU-bound) records per second."""
    if pc_rate_per_s <= 0 or records_per_s <= 0:
        raise ValueError("rates must be positive")
    return BackfillTime(
        referrals=referrals,
        pc_rate_per_s=pc_rate_per_s,
        pc_bound_s=referrals * per_record.partner_center / pc_rate_per_s,
        cpu_bound_s=referrals / records_per_s,
        salesforce_calls=referrals * per_record.salesforce,
    )
