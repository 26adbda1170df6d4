"""The floor operations' CPU, measured in a process of its own as the app's is (process CPU): one
bare Partner Center GET and one Salesforce update through the app's own clients, with the app's
telemetry set up as `function_app` sets it, in `--batches` batches of `--pairs` pairs. Prints
`{"floor_cpu_ms": <ms per pair, the median batch>, "batches_ms": [...]}`: one short batch swings with
whatever else the shared machine runs at that moment, the median of several does not.

Measured apart from the simulators (which share the benchmark's own process, and whose threads
would compete with a floor measured there)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from devstack.sf_sim import loopback_session
from shared import api_clients
from shared.config import get_settings
from shared.salesforce.salesforce_client import SalesforceClient
from shared.telemetry import configure_telemetry

WARM_UP = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sf-port", type=int, required=True)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--opportunity", required=True, help="an opportunity the poll ignores (Sync off)")
    args = parser.parse_args(argv)
    get_settings.cache_clear()
    settings = get_settings()
    configure_telemetry(settings)
    port = args.sf_port
    api_clients.use_factories(salesforce=lambda s: SalesforceClient(s, session=loopback_session(port)))
    pc = api_clients.partner_center(settings)
    sf = api_clients.salesforce(settings)
    referral_id = str(next(iter(pc.iter_referrals(top=1))).id)
    opportunity = args.opportunity

    def pair() -> None:
        pc.get_referral(referral_id)
        sf.update_opportunity(opportunity, {"Description": "floor measurement"})

    for _ in range(WARM_UP):  # connections, tokens, the org's description
        pair()
    batches: list[float] = []
    for _ in range(args.batches):
        started = time.process_time()
        for _ in range(args.pairs):
            pair()
        batches.append(round(1000 * (time.process_time() - started) / args.pairs, 3))
    print(json.dumps({"floor_cpu_ms": statistics.median(batches), "batches_ms": batches}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
