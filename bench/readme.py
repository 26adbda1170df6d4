"""Renders bench/README.md from results.json, so the figures the README quotes are the measured ones,
and the deployment model block of the top-level README.md (between its `MODEL_START` and
`MODEL_END` markers; the rest of that file is left as it is). A figure the JSON lacks (a quick or
partial run) is left out, or said to be missing. Run on its own with `python -m bench.readme` after
editing the prose."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from bench import model

HERE = Path(__file__).resolve().parent
TOP_README = HERE.parent / "README.md"
MODEL_START = "<!-- bench:deployment-model:start (rendered by bench/readme.py from bench/results.json) -->"
MODEL_END = "<!-- bench:deployment-model:end -->"
METHOD = """## How each figure is taken

- Latency clocks are the simulators' own commit times on this one machine (UTC wall clock), never a
  probe's: PC→SF runs from the 2xx answer time in the Partner Center simulator's webhook delivery
  log to the opportunity's SystemModstamp; SF→PC from the edit's SystemModstamp to the referral's
  `updatedDateTime`. Changes arrive at a steady 5 per second, one per linked pair.
- Latency after idle (`latency_after_idle_ms`): after the steady state, the stack sits idle (no
  write anywhere, queue empty, no webhook pending; the timer's read-only polls go on) for `idle_s`
  plus a random 0 to `idle_jitter_s` (so changes land anywhere in the poll's and the queue
  back-off's cycles), then one Partner Center change is made; after another idle spell, one
  Salesforce edit; repeated `n` times, with the same clocks. The queue poller has backed off to host.json's
  `maxPollingInterval` by then, and an SF→PC change waits for the next poll of the bench's schedule
  (`poll_interval_s`), not the deployed one.
- API calls per update come from the simulators' counters over the whole steady-state phase (the
  syncs and the echoes of our own writes), token calls excluded, and the timer's one query per idle
  poll left out (it is `idle_poll_calls`); per-kind detail per direction is in the JSON.
- Backfill runs `shared.ops.backfill` (Partner Center source, batch mode unless the row says
  per-record) in a child process that also hosts every function — the queue worker, the Partner
  Center webhook (so the echoes of the backfill's own writes arrive) and the 2-second Salesforce
  poll — with one more worker process per core beyond the first two (as more instances would in
  Azure; one core is left to the simulators and Azurite, which in Azure are other machines: on this
  2-core machine a second app process raised the app's CPU per record by a quarter and slowed the
  backfill); the reconcile timer is moved out of the run, and the poll's overlap is 0 s: with 30 s,
  the ids the poll remembers from a backfill burst outgrow the watermark's table property
  (MAX_SEEN_CHARS 60,000 characters in shared/store/watermarks.py; Azure allows 32K UTF-16
  characters) and every later poll fails. Seeded referrals (`bench.backfill.MIX`): every one has
  its customer's contact; 25 % have no close date (the close date Salesforce needs goes back to
  Partner Center), 50 % a note, 50 % a solution; customers recur across the groups. records/s
  counts until every referral has its opportunity; calls per record are every call the
  simulators counted (token calls excluded) until the stack is quiet, divided by the referrals;
  app CPU is the backfill process's and the workers' CPU per record from a warm start (tokens
  fetched, the org described, the sync path's modules loaded, as the floor's own warm-up has them)
  until the stack settled (the echoes' jobs included; the idle CPU of the tail after the last
  opportunity, at the rate of the final quiet spell, taken off), against the floor (one PC GET plus
  one SF update through the app's clients, with its telemetry, in a process of its own: the median
  of 5 batches of 200 pairs, taken before and after the backfill and averaged, as the machine's speed
  drifts) measured in the same run; function CPU is app CPU less the local host's own work (its
  queue polling, receives, deletes, lease renewals and HTTP server thread, counted by
  `LocalFunctionsHost.host_cpu_seconds`), which in Azure the Functions host's process does, not the
  app's Python worker; `invocations_per_record` counts the functions run until settled;
  peak RSS is the backfill process's VmHWM. Everything (app, simulators, Azurite, and possibly
  another process running tests) shares this machine's 2 cores.
- Chaos: every webhook is delivered 3 times and shuffled in batches of 10; ~10 % of Partner Center
  calls answer 429 (Retry-After 1 s) or 503 and ~10 % of Salesforce calls 503 or 429; 4 worker
  processes (`devstack/worker_process.py`) run the queue and one is SIGKILLed mid-job and replaced.
  Microsoft changes deal values, sellers change close dates, so the last written value of each
  field is known. Poison messages are listed with their audit errors (`shared.ops.replay`),
  replayed, and everything is checked again.
"""


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def _latency(figures: dict[str, Any]) -> str:
    p50, p95, p99 = (f"{figures[p]:.0f}" for p in ("p50", "p95", "p99"))
    return f"p50 {p50} ms, p95 {p95} ms, p99 {p99} ms (n = {figures['n']})"


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 7_200:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{seconds / 3_600:.1f} h"


def _paragraph(text: str) -> list[str]:
    """Prose wrapped like the hand-written READMEs (a code span may run past the width, never break)."""
    return textwrap.wrap(text, width=100, break_long_words=False, break_on_hyphens=False)


def _deployed_poll_s() -> float:
    return model.schedule_interval_s(model.DEPLOYED_POLL_SCHEDULE)


def idle_span(idle: dict[str, Any]) -> str:
    """'60' or, with a random extra of up to 2 s, '60–62' (seconds idle before each change)."""
    idle_s, jitter = idle.get("idle_s", float("nan")), idle.get("idle_jitter_s", 0.0)
    return f"{idle_s:g}–{idle_s + jitter:g}" if jitter else f"{idle_s:g}"


def _latency_rows(results: dict[str, Any]) -> list[str]:
    lines = []
    deployed = _deployed_poll_s()
    if "pc_to_sf_latency_ms" in results:
        pc = results["pc_to_sf_latency_ms"]
        lines.append(
            f"| PC→SF latency (webhook accepted → opportunity written) | {_latency(pc)} | p99 ≤ 3 s |"
        )
    if "sf_to_pc_latency_ms" in results:
        sf = results["sf_to_pc_latency_ms"]
        interval = sf.get("poll_interval_s", float("nan"))
        lines.append(
            f"| SF→PC latency (seller edit → referral updated), poll every {interval:g} s (deployed: every "
            f"{deployed:g} s) | {_latency(sf)} | p99 ≤ {interval + 3:g} s |"
        )
    idle = results.get("latency_after_idle_ms")
    if idle:
        idle_s, interval = idle_span(idle), idle.get("poll_interval_s", float("nan"))
        queue = idle.get("queue_max_polling_interval_s")
        backoff = f"; the queue poll has backed off to every {queue:g} s" if queue is not None else ""
        for key, label, goal in (
            (
                "pc_to_sf",
                f"PC→SF latency of the first change after {idle_s} s idle{backoff}",
                "max ≤ 3 s (the p99 goal)",
            ),
            (
                "sf_to_pc",
                f"SF→PC latency of the first change after {idle_s} s idle, poll every {interval:g} s "
                f"(deployed: every {deployed:g} s, up to {deployed - interval:g} s more waiting for the "
                "poll)",
                f"max ≤ {interval + 3:g} s at this poll (the p99 goal)",
            ),
        ):
            figures = idle.get(key)
            if figures:
                measured = f"p50 {_ms(figures['p50'])}, max {_ms(figures['max'])} (n = {figures['n']})"
                lines.append(f"| {label} | {measured} | {goal} |")
    return lines


def _calls_rows(results: dict[str, Any]) -> list[str]:
    lines = []
    if "floor_ms" in results:
        floor = results["floor_ms"]
        lines.append(
            f"| floor: one PC GET + one SF update, direct | {floor['p50']} ms (p95 {floor['p95']}) | — |"
        )
    calls = results.get("api_calls_per_update", {})
    directions = (("sf_to_pc", "SF→PC", 2, 1), ("pc_to_sf", "PC→SF", 1, 2))
    if all(key in calls for key, *_ in directions):
        for key, label, pc_goal, sf_goal in directions:
            lines.append(
                f"| API calls per update, {label} (echoes included) | Partner Center "
                f"{calls[key]['partner_center']}, Salesforce {calls[key]['salesforce']} "
                f"| ≤ {pc_goal} PC + ≤ {sf_goal} SF |"
            )
    elif calls:
        lines.append(
            f"| API calls per steady-state update | Salesforce {calls['salesforce']}, Partner Center "
            f"{calls['partner_center']} | ≤ 2 each |"
        )
    if "idle_poll_calls" in results:
        lines.append(f"| Salesforce calls per idle poll | {results['idle_poll_calls']} | 1 |")
    return lines


def _backfill_row(size: str, run: dict[str, Any]) -> str:
    workers = run.get("worker_processes", 1)
    runs = len(run.get("runs", [])) or 1
    spread = run.get("spread", {}).get("records_per_s", {})
    span = f" (min {spread['min']}, max {spread['max']})" if runs > 1 and spread else ""
    parts = [f"{run.get('records_per_s', '?')} records/s{span}"]
    if "pc_calls_per_record" in run:
        parts.append(
            f"Partner Center {run['pc_calls_per_record']} and Salesforce "
            f"{run.get('sf_calls_per_record', '?')} calls/record (all calls, echoes included)"
        )
    if "app_cpu_ms_per_record" in run:
        by_run = run.get("cpu_ratio_by_run")
        parts.append(
            f"app CPU {run['app_cpu_ms_per_record']} ms/record = {run.get('cpu_ratio_to_floor', '?')}× the "
            f"floor's {run.get('floor_cpu_ms', '?')} ms" + (f" (runs: {_ratios(by_run)})" if by_run else "")
        )
    if "function_cpu_ms_per_record" in run:
        by_run = run.get("function_cpu_ratio_by_run")
        parts.append(
            f"of which the functions and the backfill (less the local host's own queue and HTTP work, "
            f"which the Functions host does in Azure) {run['function_cpu_ms_per_record']} ms = "
            f"{run.get('function_cpu_ratio_to_floor', '?')}×"
            + (f" (runs: {_ratios(by_run)})" if by_run else "")
        )
    if "peak_rss_mb" in run:
        parts.append(f"peak RSS {run['peak_rss_mb']} MB")
    return (
        f"| backfill {int(size):,} referrals ({run.get('mode', 'per-record')}), {workers} worker "
        f"process{'es' if workers > 1 else ''}, median of {runs} run{'s' if runs > 1 else ''} "
        f"| {'; '.join(parts)} | PC ≤ 1.1, SF ≤ 0.1, CPU ≤ 4× floor, RSS flat |"
    )


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{value:g}×" for value in values)


def _chaos_row(chaos: dict[str, Any]) -> str:
    after, poison = chaos["after_replay"], chaos["poisoned"]
    return (
        f"| chaos: {chaos['pairs']} pairs, {chaos['edits']} edits, {chaos['workers']['concurrent']} "
        f"worker processes (one SIGKILLed) | duplicates {after['duplicates']}, lost updates "
        f"{after['lost_updates']}, unequal pairs {after['unequal_pairs']}, missing {after['missing']}; "
        f"{poison['count']} poisoned ({poison['with_audit_error']} with audit error, "
        f"{poison['replayed']} replayed); writes after settling {chaos['writes_after_settle']} "
        "| 0 / 0 / 0 / 0 |"
    )


def _largest_backfill(results: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    runs = {
        int(size): run
        for size, run in results.get("backfill", {}).items()
        if "pc_calls_per_record" in run and run.get("records_per_s")
    }
    return max(runs.items()) if runs else None


def deployment_model(results: dict[str, Any]) -> list[str]:
    """The deployment model's two tables and what they assume, as Markdown lines (no heading)."""
    lines: list[str] = []
    calls = results.get("api_calls_per_update", {})
    poll_s = _deployed_poll_s()
    reconcile_s = model.schedule_interval_s(model.DEPLOYED_RECONCILE_SCHEDULE)
    org = model.ORG_DAILY_CALLS
    if "pc_to_sf" in calls and "sf_to_pc" in calls and "idle_poll_calls" in results:
        pc_sf, sf_pc = calls["pc_to_sf"], calls["sf_to_pc"]
        per_update = {
            key: model.Calls(partner_center=d["partner_center"], salesforce=d["salesforce"])
            for key, d in (("pc_to_sf", pc_sf), ("sf_to_pc", sf_pc))
        }
        idle_calls = results["idle_poll_calls"]
        window_min = (reconcile_s + model.RECONCILE_OVERLAP_S) / 60
        lines += _paragraph(
            f"API calls a day for N linked referrals and M changes a day, half of them sellers' edits "
            f"(SF→PC: Partner Center {sf_pc['partner_center']}, Salesforce {sf_pc['salesforce']} calls "
            f"each) and half Microsoft's (PC→SF: Partner Center {pc_sf['partner_center']}, Salesforce "
            f"{pc_sf['salesforce']}), as measured above. Salesforce also pays {idle_calls} call per idle "
            f"poll × {model.DAY_S / poll_s:,.0f} polls a day at the deployed schedule (`SF_POLL_SCHEDULE` "
            f"`{model.DEPLOYED_POLL_SCHEDULE}`, every {poll_s:g} s); Partner Center the reconcile, "
            f"{model.DAY_S / reconcile_s:g} runs a day (`RECONCILE_SCHEDULE` "
            f"`{model.DEPLOYED_RECONCILE_SCHEDULE}`) of one {model.RECONCILE_PAGE}-referral page per "
            f"{model.RECONCILE_PAGE} referrals changed in its {window_min:g}-minute window — or every "
            f"referral, N / {model.RECONCILE_PAGE} pages a run, if the tenant ignores the "
            "`updatedDateTime` filter (last column)."
        )
        lines += [
            "",
            f"| linked referrals (N) | changes a day (M) | Salesforce calls/day | share of a {org:,}-call "
            "org's daily allocation | Partner Center calls/day | Partner Center calls/day, filter ignored |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for referrals, changes in model.LOADS:
            day = model.daily_calls(
                referrals,
                changes,
                pc_to_sf=per_update["pc_to_sf"],
                sf_to_pc=per_update["sf_to_pc"],
                idle_poll_calls=idle_calls,
                poll_interval_s=poll_s,
                reconcile_interval_s=reconcile_s,
                org_daily_calls=org,
            )
            lines.append(
                f"| {referrals:,} | {changes:,} | {_count(day.salesforce)} | {day.salesforce_share:.1%} "
                f"| {_count(day.partner_center)} | {_count(day.partner_center_filter_ignored)} |"
            )
    else:
        lines.append(
            "API calls a day: not computed — the JSON lacks the latency stage's per-direction calls per "
            "update or the idle poll's calls (`python -m bench --only latency`)."
        )
    lines.append("")
    largest = _largest_backfill(results)
    if largest:
        size, run = largest
        per_record = model.Calls(
            partner_center=run["pc_calls_per_record"], salesforce=run.get("sf_calls_per_record", float("nan"))
        )
        rate = run["records_per_s"]
        n = model.BACKFILL_REFERRALS
        times = [
            model.backfill_time(n, pc_rate_per_s=r, per_record=per_record, records_per_s=rate)
            for r in model.PC_RATES_PER_S
        ]
        workers = run.get("worker_processes", 1)
        processes = f"{workers} worker process{'es' if workers > 1 else ''}"
        lines += _paragraph(
            f"A backfill of {n:,} referrals takes the longer of {n:,} × {run['pc_calls_per_record']} "
            f"Partner Center calls per referral ÷ the allowed request rate, and {n:,} ÷ {rate} records/s "
            f"(the CPU-bound rate measured here, {processes} sharing "
            f"this machine's cores with the simulators and Azurite; more instances raise it in Azure). "
            f"Figures of the {size:,}-referral {run.get('mode', 'per-record')} run. It also costs "
            f"{_count(times[0].salesforce_calls)} Salesforce calls ({run.get('sf_calls_per_record', '?')} "
            f"per referral), {times[0].salesforce_calls / org:.1%} of a {org:,}-call org's day."
        )
        lines += [
            "",
            "| Partner Center requests/s | Partner Center bound | CPU bound | backfill takes | bound by |",
            "|---:|---:|---:|---:|---|",
        ]
        for t in times:
            lines.append(
                f"| {t.pc_rate_per_s:g} | {_duration(t.pc_bound_s)} | {_duration(t.cpu_bound_s)} "
                f"| {_duration(t.seconds)} | {t.bound} |"
            )
    else:
        lines.append(
            "Backfill time: not computed — the JSON has no backfill figures "
            "(`python -m bench --only backfill`)."
        )
    lines.append("")
    lines.append("Computed by `bench/model.py` (tested in `tests/unit/test_bench_model.py`).")
    return lines


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks and chaos",
        "",
        f"Measured {results.get('date', '?')} on {results.get('machine', '?')} by `make bench` "
        "(`python -m bench`), which",
        "writes `bench/results.json` and `bench/results.png`; this file is rendered from that JSON.",
        "Sizes are those of the run recorded in the JSON (`backfill` keys, `chaos.config`). The date is the"
        " latest stage's: the backfill rows were measured then, on a shared machine (another process may"
        " have been running tests on the same 2 cores), with the poll's overlap at 0 s (see below)."
        + (" **Quick run (smaller sizes), not the reference figures.**" if results.get("quick") else ""),
        "",
        "![bench results](results.png)",
        "",
        "| figure | measured | goal |",
        "|---|---|---|",
        *_latency_rows(results),
        *_calls_rows(results),
    ]
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        lines.append(_backfill_row(size, run))
    if results.get("chaos"):
        lines.append(_chaos_row(results["chaos"]))
    lines += ["", "## Deployment model", "", *deployment_model(results), "", METHOD]
    return "\n".join(lines) + "\n"


def replace_model_block(text: str, results: dict[str, Any]) -> str | None:
    """`text` (the top-level README) with its deployment model block re-rendered; None without markers."""
    start, end = text.find(MODEL_START), text.find(MODEL_END)
    if start < 0 or end < start:
        return None
    block = "\n".join([MODEL_START, "", *deployment_model(results), "", MODEL_END])
    return text[:start] + block + text[end + len(MODEL_END) :]


def write_readmes(results: dict[str, Any]) -> None:
    """bench/README.md, and the deployment model block of README.md (if it has the markers)."""
    (HERE / "README.md").write_text(render(results))
    if TOP_README.exists():
        updated = replace_model_block(TOP_README.read_text(), results)
        if updated is None:
            print(f"{TOP_README}: no deployment model markers, left as it is", file=sys.stderr)
        else:
            TOP_README.write_text(updated)


def main() -> int:
    write_readmes(json.loads((HERE / "results.json").read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
