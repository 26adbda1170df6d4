"""Backfill throughput and memory: seed N referrals in the Partner Center simulator, run the backfill
plus an in-process worker host in a child process (`bench.backfill_process`), and time until every
referral has its opportunity. Progress is counted in the Salesforce simulator (uncounted control
query); the child's RSS is sampled with psutil as it runs and its peak taken from /proc (VmHWM)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil

from bench.common import BenchTimeout, sf_writes, wait_quiet
from devstack.stack import LocalStack
from devstack.worker_process import ROOT, spawn_worker
from shared import api_clients

SAMPLE_SECONDS = 0.5
# Worker processes draining the queue, as instances would in Azure: one per core of this machine.
WORKER_PROCESSES = max(2, os.cpu_count() or 1)


class CpuSplit:
    """CPU seconds each process of the run used from construction to `used()`: where the time goes."""

    def __init__(self, **processes: psutil.Process) -> None:
        self.processes = processes
        self.start = {name: self._cpu(p) for name, p in processes.items()}

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    def used(self) -> dict[str, float]:
        return {name: round(self._cpu(p) - self.start[name], 1) for name, p in self.processes.items()}


def _opportunity_count(stack: LocalStack) -> int:
    """COUNT() through the control API: cheap for the simulator even at 10,000 records."""
    response = httpx.post(
        f"{stack.sf_sim.base_url}/_sim/query", json={"q": "SELECT COUNT() FROM Opportunity"}, timeout=30
    )
    response.raise_for_status()
    return int(response.json()["totalSize"])


def _pc_total(stack: LocalStack) -> int:
    return sum(v for k, v in stack.pc.counters().items() if k != "POST /token")


def peak_rate(samples: list[tuple[float, int]], window: float = 1.0) -> float:
    """The highest request rate over any stretch of at least `window` seconds between two samples
    of a cumulative count (the shortest such stretch from each sample)."""
    peak = 0.0
    for i, (t0, c0) in enumerate(samples):
        for t1, c1 in samples[i + 1 :]:
            if t1 - t0 >= window:
                peak = max(peak, (c1 - c0) / (t1 - t0))
                break
    return round(peak, 1)


def floor_cpu_ms(stack: LocalStack, repeats: int = 50) -> float:
    """CPU of the floor operations — one bare Partner Center GET and one Salesforce update through
    the app's own clients — per pair, on this thread only (the simulators share this process)."""
    pc = api_clients.partner_center(stack.settings)
    sf = api_clients.salesforce(stack.settings)
    referral = next(iter(pc.iter_referrals(top=1)))
    opportunity = sf.query("SELECT Id FROM Opportunity LIMIT 1")[0]["Id"]
    pc.get_referral(str(referral.id))  # warm connections and tokens
    started = time.thread_time()
    for _ in range(repeats):
        pc.get_referral(str(referral.id))
        sf.update_opportunity(opportunity, {"Description": "floor measurement"})
    return round(1000 * (time.thread_time() - started) / repeats, 2)


def measure(
    records: int, *, timeout: float, extra_workers: int = 0, extra_settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One backfill of `records` seeded referrals on a fresh stack: the backfill process runs a worker
    host itself; `extra_workers` more worker processes drain the same queue (as more instances would)."""
    with LocalStack(start_host=False, extra_settings=extra_settings) as stack:
        # No HTTP function runs here, so webhook deliveries would only retry against a closed port
        # (and compete with the backfill for the simulators' CPU): drop them.
        stack.pc.set_faults(webhooks={"drop_rate": 1.0})
        stack.pc.seed(records)
        workers = [spawn_worker(stack.environ, stack.sf_sim.port) for _ in range(extra_workers)]
        worker_procs = [psutil.Process(w.pid) for w in workers]
        stack.sf.reset_counters()
        stack.pc.reset_counters()
        env = {**os.environ, **stack.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.backfill_process", "--sf-port", str(stack.sf_sim.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        started = float(child.stdout.readline().split()[1])
        proc = psutil.Process(child.pid)
        assert stack.azurite.process is not None
        azurite = psutil.Process(stack.azurite.process.pid)
        cpu = CpuSplit(
            child=proc, simulators=psutil.Process(), azurite=azurite,
            **{f"worker{n + 2}": p for n, p in enumerate(worker_procs)},
        )  # fmt: skip
        curve: list[tuple[float, int, float]] = []  # (seconds, records done, child RSS MB)
        pc_samples: list[tuple[float, int]] = []  # (seconds, Partner Center calls so far)
        worker_peak = 0.0
        done = 0
        try:
            while done < records:
                if time.time() - started > timeout:
                    raise BenchTimeout(f"backfill of {records}: {done} done after {timeout:.0f}s")
                time.sleep(SAMPLE_SECONDS)
                done = _opportunity_count(stack)
                pc_samples.append((time.time() - started, _pc_total(stack)))
                curve.append(
                    (round(time.time() - started, 2), done, round(proc.memory_info().rss / 2**20, 1))
                )
                for worker in worker_procs:
                    worker_peak = max(worker_peak, worker.memory_info().rss / 2**20)
            finished = time.time()
            cpu_seconds = cpu.used()
            wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=5.0, timeout=120)
        finally:
            child.terminate()
            out, _ = child.communicate(timeout=60)
            for worker in workers:
                worker.stop()
        floor = floor_cpu_ms(stack)
        lines = out.strip().splitlines()
        enqueued_line = next((line for line in lines if line.startswith("enqueued")), "enqueued 0 0")
        peak = json.loads(lines[-1])["peak_rss_mb"]
        seconds = finished - started
        sf = stack.sf.counters()
        cpu_ms = 1000 * sum(cpu_seconds.values()) / records
        app_cpu = sum(v for k, v in cpu_seconds.items() if k == "child" or k.startswith("worker"))
        pc_counts = {k: v for k, v in stack.pc.counters().items() if k != "POST /token"}
        sf_counts = {k: v for k, v in sf.items() if k not in ("token", "api_total")}
        return {
            # The issue #19 figures: all calls per record (reads too), app CPU against the floor's.
            "pc_total_calls_per_record": round(sum(pc_counts.values()) / records, 2),
            "sf_total_calls_per_record": round(sum(sf_counts.values()) / records, 2),
            "app_cpu_ms_per_record": round(1000 * app_cpu / records, 2),
            "floor_cpu_ms": floor,
            "pc_peak_requests_per_s": peak_rate(pc_samples),
            "records": records,
            "seconds": round(seconds, 2),
            "records_per_s": round(records / seconds, 1),
            "enqueue_seconds": round(float(enqueued_line.split()[2]) - started, 2),
            "peak_rss_mb": peak,
            "worker_processes": 1 + extra_workers,
            "extra_worker_peak_rss_mb": round(worker_peak, 1) if workers else None,
            "sf_write_calls_per_record": round(sf_writes(sf) / records, 2),
            "sf_calls_per_record": {
                k: round(v / records, 2) for k, v in sorted(sf.items()) if k not in ("token", "api_total")
            },
            "pc_calls_per_record": {
                k: round(v / records, 2) for k, v in sorted(stack.pc.counters().items()) if k != "POST /token"
            },
            "cpu_seconds": cpu_seconds,
            # Everything here shares this machine's cores: CPU per record bounds the throughput.
            "cpu_ms_per_record": round(cpu_ms, 1),
            "cpu_bound_ceiling_records_per_s": round(1000 * (os.cpu_count() or 1) / cpu_ms, 1),
            "curve": curve,
        }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run's figures (by records/s) with every run's headline figures and the spread."""
    ordered = sorted(runs, key=lambda r: float(r["records_per_s"]))
    median = dict(ordered[len(ordered) // 2])
    keys = ("records_per_s", "pc_total_calls_per_record", "sf_total_calls_per_record",
            "app_cpu_ms_per_record", "floor_cpu_ms", "peak_rss_mb")  # fmt: skip
    spread = {
        key: {
            "median": statistics.median(float(r[key]) for r in runs),
            "min": min(float(r[key]) for r in runs),
            "max": max(float(r[key]) for r in runs),
        }
        for key in keys
    }
    return {
        **median,
        "pc_calls_per_record": median["pc_total_calls_per_record"],
        "sf_calls_per_record": median["sf_total_calls_per_record"],
        "pc_calls_per_record_by_kind": median["pc_calls_per_record"],
        "sf_calls_per_record_by_kind": median["sf_calls_per_record"],
        "cpu_ratio_to_floor": round(median["app_cpu_ms_per_record"] / median["floor_cpu_ms"], 1),
        "spread": spread,
        "runs": [{key: r[key] for key in keys} for r in runs],
    }


def run(sizes: list[int], *, worker_processes: int = WORKER_PROCESSES, runs: int = 3) -> dict[str, Any]:
    return {
        str(n): summarise(
            [measure(n, timeout=max(120.0, n / 5), extra_workers=worker_processes - 1) for _ in range(runs)]
        )
        for n in sizes
    }


def rate_limit(
    limit_per_process: float, *, records: int = 300, worker_processes: int = WORKER_PROCESSES
) -> dict[str, Any]:
    """A backfill with PC_MAX_REQUESTS_PER_SECOND set: the Partner Center simulator's busiest second
    against the limit summed over the processes (each process keeps its own bucket)."""
    figures = measure(
        records,
        timeout=600.0,
        extra_workers=worker_processes - 1,
        extra_settings={"pc_max_requests_per_second": limit_per_process},
    )
    return {
        "limit": limit_per_process * worker_processes,
        "limit_per_process": limit_per_process,
        "processes": worker_processes,
        "observed_peak": figures["pc_peak_requests_per_s"],
        "records": records,
        "records_per_s": figures["records_per_s"],
    }
