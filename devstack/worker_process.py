"""A sync worker in a process of its own: the local Functions host running only `sync_worker`, with the
app settings of a running `LocalStack` and the loopback Salesforce factory. Several of these side by
side are how the chaos run gets truly concurrent workers (and one to SIGKILL mid-job).

Run `python -m devstack.worker_process --sf-port PORT [--lease-seconds S]` with the stack's app
settings in the environment; it prints `ready` once the queue loop runs, then one `stats <json>` line
per `--stats-interval` seconds (invocations so far, the host's own CPU), and stops cleanly on SIGTERM
or SIGINT.
`spawn_worker` starts one from Python and waits for `ready`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
WORKER_FUNCTION = "sync_worker"


def run_worker(
    sf_port: int, *, lease_seconds: float, stats_interval: float, stop: threading.Event, warm: bool = False
) -> None:
    """Host `sync_worker` in this process until `stop` is set, printing progress lines; `warm`: fetch
    the tokens and the org's description before `ready` (`devstack.warm_up`)."""
    from devstack.host import LocalFunctionsHost
    from devstack.sf_sim import loopback_session
    from shared import api_clients
    from shared.config import get_settings
    from shared.salesforce.salesforce_client import SalesforceClient
    from shared.telemetry import configure_logging

    get_settings.cache_clear()
    # JSON log lines on stderr: warnings and errors only (several workers share the terminal).
    configure_logging(get_settings(), handler_level=logging.WARNING)
    api_clients.use_factories(salesforce=lambda s: SalesforceClient(s, session=loopback_session(sf_port)))
    import function_app

    if warm:
        from devstack.warm_up import warm_up

        warm_up(get_settings())
    host = LocalFunctionsHost(
        function_app.app,
        environ=dict(os.environ),
        only=[WORKER_FUNCTION],
        processing_lease_seconds=lease_seconds,
    )
    with host:
        print("ready", flush=True)
        while not stop.wait(stats_interval):
            print("stats " + json.dumps(_stats(host)), flush=True)
    print("stats " + json.dumps(_stats(host)), flush=True)


def _stats(host: object) -> dict[str, float]:
    stats = getattr(host, "stats")  # noqa: B009 - typed loosely to keep the imports lazy
    host_cpu = round(getattr(host, "host_cpu_seconds")(), 4)  # noqa: B009
    with stats.lock:
        return {
            "invocations": sum(stats.invocations.values()),
            "failures": sum(stats.failures.values()),
            "poisoned": sum(stats.poisoned.values()),
            "host_cpu": host_cpu,
        }


class WorkerProcess:
    """A started worker process; `stats` holds its latest progress line (read on a background thread,
    which also keeps the pipe drained)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.pid = process.pid
        self.stats: dict[str, float] = {}
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"worker-{process.pid}-out", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            text = line.strip()
            if text == "ready":
                self.ready.set()
            elif text.startswith("stats "):
                self.stats = json.loads(text[6:])

    def kill(self) -> None:
        """SIGKILL: no cleanup, in-flight messages stay leased until their lease runs out."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the in-flight jobs to finish, SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)
        return self.process.returncode


def spawn_worker(
    environ: Mapping[str, str],
    sf_port: int,
    *,
    lease_seconds: float = 15.0,
    stats_interval: float = 0.5,
    ready_timeout: float = 60.0,
    warm: bool = False,
) -> WorkerProcess:
    """Start a worker process with `environ` as its app settings; returns once it is polling the queue
    (`warm`: with its tokens and the org's description fetched first)."""
    env = {**os.environ, **environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.worker_process",
            "--sf-port",
            str(sf_port),
            "--lease-seconds",
            str(lease_seconds),
            "--stats-interval",
            str(stats_interval),
            *(["--warm"] if warm else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = WorkerProcess(process)
    if not worker.ready.wait(ready_timeout):
        worker.kill()
        raise RuntimeError(f"worker process {process.pid} did not become ready in {ready_timeout:.0f}s")
    return worker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sf-port", type=int, required=True, help="the Salesforce simulator's port")
    parser.add_argument("--lease-seconds", type=float, default=15.0, help="message lease while processing")
    parser.add_argument("--stats-interval", type=float, default=0.5)
    parser.add_argument("--warm", action="store_true", help="fetch tokens and describe the org first")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_worker(
        args.sf_port, lease_seconds=args.lease_seconds, stats_interval=args.stats_interval, stop=stop,
        warm=args.warm,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
