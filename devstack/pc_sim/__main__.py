"""Run the simulator as its own process: `python -m devstack.pc_sim --port 8123`."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from devstack.pc_sim.pc_simulator import PartnerCenterSimulator
from devstack.pc_sim.seller import seed_referrals


def main() -> None:
    parser = argparse.ArgumentParser(description="Partner Center simulator")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--no-signing", action="store_true", help="send unsigned webhooks")
    parser.add_argument("--seed", type=int, default=0, help="preload this many partner referrals")
    args = parser.parse_args()

    sim = PartnerCenterSimulator(webhook_signing=not args.no_signing, port=args.port or None)
    sim.start()
    if args.seed:
        sim.state.store.seed(seed_referrals(args.seed))
    # One JSON line on stdout tells a parent process where to point its settings.
    print(json.dumps({"origin": sim.origin, "settings": sim.settings_overrides()}), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    sim.stop()


if __name__ == "__main__":
    main()
