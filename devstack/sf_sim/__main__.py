"""`python -m devstack.sf_sim --port N`: run the simulator as a process; prints the app settings
(JSON) that point the connector at it, then serves until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading

from devstack.sf_sim.sim_server import SalesforceSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.sf_sim", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--api-version", default="59.0")
    parser.add_argument("--single-currency", action="store_true", help="org without multi-currency")
    args = parser.parse_args(argv)
    sim = SalesforceSimulator(
        port=args.port or None, api_version=args.api_version, multi_currency=not args.single_currency
    )
    with sim:
        print(
            json.dumps({"port": sim.port, "control": f"{sim.base_url}/_sim", **sim.settings_overrides()}),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
