"""The backfill measurement's child process: `shared.ops.backfill` (Partner Center source, batch mode
unless --per-record) runs while the local host runs every function in this same process — the sync
worker, the Partner Center webhook (on the stack's callback port, so the echoes of the backfill's
own writes arrive and are counted) and the Salesforce poll timer — so its peak RSS covers the
backfill and the workers. Prints `started <epoch>` before the backfill, `enqueued <n>`
after it, `host_cpu <seconds>` every 0.2 s (the local host's own CPU: `LocalFunctionsHost.host_cpu_seconds`),
and `{"peak_rss_mb": ..., "invocations": {function: count}}` as its last line once SIGTERM asks it to
stop."""

from __future__ import annotations

import argparse
import json
import resource
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from devstack.host import LocalFunctionsHost
from devstack.sf_sim import loopback_session
from devstack.warm_up import warm_up
from shared import api_clients
from shared.config import get_settings
from shared.ops.backfill import Source, backfill
from shared.ops.ops_clients import OpsClients
from shared.salesforce.salesforce_client import SalesforceClient

HOST_CPU_INTERVAL = 0.2


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM belongs to the address space exec created; getrusage's
    ru_maxrss is not reset by exec on Linux, so it would report the parent's size at fork."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux, bytes on macOS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sf-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True, help="the stack's webhook callback port")
    parser.add_argument("--per-record", action="store_true", help="one job per referral (the old way)")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    get_settings.cache_clear()
    settings = get_settings()
    port = args.sf_port
    api_clients.use_factories(salesforce=lambda s: SalesforceClient(s, session=loopback_session(port)))
    import function_app

    warm_up(settings)  # tokens and the org's description, as the floor's own warm-up has them
    with LocalFunctionsHost(function_app.app, http_port=args.http_port) as host:
        with OpsClients(settings, make_sf=api_clients.salesforce) as ops:
            ops.pc.warm_up()
            print(f"started {time.time()}", flush=True)
            threading.Thread(target=_report_host_cpu, args=(host, stop), daemon=True).start()
            report = backfill(
                settings, ops, since=datetime.now(UTC) - timedelta(days=1), source=Source.PC, restart=True,
                per_record=args.per_record,
            )  # fmt: skip
        print(f"enqueued {report.enqueued} {time.time()}", flush=True)
        stop.wait()
    with host.stats.lock:
        invocations = dict(host.stats.invocations)
    peak = round(peak_rss_kib() / 1024, 1)
    print(json.dumps({"peak_rss_mb": peak, "invocations": invocations}), flush=True)
    return 0


def _report_host_cpu(host: LocalFunctionsHost, stop: threading.Event) -> None:
    while not stop.wait(HOST_CPU_INTERVAL):
        print(f"host_cpu {host.host_cpu_seconds():.4f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
