"""Run the simulator as its own process: `python -m devstack.pc_sim --port 8123`."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import cast

from devstack.pc_sim.pc_cert_chain import CertificateOptions
from devstack.pc_sim.pc_identity import IdentityOptions
from devstack.pc_sim.pc_referral_quirks import FilterMode
from devstack.pc_sim.pc_simulator import PartnerCenterSimulator
from devstack.pc_sim.seller import seed_referrals


def main() -> None:
    parser = argparse.ArgumentParser(description="Partner Center simulator")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--no-signing", action="store_true", help="send unsigned webhooks")
    parser.add_argument("--seed", type=int, default=0, help="preload this many partner referrals")
    parser.add_argument("--single-tenant", action="store_true", help="refuse /common (AADSTS50194)")
    parser.add_argument(
        "--filter-mode",
        action="append",
        default=[],
        metavar="PROPERTY=MODE",
        help="$filter property mode: honour, ignore or refuse (repeatable; * for all others)",
    )
    parser.add_argument("--evil-signer", action="store_true", help="sign webhooks as O=Evil Corp")
    args = parser.parse_args()

    sim = PartnerCenterSimulator(
        webhook_signing=not args.no_signing,
        port=args.port or None,
        identity=IdentityOptions(single_tenant=args.single_tenant),
        filter_modes=dict(_filter_mode(text) for text in args.filter_mode),
        certificate=CertificateOptions(signer="evil" if args.evil_signer else "microsoft"),
    )
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


def _filter_mode(text: str) -> tuple[str, FilterMode]:
    prop, _, mode = text.partition("=")
    if mode not in ("honour", "ignore", "refuse"):
        raise SystemExit(f"--filter-mode {text!r}: mode must be honour, ignore or refuse")
    return prop, cast(FilterMode, mode)


if __name__ == "__main__":
    main()
