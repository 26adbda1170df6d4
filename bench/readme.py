"""Renders bench/README.md from results.json, so the figures the README quotes are the measured ones.
Run on its own with `python -m bench.readme` after editing the prose."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METHOD = """## How each figure is taken

- Latency clocks are the simulators' own commit times on this one machine (UTC wall clock), never a
  probe's: PC→SF runs from the 2xx answer time in the Partner Center simulator's webhook delivery
  log to the opportunity's SystemModstamp; SF→PC from the edit's SystemModstamp to the referral's
  `updatedDateTime`. Changes arrive at a steady 5 per second, one per linked pair.
- API calls per update come from the simulators' counters over the whole steady-state phase (the
  syncs and the echoes of our own writes), token calls excluded, and the timer's one query per idle
  poll left out (it is `idle_poll_calls`); per-kind detail per direction is in the JSON.
- Backfill runs `shared.ops.backfill` (Partner Center source, batch mode unless the row says
  per-record) in a child process that also hosts every function — the queue worker, the Partner
  Center webhook (so the echoes of the backfill's own writes arrive) and the 2-second Salesforce
  poll — with one more worker process per further core (as more instances would in Azure); the
  reconcile timer is moved out of the run, and the poll's overlap is 0 s: with 30 s, the ids the poll
  remembers from a backfill burst outgrow the watermark's table property (MAX_SEEN_CHARS 60,000
  characters in shared/store/watermarks.py; Azure allows 32K UTF-16 characters) and every later poll
  fails. Seeded referrals (`bench.backfill.MIX`): every one has
  its customer's contact; 25 % have no close date (the close date Salesforce needs goes back to
  Partner Center), 50 % a note, 50 % a solution; customers recur across the groups. records/s
  counts until every referral has its opportunity; calls per record are every call the
  simulators counted (token calls excluded) until the stack is quiet, divided by the referrals;
  app CPU is the backfill process's and the workers' CPU per record, against the floor (one PC GET
  plus one SF update through the app's clients, CPU of that thread only) measured in the same run;
  peak RSS is the backfill process's VmHWM. Everything (app, simulators, Azurite, and possibly
  another process running tests) shares this machine's 2 cores.
- Chaos: every webhook is delivered 3 times and shuffled in batches of 10; ~10 % of Partner Center
  calls answer 429 (Retry-After 1 s) or 503 and ~10 % of Salesforce calls 503 or 429; 4 worker
  processes (`devstack/worker_process.py`) run the queue and one is SIGKILLed mid-job and replaced.
  Microsoft changes deal values, sellers change close dates, so the last written value of each
  field is known. Poison messages are listed with their audit errors (`shared.ops.replay`),
  replayed, and everything is checked again.
"""


def _latency(figures: dict[str, Any]) -> str:
    p50, p95, p99 = (f"{figures[p]:.0f}" for p in ("p50", "p95", "p99"))
    return f"p50 {p50} ms, p95 {p95} ms, p99 {p99} ms (n = {figures['n']})"


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks and chaos",
        "",
        f"Measured {results['date']} on {results['machine']} by `make bench` (`python -m bench`), which",
        "writes `bench/results.json` and `bench/results.png`; this file is rendered from that JSON.",
        "Sizes are those of the run recorded in the JSON (`backfill` keys, `chaos.config`). The date is the"
        " latest stage's: the backfill rows were measured then, on a shared machine (another process may"
        " have been running tests on the same 2 cores), with the poll's overlap at 0 s (see below)."
        + (" **Quick run (smaller sizes), not the reference figures.**" if results.get("quick") else ""),
        "",
        "| figure | measured | goal |",
        "|---|---|---|",
    ]
    if "pc_to_sf_latency_ms" in results:
        pc, sf = results["pc_to_sf_latency_ms"], results["sf_to_pc_latency_ms"]
        calls, floor = results["api_calls_per_update"], results["floor_ms"]
        lines += [
            f"| PC→SF latency (webhook accepted → opportunity written) | {_latency(pc)} | p99 ≤ 3 s |",
            f"| SF→PC latency (seller edit → referral updated), poll every {sf['poll_interval_s']:g} s "
            f"| {_latency(sf)} | p99 ≤ {sf['poll_interval_s'] + 3:g} s |",
            f"| floor: one PC GET + one SF update, direct | {floor['p50']} ms (p95 {floor['p95']}) | — |",
            f"| API calls per steady-state update | Salesforce {calls['salesforce']}, Partner Center "
            f"{calls['partner_center']} | ≤ 2 each |",
            f"| Salesforce calls per idle poll | {results['idle_poll_calls']} | 1 |",
        ]
    for size, run in sorted(results.get("backfill", {}).items(), key=lambda kv: int(kv[0])):
        workers = run.get("worker_processes", 1)
        runs = len(run.get("runs", [])) or 1
        spread = run.get("spread", {}).get("records_per_s", {})
        span = f" (min {spread['min']}, max {spread['max']})" if runs > 1 and spread else ""
        lines.append(
            f"| backfill {int(size):,} referrals ({run.get('mode', 'per-record')}), {workers} worker "
            f"process{'es' if workers > 1 else ''}, median of {runs} run{'s' if runs > 1 else ''} "
            f"| {run['records_per_s']} records/s{span}; Partner Center {run['pc_calls_per_record']} and "
            f"Salesforce {run['sf_calls_per_record']} calls/record (all calls, echoes included); app CPU "
            f"{run['app_cpu_ms_per_record']} ms/record = {run['cpu_ratio_to_floor']}× the floor's "
            f"{run['floor_cpu_ms']} ms; peak RSS {run['peak_rss_mb']} MB "
            "| PC ≤ 1.1, SF ≤ 0.1, CPU ≤ 4× floor, RSS flat |"
        )
    chaos = results.get("chaos")
    if chaos:
        after, poison = chaos["after_replay"], chaos["poisoned"]
        lines.append(
            f"| chaos: {chaos['pairs']} pairs, {chaos['edits']} edits, {chaos['workers']['concurrent']} "
            f"worker processes (one SIGKILLed) | duplicates {after['duplicates']}, lost updates "
            f"{after['lost_updates']}, unequal pairs {after['unequal_pairs']}, missing {after['missing']}; "
            f"{poison['count']} poisoned ({poison['with_audit_error']} with audit error, "
            f"{poison['replayed']} replayed); writes after settling {chaos['writes_after_settle']} "
            "| 0 / 0 / 0 / 0 |"
        )
    lines += ["", METHOD]
    return "\n".join(lines) + "\n"


def main() -> int:
    results = json.loads((HERE / "results.json").read_text())
    (HERE / "README.md").write_text(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
