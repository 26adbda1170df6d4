"""The README's deployment model (bench/model.py): its arithmetic, and its deployed constants against
the app's own defaults."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench.model import (
    DEPLOYED_POLL_SCHEDULE,
    DEPLOYED_RECONCILE_SCHEDULE,
    RECONCILE_OVERLAP_S,
    RECONCILE_PAGE,
    Calls,
    backfill_time,
    daily_calls,
    schedule_interval_s,
)
from shared.config import Settings
from shared.ops import reconcile

PC_TO_SF = Calls(partner_center=1.0, salesforce=2.0)
SF_TO_PC = Calls(partner_center=2.0, salesforce=1.0)


def test_schedule_intervals() -> None:
    assert schedule_interval_s("*/2 * * * * *") == 2.0
    assert schedule_interval_s(DEPLOYED_POLL_SCHEDULE) == 60.0
    assert schedule_interval_s(DEPLOYED_RECONCILE_SCHEDULE) == 1_800.0


def test_deployed_constants_are_the_apps_defaults() -> None:
    fields = Settings.model_fields
    assert fields["sf_poll_schedule"].default == DEPLOYED_POLL_SCHEDULE
    assert fields["reconcile_schedule"].default == DEPLOYED_RECONCILE_SCHEDULE
    assert reconcile.DEFAULT_OVERLAP.total_seconds() == RECONCILE_OVERLAP_S
    assert reconcile._PAGE == RECONCILE_PAGE


def test_daily_calls_for_10000_referrals_and_5000_changes() -> None:
    day = daily_calls(10_000, 5_000, pc_to_sf=PC_TO_SF, sf_to_pc=SF_TO_PC, idle_poll_calls=1)
    # 1,440 idle polls + 2,500 seller edits x 1 + 2,500 Microsoft changes x 2
    assert day.salesforce_idle_polls == 1_440
    assert day.salesforce == 1_440 + 2_500 + 5_000
    assert day.salesforce_share == pytest.approx(0.0894)
    # 2,500 x 2 + 2,500 x 1 from the changes; 48 reconcile runs, each window (40 min) holding
    # 5,000 x 40 / 1,440 = 139 changed referrals -> 2 pages; all 10,000 referrals -> 100 pages.
    assert day.partner_center == 7_500 + 48 * 2
    assert day.partner_center_filter_ignored == 7_500 + 48 * 100


def test_a_quiet_day_still_polls_and_reconciles() -> None:
    day = daily_calls(1_000, 0, pc_to_sf=PC_TO_SF, sf_to_pc=SF_TO_PC, idle_poll_calls=1)
    assert day.salesforce == 1_440
    assert day.partner_center == 48  # one (empty) page per reconcile run
    assert day.partner_center_filter_ignored == 48 * 10


def test_share_of_changes_and_poll_interval_are_parameters() -> None:
    day = daily_calls(
        0, 1_000, pc_to_sf=PC_TO_SF, sf_to_pc=SF_TO_PC, idle_poll_calls=2, poll_interval_s=120,
        sf_to_pc_share=1.0, org_daily_calls=10_000,
    )  # fmt: skip
    assert day.salesforce == 2 * 720 + 1_000 * 1.0
    assert day.salesforce_share == pytest.approx(0.244)
    assert day.partner_center == 1_000 * 2.0 + 48


def test_daily_calls_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="share"):
        daily_calls(1, 1, pc_to_sf=PC_TO_SF, sf_to_pc=SF_TO_PC, idle_poll_calls=1, sf_to_pc_share=1.5)
    with pytest.raises(ValueError, match="positive"):
        daily_calls(1, 1, pc_to_sf=PC_TO_SF, sf_to_pc=SF_TO_PC, idle_poll_calls=1, poll_interval_s=0)


def test_backfill_bound_by_partner_center_at_a_low_rate_and_by_cpu_above() -> None:
    per_record = Calls(partner_center=0.56, salesforce=1.11)
    slow = backfill_time(10_000, pc_rate_per_s=10, per_record=per_record, records_per_s=61.4)
    assert slow.pc_bound_s == pytest.approx(560.0)
    assert slow.cpu_bound_s == pytest.approx(10_000 / 61.4)
    assert slow.seconds == pytest.approx(560.0)
    assert slow.bound == "Partner Center rate"
    assert slow.salesforce_calls == pytest.approx(11_100)
    fast = backfill_time(10_000, pc_rate_per_s=100, per_record=per_record, records_per_s=61.4)
    assert fast.pc_bound_s == pytest.approx(56.0)
    assert fast.seconds == pytest.approx(162.87, abs=0.01)
    assert fast.bound == "CPU"
    with pytest.raises(ValueError):
        backfill_time(10, pc_rate_per_s=0, per_record=per_record, records_per_s=1)
    assert math.isfinite(fast.seconds)


def test_readme_and_plot_render_a_partial_run(tmp_path: Path) -> None:
    """A quick or partial run lacks stages: the renderers leave the figures out, they do not fail."""
    from bench.readme import MODEL_END, MODEL_START, deployment_model, render, replace_model_block
    from bench.report import plot, summary_table

    assert "not computed" in "\n".join(deployment_model({}))
    partial: dict[str, Any] = {
        "latency_after_idle_ms": {
            "pc_to_sf": {"p50": 1000.0, "max": 1900.0, "n": 3},
            "sf_to_pc": {"p50": 2100.0, "max": 3900.0, "n": 3},
            "idle_s": 60.0,
            "poll_interval_s": 2.0,
        },
        "backfill": {"1000": {"records_per_s": 50.0, "pc_calls_per_record": 0.5, "sf_calls_per_record": 1.0}},
    }
    for results in ({}, partial):
        text = render(results)
        assert "## Deployment model" in text
        summary_table(results)
        plot(results, {}, tmp_path / "results.png")
    text = render(partial)
    assert "first change after 60 s idle" in text and "p50 1000 ms, max 1900 ms (n = 3)" in text
    assert "| 10 | 8 min 20 s | 3 min 20 s | 8 min 20 s | Partner Center rate |" in text  # 10,000 x 0.5 / 10
    readme = f"intro\n{MODEL_START}\nold\n{MODEL_END}\nrest\n"
    updated = replace_model_block(readme, partial)
    assert updated is not None
    assert updated.startswith("intro\n") and updated.endswith(f"{MODEL_END}\nrest\n") and "old" not in updated
    assert replace_model_block("no markers here", partial) is None
