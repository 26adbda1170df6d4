"""Backfill throughput and memory: seed N referrals in the Partner Center simulator (`seed_mix`: a
contact each, and in realistic proportions close dates, notes and solutions), run the backfill plus
an in-process host of every function (worker, webhook, poll) in a child process
(`bench.backfill_process`), and time until every referral has its opportunity. Webhooks and the
poll stay on, so the echoes of the backfill's own writes are counted. Progress is counted in the
Salesforce simulator (uncounted control query); the child's RSS is sampled with psutil as it
runs and its peak taken from /proc (VmHWM)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import httpx
import psutil

from bench.common import BenchTimeout, sf_calls, sf_writes
from devstack.stack import LocalStack
from devstack.worker_process import ROOT, WorkerProcess, spawn_worker
from shared.store.job_queue import depth as queue_depth

SAMPLE_SECONDS = 0.5
# Worker processes draining the queue, as instances would in Azure: one per core of this machine.
WORKER_PROCESSES = max(2, os.cpu_count() or 1)
# The backfill measurement's app processes: one per core but the one the simulators and Azurite need
# (in Azure, Partner Center, Salesforce and Storage are other machines). On a 2-core machine a second
# app process measured oversubscription, not the app: 10,000 referrals took 47.8 s of app CPU in two
# processes against 37.7 s in one, and ran slower (148 against 167 records/s).
BACKFILL_PROCESSES = max(1, (os.cpu_count() or 2) - 1)
# Shares of the seeded referrals, each group seeded with its own details (pc_sim `seed` overrides).
# Every referral has its customer's contact (customers repeat across groups, as a customer's deals do).
_SOLUTION = {"id": "SOL-15974-MQF", "name": "Contoso Data Platform"}
MIX: tuple[tuple[float, dict[str, Any]], ...] = (
    (0.25, {}),  # a contact only: no close date (Salesforce needs one: it goes back to Partner Center)
    (0.25, {"details": {"closingDateTime": "2027-03-31T00:00:00Z", "notes": "Workshop requested.",
                        "requirements": {"solutions": [_SOLUTION]}}}),
    (0.25, {"details": {"closingDateTime": "2027-06-30T00:00:00Z",
                        "requirements": {"solutions": [_SOLUTION]}}}),
    (0.25, {"details": {"closingDateTime": "2027-09-30T00:00:00Z", "notes": "Customer evaluating Azure."}}),
)  # fmt: skip
MODE = "batch"
"""The backfill mode `run` measures (the default of `shared.ops.backfill`)."""
# No reconcile during a run (its 30-minute timer would land in some runs and not others). The poll's
# overlap is 0 s (a 1-second window): with the stack's 30 s, the poll's remembered ids of a backfill
# burst outgrow the watermark's table property (shared/store/watermarks.py MAX_SEEN_CHARS is 60,000
# characters, Azure's limit 32K UTF-16 characters) and every poll fails from then on.
QUIET_TIMERS = {"reconcile_schedule": "0 0 3 * * *", "sf_poll_overlap_seconds": 0}


def seed_mix(stack: LocalStack, records: int) -> dict[str, int]:
    """Seed `records` referrals in MIX's proportions; returns how many of each kind."""
    counts: dict[str, int] = {"no_close_date": 0, "notes": 0, "solutions": 0}
    left = records
    for n, (share, overrides) in enumerate(MIX):
        count = left if n == len(MIX) - 1 else round(records * share)
        stack.pc.seed(count, overrides)
        left -= count
        details = overrides.get("details", {})
        counts["no_close_date"] += 0 if "closingDateTime" in details else count
        counts["notes"] += count if "notes" in details else 0
        counts["solutions"] += count if "requirements" in details else 0
    return counts


class CpuSplit:
    """CPU seconds each probe counted from construction to `used()`: where the time goes. A probe is
    a process's CPU (`process_cpu`) or a part of one (the local host's own CPU in the backfill process
    and the workers, which in Azure is the Functions host's, not the app's)."""

    def __init__(self, **probes: Callable[[], float]) -> None:
        self.probes = probes
        self.start = {name: probe() for name, probe in probes.items()}

    def used(self) -> dict[str, float]:
        return {name: round(probe() - self.start[name], 3) for name, probe in self.probes.items()}


def process_cpu(process: psutil.Process) -> Callable[[], float]:
    def probe() -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    return probe


class _ChildOutput:
    """The backfill process's stdout, read on a thread: the latest of its `host_cpu` lines, every
    other line kept."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.host_cpu = 0.0
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), name="child-out", daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.strip()
            if text.startswith("host_cpu "):
                self.host_cpu = float(text.split()[1])
                continue
            self.lines.append(text)
            if text.startswith("started "):
                self.started.set()

    def started_at(self, timeout: float) -> float:
        if not self.started.wait(timeout):
            raise BenchTimeout(f"the backfill process did not start in {timeout:.0f}s")
        return float(next(line for line in self.lines if line.startswith("started ")).split()[1])

    def rest(self, timeout: float) -> str:
        self._thread.join(timeout)
        return "\n".join(self.lines)


def work_cpu_until_settled(stack: LocalStack, cpu: CpuSplit) -> dict[str, float]:
    """CPU per process until the last work was seen, the echoes of the backfill's writes included
    (webhook jobs, the poll's jobs delayed by OWN_WRITE_SETTLE_SECONDS run after the last opportunity
    exists). The idle CPU of that tail (timers, queue polling at the rate of the final quiet spell)
    is not work: it is taken off."""
    samples: list[tuple[float, dict[str, float]]] = [(time.monotonic(), cpu.used())]
    wait_settled(
        stack, quiet_seconds=6.0, timeout=180,
        on_activity=lambda: samples.append((time.monotonic(), cpu.used())),
    )  # fmt: skip
    end, idle = time.monotonic(), cpu.used()
    (done_at, _), (last_at, last) = samples[0], samples[-1]
    quiet = max(end - last_at, 1.0)
    tail = last_at - done_at
    return {
        name: round(max(last[name] - tail * (idle[name] - last[name]) / quiet, samples[0][1][name]), 2)
        for name in last
    }


def _opportunity_count(stack: LocalStack) -> int:
    """COUNT() through the control API: cheap for the simulator even at 10,000 records."""
    response = httpx.post(
        f"{stack.sf_sim.base_url}/_sim/query",
        json={"q": "SELECT COUNT() FROM Opportunity WHERE Referral_Id__c != null"},  # not the floor's
        timeout=30,
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


def wait_settled(
    stack: LocalStack, *, quiet_seconds: float, timeout: float, on_activity: Callable[[], None] = lambda: None
) -> float:
    """`common.wait_quiet` with the poll on: quiet once the queue is empty, no webhook is pending,
    Partner Center saw no call and Salesforce no more calls than the idle polls (one per 2-second
    poll) for `quiet_seconds`. The idle polls stay in the counts (a few calls per run).
    `on_activity` runs whenever work is still seen (the caller samples CPU there)."""
    started = time.monotonic()
    last: tuple[int, int] = (-1, -1)
    since = started
    while time.monotonic() - started < timeout:
        now = (_pc_total(stack), sf_calls(stack.sf.counters()))
        busy = queue_depth(stack.settings) > 0 or stack.pc.webhooks()["pending"] > 0
        quiet_polls = 1 + int((time.monotonic() - since) / 2.0) + 1
        if busy or now[0] != last[0] or now[1] - last[1] > quiet_polls:
            last, since = now, time.monotonic()
            on_activity()
        elif time.monotonic() - since >= quiet_seconds:
            return time.monotonic() - started
        time.sleep(0.25)
    raise BenchTimeout(f"the stack did not settle within {timeout:.0f}s")


def floor_cpu_ms(stack: LocalStack, opportunity: str, pairs: int = 200) -> float:
    """CPU of the floor operations — one bare Partner Center GET and one Salesforce update through
    the app's own clients — per pair, in a process of its own (`bench.floor_process`): the median of
    its five batches."""
    env = {**os.environ, **stack.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.floor_process", "--sf-port", str(stack.sf_sim.port),
         "--pairs", str(pairs), "--opportunity", opportunity],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return round(float(json.loads(done.stdout.strip().splitlines()[-1])["floor_cpu_ms"]), 2)


@dataclass
class _Progress:
    curve: list[tuple[float, int, float]] = field(default_factory=list)  # (s, records done, child MB)
    pc_samples: list[tuple[float, int]] = field(default_factory=list)  # (s, Partner Center calls so far)
    worker_peak: float = 0.0

    @classmethod
    def until_done(  # noqa: PLR0917 - the run's parts it samples
        cls, stack: LocalStack, records: int, started: float, timeout: float, child: psutil.Process,
        workers: list[psutil.Process],
    ) -> _Progress:  # fmt: skip
        """Sample the run until every referral has its opportunity."""
        progress, done = cls(), 0
        while done < records:
            if time.time() - started > timeout:
                raise BenchTimeout(f"backfill of {records}: {done} done after {timeout:.0f}s")
            time.sleep(SAMPLE_SECONDS)
            done = _opportunity_count(stack)
            progress.pc_samples.append((time.time() - started, _pc_total(stack)))
            rss = round(child.memory_info().rss / 2**20, 1)
            progress.curve.append((round(time.time() - started, 2), done, rss))
            for worker in workers:
                progress.worker_peak = max(progress.worker_peak, worker.memory_info().rss / 2**20)
        return progress


def measure(
    records: int,
    *,
    timeout: float,
    extra_workers: int = 0,
    extra_settings: dict[str, Any] | None = None,
    per_record: bool = False,
) -> dict[str, Any]:
    """One backfill of `records` seeded referrals on a fresh stack: the backfill process hosts every
    function itself (webhooks reach it, the poll runs in it); `extra_workers` more worker processes
    drain the same queue (as more instances would)."""
    settings = {**QUIET_TIMERS, **(extra_settings or {})}
    with LocalStack(start_host=False, extra_settings=settings) as stack:
        seeded = seed_mix(stack, records)
        # The floor before and after the backfill (its calls before the counters are reset): this
        # machine's speed drifts over minutes, and a floor taken only on one side would carry it.
        floor_opportunity = stack.sf.create_opportunity("Floor measurement")  # Sync off: never polled
        floor_before = floor_cpu_ms(stack, floor_opportunity)
        workers = [spawn_worker(stack.environ, stack.sf_sim.port, warm=True) for _ in range(extra_workers)]
        worker_procs = [psutil.Process(w.pid) for w in workers]
        stack.sf.reset_counters()
        stack.pc.reset_counters()
        env = {**os.environ, **stack.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.backfill_process", "--sf-port", str(stack.sf_sim.port),
             "--http-port", str(stack.http_port), *(["--per-record"] if per_record else [])],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        output = _ChildOutput(child.stdout)
        started = output.started_at(timeout=120)
        proc = psutil.Process(child.pid)
        assert stack.azurite.process is not None
        azurite = psutil.Process(stack.azurite.process.pid)
        cpu = CpuSplit(
            child=process_cpu(proc), simulators=process_cpu(psutil.Process()),
            azurite=process_cpu(azurite), child_host=lambda: output.host_cpu,
            **{f"worker{n + 2}": process_cpu(p) for n, p in enumerate(worker_procs)},
            **{f"worker{n + 2}_host": _worker_host_cpu(w) for n, w in enumerate(workers)},
        )  # fmt: skip
        try:
            progress = _Progress.until_done(stack, records, started, timeout, proc, worker_procs)
            finished = time.time()
            cpu_seconds = work_cpu_until_settled(stack, cpu)
        finally:
            child.terminate()
            child.wait(timeout=60)
            out = output.rest(timeout=10)
            for worker in workers:
                worker.stop()
        pc_counts = {k: v for k, v in stack.pc.counters().items() if k != "POST /token"}
        sf = stack.sf.counters()
        # After the counts: its own GETs and updates are not the backfill's.
        floor_after = floor_cpu_ms(stack, floor_opportunity)
        floor = round((floor_before + floor_after) / 2, 2)
        enqueued_at, peak, invoked = _child_report(out, workers)
        seconds = finished - started
        app = {"child", *(f"worker{n + 2}" for n in range(len(workers)))}  # the app's own processes
        cpu_ms = 1000 * sum(v for k, v in cpu_seconds.items() if not k.endswith("_host")) / records
        app_cpu = sum(v for k, v in cpu_seconds.items() if k in app)
        host_cpu = sum(v for k, v in cpu_seconds.items() if k.endswith("_host"))
        sf_counts = {k: v for k, v in sf.items() if k not in ("token", "api_total")}
        return {
            # The issue #19 figures: all calls per record (reads too), app CPU against the floor's.
            "pc_total_calls_per_record": round(sum(pc_counts.values()) / records, 2),
            "sf_total_calls_per_record": round(sum(sf_counts.values()) / records, 2),
            "app_cpu_ms_per_record": round(1000 * app_cpu / records, 2),
            # The same less the local host's own work (queue receive/delete, lease renewals, its HTTP
            # server): what the app's Python worker does in Azure, where the Functions host does that.
            "function_cpu_ms_per_record": round(1000 * (app_cpu - host_cpu) / records, 2),
            "host_emulation_cpu_ms_per_record": round(1000 * host_cpu / records, 2),
            "floor_cpu_ms": floor,
            "floor_cpu_ms_before_after": [floor_before, floor_after],
            "pc_peak_requests_per_s": peak_rate(progress.pc_samples),
            "records": records,
            "mode": "per-record" if per_record else "batch",
            "seeded": seeded,
            "seconds": round(seconds, 2),
            "records_per_s": round(records / seconds, 1),
            "enqueue_seconds": round(enqueued_at - started, 2),
            "peak_rss_mb": peak,
            # Function invocations until the stack settled, per record: the echoes' jobs included.
            "invocations_per_record": {k: round(v / records, 2) for k, v in sorted(invoked.items())},
            "worker_processes": 1 + extra_workers,
            "extra_worker_peak_rss_mb": round(progress.worker_peak, 1) if workers else None,
            "sf_write_calls_per_record": round(sf_writes(sf) / records, 2),
            "sf_calls_per_record": {
                k: round(v / records, 2) for k, v in sorted(sf.items()) if k not in ("token", "api_total")
            },
            "pc_calls_per_record": {k: round(v / records, 2) for k, v in sorted(pc_counts.items())},
            "cpu_seconds": cpu_seconds,
            # Everything here shares this machine's cores: CPU per record bounds the throughput.
            "cpu_ms_per_record": round(cpu_ms, 1),
            "cpu_bound_ceiling_records_per_s": round(1000 * (os.cpu_count() or 1) / cpu_ms, 1),
            "curve": progress.curve,
        }


def _worker_host_cpu(worker: WorkerProcess) -> Callable[[], float]:
    return lambda: float(worker.stats.get("host_cpu", 0.0))


def _child_report(out: str, workers: list[WorkerProcess]) -> tuple[float, float, dict[str, int]]:
    """From the backfill process's output: when it had enqueued its jobs, its peak RSS, and the
    function invocations of every process (the echoes' jobs included)."""
    lines = out.strip().splitlines()
    enqueued_line = next((line for line in lines if line.startswith("enqueued")), "enqueued 0 0")
    last = json.loads(lines[-1])
    invoked = dict(last.get("invocations", {}))
    in_workers = sum(w.stats.get("invocations", 0) for w in workers)
    invoked["sync_worker"] = invoked.get("sync_worker", 0) + in_workers
    return float(enqueued_line.split()[2]), float(last["peak_rss_mb"]), invoked


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run's figures (by records/s) with every run's headline figures and the spread."""
    ordered = sorted(runs, key=lambda r: float(r["records_per_s"]))
    median = dict(ordered[len(ordered) // 2])
    keys = ("records_per_s", "pc_total_calls_per_record", "sf_total_calls_per_record",
            "app_cpu_ms_per_record", "function_cpu_ms_per_record", "floor_cpu_ms", "peak_rss_mb")  # fmt: skip
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
        "function_cpu_ratio_to_floor": round(
            median["function_cpu_ms_per_record"] / median["floor_cpu_ms"], 1
        ),
        # Each run's ratios (its own floor): the spread the median run's ratio sits in.
        "cpu_ratio_by_run": [round(r["app_cpu_ms_per_record"] / r["floor_cpu_ms"], 2) for r in runs],
        "function_cpu_ratio_by_run": [
            round(r["function_cpu_ms_per_record"] / r["floor_cpu_ms"], 2) for r in runs
        ],
        "spread": spread,
        "runs": [{key: r[key] for key in keys} for r in runs],
    }


def run(sizes: list[int], *, worker_processes: int = BACKFILL_PROCESSES, runs: int = 3) -> dict[str, Any]:
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
