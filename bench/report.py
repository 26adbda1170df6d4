"""The summary table (figures against the issue's goals) and the plot of `bench/results.png`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.table import Table


def _row(table: Table, figure: str, value: str, goal: str, met: bool | None) -> None:
    mark = "" if met is None else ("[green]✔[/]" if met else "[red]✖[/]")
    table.add_row(figure, value, goal, mark)


def summary_table(results: dict[str, Any]) -> Table:
    table = Table(title=f"cosell-sync bench {results.get('date', '')} ({results.get('machine', '')})")
    for column in ("figure", "measured", "goal", "met"):
        table.add_column(column)
    if "pc_to_sf_latency_ms" in results:
        pc = results["pc_to_sf_latency_ms"]
        sf = results["sf_to_pc_latency_ms"]
        interval = sf["poll_interval_s"]
        _row(table, "PC→SF latency p50/p95/p99", f"{pc['p50']}/{pc['p95']}/{pc['p99']} ms (n={pc['n']})",
             "p99 ≤ 3000 ms", pc["p99"] <= 3000)  # fmt: skip
        _row(table, "SF→PC latency p50/p95/p99", f"{sf['p50']}/{sf['p95']}/{sf['p99']} ms (n={sf['n']})",
             f"p99 ≤ {interval:g} s poll + 3 s", sf["p99"] <= (interval + 3) * 1000)  # fmt: skip
        floor = results["floor_ms"]
        _row(table, "floor (1 PC GET + 1 SF update)", f"{floor['p50']} ms (p95 {floor['p95']})", "", None)
        _row(table, "PC→SF p50 / floor", f"{pc['p50'] / floor['p50']:.0f}×", "", None)
        calls = results["api_calls_per_update"]
        _row(table, "SF calls per update", f"{calls['salesforce']}", "≤ 2", calls["salesforce"] <= 2)
        _row(table, "PC calls per update", f"{calls['partner_center']}", "≤ 2", calls["partner_center"] <= 2)
        _row(
            table,
            "SF calls per idle poll",
            str(results["idle_poll_calls"]),
            "1",
            results["idle_poll_calls"] == 1,
        )
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        _row(table, f"backfill {int(size):,} records/s", str(run["records_per_s"]), "≥ 200",
             run["records_per_s"] >= 200)  # fmt: skip
        _row(table, f"backfill {int(size):,} peak RSS", f"{run['peak_rss_mb']} MB", "≤ 300 MB",
             run["peak_rss_mb"] <= 300)  # fmt: skip
        _row(
            table, f"backfill {int(size):,} SF writes/record", str(run["sf_write_calls_per_record"]), "", None
        )
        if run.get("cpu_bound_ceiling_records_per_s"):
            _row(table, f"backfill {int(size):,} CPU/record → ceiling here",
                 f"{run['cpu_ms_per_record']} ms → {run['cpu_bound_ceiling_records_per_s']}/s "
                 f"({run.get('worker_processes', 1)} workers)", "", None)  # fmt: skip
    chaos = results.get("chaos")
    if chaos:
        after = chaos["after_replay"]
        _row(table, f"chaos {chaos['pairs']} pairs: duplicates", str(after["duplicates"]), "0",
             after["duplicates"] == 0)  # fmt: skip
        _row(table, "chaos: lost updates", str(after["lost_updates"]), "0", after["lost_updates"] == 0)
        _row(table, "chaos: unequal pairs", str(after["unequal_pairs"]), "0", after["unequal_pairs"] == 0)
        _row(table, "chaos: missing pairs", str(after["missing"]), "0", after["missing"] == 0)
        poison = chaos["poisoned"]
        _row(table, "chaos: poisoned / with audit error / replayed",
             f"{poison['count']} / {poison['with_audit_error']} / {poison['replayed']}", "all accounted",
             poison["with_audit_error"] == poison["count"] == poison["replayed"])  # fmt: skip
        _row(table, "chaos: writes after settling", str(chaos["writes_after_settle"]), "0 (no loop)",
             chaos["writes_after_settle"] == 0)  # fmt: skip
    return table


def plot(results: dict[str, Any], samples: dict[str, list[float]], path: Path) -> None:
    """Latency histograms per direction and the backfill curves (records done vs seconds)."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, key, title in (
        (axes[0], "pc_to_sf", "PC→SF: webhook accepted → opportunity written"),
        (axes[1], "sf_to_pc", "SF→PC: seller edit → referral updated"),
    ):
        values = samples.get(key) or []
        if values:
            ax.hist(values, bins=40, color="#3a7bd5")
            figures = results[f"{key}_latency_ms"]
            for p, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
                ax.axvline(figures[p], color="black", linestyle=style, label=f"{p} {figures[p]:.0f} ms")
            ax.legend()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("changes")
    ax = axes[2]
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        curve = run.get("curve") or []
        if curve:
            ax.plot([c[0] for c in curve], [c[1] for c in curve], label=f"{int(size):,} referrals "
                    f"({run['records_per_s']}/s, peak {run['peak_rss_mb']} MB)")  # fmt: skip
    ax.set_title("backfill: opportunities created vs time", fontsize=10)
    ax.set_xlabel("seconds since backfill start")
    ax.set_ylabel("records done")
    if results.get("backfill"):
        ax.legend(fontsize=8)
    fig.suptitle(f"cosell-sync bench {results.get('date', '')} — {results.get('machine', '')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
