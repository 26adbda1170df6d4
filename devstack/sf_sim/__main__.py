"""`python -m devstack.sf_sim --port N [--profile ideal|new_org|enterprise]`: run the simulator as a
process (the profile defaults to $SF_SIM_PROFILE, else "ideal"); prints the app settings (JSON) that
point the connector at it, then serves until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading

from devstack.sf_sim.profiles import DEFAULT_PROFILE, PROFILE_ENV, PROFILES
from devstack.sf_sim.sim_server import SalesforceSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.sf_sim", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--api-version", default="59.0")
    parser.add_argument("--single-currency", action="store_true", help="org without multi-currency")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE,
        help=f"org profile (default: ${PROFILE_ENV} or {DEFAULT_PROFILE})",
    )
    args = parser.parse_args(argv)
    sim = SalesforceSimulator(
        port=args.port or None,
        api_version=args.api_version,
        profile=args.profile,
        multi_currency=False if args.single_currency else None,
    )
    with sim:
        print(
            json.dumps(
                {
                    "port": sim.port,
                    "control": f"{sim.base_url}/_sim",
                    "profile": args.profile,
                    **sim.settings_overrides(),
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
