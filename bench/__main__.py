"""`make bench`: latency both ways (steady state, then after idle spells), floor, API calls, idle poll,
backfill throughput and memory, and the chaos run, against the local stack; writes bench/results.json
and bench/results.png, renders bench/README.md (and the deployment model block of README.md) and
prints the summary table. `--quick` runs smaller sizes (minutes) for a smoke check."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from bench import backfill, chaos, chaos_faults, latency
from bench.readme import write_readmes
from bench.report import plot, summary_table

HERE = Path(__file__).resolve().parent
console = Console(width=None if sys.stdout.isatty() else 160)


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores / {memory:.0f} GiB, Python {platform.python_version()}, "
        "local simulators + Azurite on loopback"
    )


def save(path: Path, results: dict[str, Any]) -> None:
    """Written after every stage, so a long run interrupted later keeps the figures it has."""
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not the figures")
    parser.add_argument(
        "--only",
        choices=["latency", "latency_idle", "backfill", "chaos", "chaos_faults"],
        action="append",
        help="run only these stages (repeatable); others keep their previous figures. `latency` includes "
        "the after-idle samples; `latency_idle` runs only those (key latency_after_idle_ms)",
    )
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    parser.add_argument("--sizes", type=int, nargs="+", help="backfill sizes (default 1000 10000)")
    parser.add_argument("--runs", type=int, default=3, help="backfill runs per size (median, min, max)")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        help=f"idle spell before each after-idle change (default {latency.IDLE_SECONDS:g}, quick 10)",
    )
    parser.add_argument(
        "--idle-samples",
        type=int,
        help=f"after-idle changes per direction, each after its own idle spell (default "
        f"{latency.IDLE_SAMPLES}, quick 2; 0 skips them)",
    )
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the stacks and worker processes started so far are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stages = set(args.only or ["latency", "backfill", "chaos", "chaos_faults"])
    results: dict[str, Any] = {}
    if args.only and args.output.exists():
        results = json.loads(args.output.read_text())
    results.update({"date": datetime.now(UTC).date().isoformat(), "machine": machine(), "quick": args.quick})
    timings: dict[str, float] = results.setdefault("stage_seconds", {})
    samples = _latency_stages(stages, args, results=results, timings=timings)
    if "backfill" in stages:
        console.print("[bold]backfill…[/]")
        started = time.monotonic()
        sizes = args.sizes or ([300, 1000] if args.quick else [1000, 10_000])
        # Sizes run earlier in the same mode stay; figures of another mode (or none recorded) go.
        kept = {k: v for k, v in results.get("backfill", {}).items() if v.get("mode") == backfill.MODE}
        results["backfill"] = {**kept, **backfill.run(sizes, runs=1 if args.quick else args.runs)}
        results["rate_limit"] = backfill.rate_limit(10.0)
        timings["backfill"] = round(time.monotonic() - started, 1)
        save(args.output, results)
    _chaos_stages(stages, quick=args.quick, results=results, timings=timings)
    save(args.output, results)
    plot(results, samples, args.output.with_suffix(".png"))
    if args.output == HERE / "results.json":
        write_readmes(results)
    console.print(summary_table(results))
    console.print(f"wrote {args.output} and {args.output.with_suffix('.png')}")
    return 0 if results.get("chaos", {}).get("ok", True) else 1


def _latency_stages(
    stages: set[str], args: argparse.Namespace, *, results: dict[str, Any], timings: dict[str, Any]
) -> dict[str, list[float]]:
    """The latency stage (steady state, then the after-idle samples), or the after-idle samples alone;
    returns the steady-state samples for the plot (the previous run's when not measured now)."""
    idle_s = (
        args.idle_seconds if args.idle_seconds is not None else 10.0 if args.quick else latency.IDLE_SECONDS
    )
    idle_samples = (
        args.idle_samples if args.idle_samples is not None else 2 if args.quick else latency.IDLE_SAMPLES
    )
    if "latency" in stages:
        console.print(f"[bold]latency, floor, API calls, idle poll, after {idle_s:g} s idle…[/]")
        started = time.monotonic()
        figures = latency.run(
            changes=60 if args.quick else 200, rate=5.0, idle_s=idle_s, idle_samples=idle_samples
        )
        samples: dict[str, list[float]] = figures.pop("_samples")
        results.update(figures)
        results["latency_samples_ms"] = samples
        timings["latency"] = round(time.monotonic() - started, 1)
        save(args.output, results)
        return samples
    if "latency_idle" in stages and idle_samples > 0:
        console.print(f"[bold]latency after {idle_s:g} s idle ({idle_samples} changes each way)…[/]")
        started = time.monotonic()
        results["latency_after_idle_ms"] = latency.run_after_idle(idle_s=idle_s, samples=idle_samples)
        timings["latency_idle"] = round(time.monotonic() - started, 1)
        save(args.output, results)
    previous: dict[str, list[float]] = results.get("latency_samples_ms", {})
    return previous


def _chaos_stages(stages: set[str], *, quick: bool, results: dict[str, Any], timings: dict[str, Any]) -> None:
    if "chaos" in stages:
        console.print("[bold]chaos…[/]")
        started = time.monotonic()
        config = chaos.ChaosConfig(pairs=100, rounds=2) if quick else chaos.ChaosConfig()
        results["chaos"] = chaos.run(config)
        timings["chaos"] = round(time.monotonic() - started, 1)
    if "chaos_faults" in stages:
        console.print("[bold]chaos with faults (storage restart, revoked token, 403 reads)…[/]")
        started = time.monotonic()
        pairs = 40 if quick else 200
        results["chaos_faults"] = chaos_faults.run(chaos_faults.FaultConfig(pairs=pairs))
        timings["chaos_faults"] = round(time.monotonic() - started, 1)


if __name__ == "__main__":
    sys.exit(main())
