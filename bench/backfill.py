"""Backfill throughput and memory: seed N referrals in the Partner Center simulator, run the backfill
plus an in-process worker host in a child process (`bench.backfill_process`), and time until every
referral has its opportunity. Progress is counted in the Salesforce simulator (uncounted control
query); the child's RSS is sampled with psutil as it runs and its peak taken from /proc (VmHWM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import psutil

from bench.common import BenchTimeout, sf_writes, wait_quiet
from devstack.stack import LocalStack
from devstack.worker_process import ROOT, spawn_worker

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


def measure(records: int, *, timeout: float, extra_workers: int = 0) -> dict[str, Any]:
    """One backfill of `records` seeded referrals on a fresh stack: the backfill process runs a worker
    host itself; `extra_workers` more worker processes drain the same queue (as more instances would)."""
    with LocalStack(start_host=False) as stack:
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
        worker_peak = 0.0
        done = 0
        try:
            while done < records:
                if time.time() - started > timeout:
                    raise BenchTimeout(f"backfill of {records}: {done} done after {timeout:.0f}s")
                time.sleep(SAMPLE_SECONDS)
                done = _opportunity_count(stack)
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
        lines = out.strip().splitlines()
        enqueued_line = next((line for line in lines if line.startswith("enqueued")), "enqueued 0 0")
        peak = json.loads(lines[-1])["peak_rss_mb"]
        seconds = finished - started
        sf = stack.sf.counters()
        cpu_ms = 1000 * sum(cpu_seconds.values()) / records
        return {
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


def run(sizes: list[int], *, worker_processes: int = WORKER_PROCESSES) -> dict[str, Any]:
    return {str(n): measure(n, timeout=max(120.0, n / 5), extra_workers=worker_processes - 1) for n in sizes}
