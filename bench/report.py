"""The summary table (figures against the issue's goals) and the plot of `bench/results.png`.
`python -m bench.report` redraws the plot and prints the table from bench/results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from rich.console import Console
from rich.table import Table

from bench.readme import idle_span

# The issue's goals (#19), drawn on the plot and checked in the summary table.
PC_TO_SF_P99_MS = 3_000.0
SF_TO_PC_MARGIN_MS = 3_000.0  # SF→PC p99 ≤ the poll interval + 3 s: 5 s at the bench's 2 s poll
CALL_GOALS: dict[str, dict[str, float]] = {  # calls per update (per referral for the backfill)
    "sf_to_pc": {"partner_center": 2, "salesforce": 1},
    "pc_to_sf": {"partner_center": 1, "salesforce": 2},
    "backfill": {"partner_center": 1.1, "salesforce": 0.1},
}
CPU_RATIO_GOAL = 4.0  # app CPU per backfilled record ≤ 4× the floor's
GOAL_STYLE: dict[str, Any] = {"color": "#d62728", "linestyle": "--", "linewidth": 1.5}


def _row(table: Table, figure: str, value: str, goal: str, met: bool | None) -> None:
    mark = "" if met is None else ("[green]✔[/]" if met else "[red]✖[/]")
    table.add_row(figure, value, goal, mark)


def summary_table(results: dict[str, Any]) -> Table:
    table = Table(title=f"cosell-sync bench {results.get('date', '')} ({results.get('machine', '')})")
    for column in ("figure", "measured", "goal", "met"):
        table.add_column(column)
    _latency_summary(table, results)
    _calls_summary(table, results)
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        if "records_per_s" in run:
            _row(table, f"backfill {int(size):,} records/s", str(run["records_per_s"]), "≥ 200",
                 run["records_per_s"] >= 200)  # fmt: skip
        if "peak_rss_mb" in run:
            _row(table, f"backfill {int(size):,} peak RSS", f"{run['peak_rss_mb']} MB", "≤ 300 MB",
                 run["peak_rss_mb"] <= 300)  # fmt: skip
        goals = CALL_GOALS["backfill"]
        if "pc_calls_per_record" in run and "sf_calls_per_record" in run:
            pc, sf = run["pc_calls_per_record"], run["sf_calls_per_record"]
            _row(table, f"backfill {int(size):,} PC / SF calls per referral", f"{pc} / {sf}",
                 f"≤ {goals['partner_center']:g} / ≤ {goals['salesforce']:g}",
                 pc <= goals["partner_center"] and sf <= goals["salesforce"])  # fmt: skip
        if "cpu_ratio_to_floor" in run:
            _row(table, f"backfill {int(size):,} app CPU / floor", f"{run['cpu_ratio_to_floor']}×",
                 f"≤ {CPU_RATIO_GOAL:g}×", run["cpu_ratio_to_floor"] <= CPU_RATIO_GOAL)  # fmt: skip
        if "function_cpu_ratio_to_floor" in run:
            ratio = run["function_cpu_ratio_to_floor"]
            _row(table, f"backfill {int(size):,} function CPU / floor (less the local host)", f"{ratio}×",
                 f"≤ {CPU_RATIO_GOAL:g}×", ratio <= CPU_RATIO_GOAL)  # fmt: skip
        if "sf_write_calls_per_record" in run:
            _row(table, f"backfill {int(size):,} SF writes/record", str(run["sf_write_calls_per_record"]),
                 "", None)  # fmt: skip
        if run.get("cpu_bound_ceiling_records_per_s"):
            _row(table, f"backfill {int(size):,} CPU/record → ceiling here",
                 f"{run.get('cpu_ms_per_record')} ms → {run['cpu_bound_ceiling_records_per_s']}/s "
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


def _latency_summary(table: Table, results: dict[str, Any]) -> None:
    pc = results.get("pc_to_sf_latency_ms")
    sf = results.get("sf_to_pc_latency_ms")
    if pc:
        _row(table, "PC→SF latency p50/p95/p99", f"{pc['p50']}/{pc['p95']}/{pc['p99']} ms (n={pc['n']})",
             f"p99 ≤ {PC_TO_SF_P99_MS:g} ms", pc["p99"] <= PC_TO_SF_P99_MS)  # fmt: skip
    if sf:
        interval = sf.get("poll_interval_s", float("nan"))
        goal = interval * 1000 + SF_TO_PC_MARGIN_MS
        _row(table, "SF→PC latency p50/p95/p99", f"{sf['p50']}/{sf['p95']}/{sf['p99']} ms (n={sf['n']})",
             f"p99 ≤ {interval:g} s poll + 3 s", sf["p99"] <= goal)  # fmt: skip
    idle = results.get("latency_after_idle_ms")
    if idle:
        interval = idle.get("poll_interval_s", float("nan"))
        goals = {"pc_to_sf": PC_TO_SF_P99_MS, "sf_to_pc": interval * 1000 + SF_TO_PC_MARGIN_MS}
        for key, label in (("pc_to_sf", "PC→SF"), ("sf_to_pc", "SF→PC")):
            figures = idle.get(key)
            if figures:
                _row(table, f"{label} after {idle_span(idle)} s idle p50/max",
                     f"{figures['p50']}/{figures['max']} ms (n={figures['n']})", f"≤ {goals[key]:g} ms",
                     figures["max"] <= goals[key])  # fmt: skip
    floor = results.get("floor_ms")
    if floor:
        _row(table, "floor (1 PC GET + 1 SF update)", f"{floor['p50']} ms (p95 {floor['p95']})", "", None)
        if pc:
            _row(table, "PC→SF p50 / floor", f"{pc['p50'] / floor['p50']:.0f}×", "", None)


def _calls_summary(table: Table, results: dict[str, Any]) -> None:
    calls = results.get("api_calls_per_update", {})
    for key, label in (("sf_to_pc", "SF→PC"), ("pc_to_sf", "PC→SF")):
        if key in calls:
            pc, sf, goals = calls[key]["partner_center"], calls[key]["salesforce"], CALL_GOALS[key]
            _row(table, f"{label} PC / SF calls per update", f"{pc} / {sf}",
                 f"≤ {goals['partner_center']:g} / ≤ {goals['salesforce']:g}",
                 pc <= goals["partner_center"] and sf <= goals["salesforce"])  # fmt: skip
    if "idle_poll_calls" in results:
        calls_per_poll = results["idle_poll_calls"]
        _row(table, "SF calls per idle poll", str(calls_per_poll), "1", calls_per_poll == 1)


def _goal_vline(ax: Axes, goal_ms: float, values: list[float], label: str) -> None:
    """The goal on a latency histogram; off the scale (more than 1.5× the slowest sample), an arrow."""
    if goal_ms <= 1.5 * max(values):
        ax.axvline(goal_ms, **GOAL_STYLE, label=label)
    else:
        ax.annotate(f"{label} →", xy=(0.98, 0.6), xycoords="axes fraction", ha="right",
                    color=GOAL_STYLE["color"], fontsize=9)  # fmt: skip


def _histograms(axes: list[Axes], results: dict[str, Any], samples: dict[str, list[float]]) -> None:
    sf = results.get("sf_to_pc_latency_ms", {})
    sf_goal = sf.get("poll_interval_s", 2.0) * 1000 + SF_TO_PC_MARGIN_MS
    for ax, key, title, goal in (
        (axes[0], "pc_to_sf", "PC→SF: webhook accepted → opportunity written", PC_TO_SF_P99_MS),
        (axes[1], "sf_to_pc", "SF→PC: seller edit → referral updated", sf_goal),
    ):
        values = samples.get(key) or []
        figures = results.get(f"{key}_latency_ms")
        if values and figures:
            ax.hist(values, bins=40, color="#3a7bd5")
            for p, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
                ax.axvline(figures[p], color="black", linestyle=style, label=f"{p} {figures[p]:.0f} ms")
            _goal_vline(ax, goal, values, f"goal p99 ≤ {goal / 1000:g} s")
            ax.legend(fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("changes")


def _backfill_curves(ax: Axes, results: dict[str, Any]) -> None:
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        curve = run.get("curve") or []
        if curve:
            ax.plot([c[0] for c in curve], [c[1] for c in curve], label=f"{int(size):,} referrals "
                    f"({run.get('records_per_s')}/s, peak {run.get('peak_rss_mb')} MB)")  # fmt: skip
    ax.set_title("backfill: opportunities created vs time", fontsize=10)
    ax.set_xlabel("seconds since backfill start")
    ax.set_ylabel("records done")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _bars_with_goals(
    ax: Axes, bars: list[tuple[str, float, str]], goals: list[tuple[float, float, float]], labels: list[str]
) -> None:
    """Bars (label, value, colour) at x = 0, 1, ...; goals as (x from, x to, value) horizontal segments."""
    if not bars:
        ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        return
    xs = list(range(len(bars)))
    heights = [value for _, value, _ in bars]
    drawn = ax.bar(xs, heights, color=[colour for *_, colour in bars])
    ax.margins(y=0.15)  # room for the labels above the bars and the goals
    ax.bar_label(drawn, labels=labels, fontsize=7, padding=2)
    ax.set_xticks(xs, [label for label, *_ in bars], fontsize=7, rotation=30, ha="right")
    for index, (start, end, value) in enumerate(goals):
        ax.hlines(value, start - 0.45, end + 0.45, **GOAL_STYLE, label="goal" if index == 0 else "_nolegend_")
    if goals:
        ax.legend(fontsize=8, loc="upper left")


def _latency_goals(ax: Axes, results: dict[str, Any]) -> None:
    """p50 and p99 of the steady state, p50 and max after idle, per direction, in seconds (log scale)."""
    bars: list[tuple[str, float, str]] = []
    goals: list[tuple[float, float, float]] = []
    idle = results.get("latency_after_idle_ms") or {}
    for key, label, colour in (("pc_to_sf", "PC→SF", "#3a7bd5"), ("sf_to_pc", "SF→PC", "#2ca02c")):
        first = len(bars)
        steady = results.get(f"{key}_latency_ms")
        if steady:
            bars += [
                (f"{label} p50", steady["p50"] / 1000, colour),
                (f"{label} p99", steady["p99"] / 1000, colour),
            ]
        after = idle.get(key)
        if after:
            idle_s = idle_span(idle)
            bars += [
                (f"{label} p50 after {idle_s} s idle", after["p50"] / 1000, "#9467bd"),
                (f"{label} max after {idle_s} s idle", after["max"] / 1000, "#9467bd"),
            ]
        if len(bars) > first:
            interval = (steady or idle).get("poll_interval_s", 2.0)
            goal = PC_TO_SF_P99_MS if key == "pc_to_sf" else interval * 1000 + SF_TO_PC_MARGIN_MS
            goals.append((first, len(bars) - 1, goal / 1000))
    _bars_with_goals(ax, bars, goals, [f"{value:.2g} s" for _, value, _ in bars])
    if bars:
        ax.set_yscale("log")
    ax.set_title("latency vs goals (PC→SF p99 ≤ 3 s, SF→PC p99 ≤ poll + 3 s)", fontsize=10)
    ax.set_ylabel("seconds (log scale)")


def _calls_goals(ax: Axes, results: dict[str, Any]) -> None:
    """Partner Center and Salesforce calls per update (per direction) and per backfilled referral."""
    groups: list[tuple[str, float, float, dict[str, float]]] = []
    calls = results.get("api_calls_per_update", {})
    for key, label in (("sf_to_pc", "SF→PC update"), ("pc_to_sf", "PC→SF update")):
        if key in calls:
            groups.append((label, calls[key]["partner_center"], calls[key]["salesforce"], CALL_GOALS[key]))
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        if "pc_calls_per_record" in run and "sf_calls_per_record" in run:
            groups.append((f"backfill {int(size):,} (per referral)", run["pc_calls_per_record"],
                           run["sf_calls_per_record"], CALL_GOALS["backfill"]))  # fmt: skip
    bars: list[tuple[str, float, str]] = []
    goals: list[tuple[float, float, float]] = []
    for label, pc, sf, goal in groups:
        goals += [
            (len(bars), len(bars), goal["partner_center"]),
            (len(bars) + 1, len(bars) + 1, goal["salesforce"]),
        ]
        bars += [(f"{label}: PC", pc, "#3a7bd5"), (f"{label}: SF", sf, "#ff7f0e")]
    _bars_with_goals(ax, bars, goals, [f"{value:g}" for _, value, _ in bars])
    ax.set_title("API calls per update / per backfilled referral vs goals", fontsize=10)
    ax.set_ylabel("calls")


def _cpu_goal(ax: Axes, results: dict[str, Any]) -> None:
    bars: list[tuple[str, float, str]] = []
    labels: list[str] = []
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        if "cpu_ratio_to_floor" in run:
            bars.append((f"{int(size):,}: app", run["cpu_ratio_to_floor"], "#8c564b"))
            labels.append(f"{run.get('app_cpu_ms_per_record')} ms = {run['cpu_ratio_to_floor']}×")
        if "function_cpu_ratio_to_floor" in run:
            bars.append((f"{int(size):,}: functions", run["function_cpu_ratio_to_floor"], "#c49c94"))
            labels.append(
                f"{run.get('function_cpu_ms_per_record')} ms = {run['function_cpu_ratio_to_floor']}×"
            )
    goals = [(0.0, len(bars) - 1.0, CPU_RATIO_GOAL)] if bars else []
    _bars_with_goals(ax, bars, goals, labels)
    ax.set_title(
        f"backfill CPU/record ÷ floor (goal ≤ {CPU_RATIO_GOAL:g}×): app; functions only", fontsize=10
    )
    ax.set_ylabel("× the floor (1 PC GET + 1 SF update)")


def plot(results: dict[str, Any], samples: dict[str, list[float]], path: Path) -> None:
    """Latency histograms per direction and the backfill curves (records done vs seconds) on the first
    row; latency, API calls and CPU against the issue's goals (red dashed lines) on the second."""
    fig, axes = plt.subplots(2, 3, figsize=(17, 10))
    _histograms([axes[0][0], axes[0][1]], results, samples)
    _backfill_curves(axes[0][2], results)
    _latency_goals(axes[1][0], results)
    _calls_goals(axes[1][1], results)
    _cpu_goal(axes[1][2], results)
    fig.suptitle(f"cosell-sync bench {results.get('date', '')} — {results.get('machine', '')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    path = Path(__file__).resolve().parent / "results.json"
    results = json.loads(path.read_text())
    plot(results, results.get("latency_samples_ms", {}), path.with_suffix(".png"))
    Console(width=160).print(summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
