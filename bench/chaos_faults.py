"""Three more chaos faults, each on its own local stack with pairs changed on both sides:

- `storage`: Azurite (on disk) killed and restarted mid-traffic, down a few seconds;
- `token`: the Partner Center refresh token (and the access tokens) revoked mid-run, so jobs fail
  with a configuration error until they are poisoned; `status` must say "failing" naming the cause;
  then the token is restored and `replay --all` run;
- `forbidden`: reads of some referrals answer 403 for a while (the engine skips such a referral: not
  ours to read, never retried); once readable again, `reconcile` brings the edits over.

Each ends with: 0 lost updates, 0 duplicates, both sides equal, nothing left poisoned after replay.
`make bench` runs them at full size (bench/__main__.py), `make test` small (tests/e2e)."""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bench.chaos import ChaosPair, _create_pc_side, _create_sf_side, _linked_pairs, _pc_writes, edit_one
from bench.common import sf_writes, wait_until
from bench.verify import Expectation, verify
from devstack.stack import LocalStack
from shared.config import POISON_QUEUE
from shared.ops.cli import app as ops_cli
from shared.ops.replay import replay
from shared.store.job_queue import depth as queue_depth

log = logging.getLogger("bench.chaos_faults")
FAULTS = ("storage", "token", "forbidden")


@dataclass(frozen=True)
class FaultConfig:
    pairs: int = 40
    edit_rate: float = 10.0
    storage_down_seconds: float = 5.0
    forbidden_share: float = 0.3
    quiet_seconds: float = 5.0
    timeout_s: float = 300.0
    seed: int = 18


def _quiesce(stack: LocalStack, quiet_seconds: float, timeout: float) -> float | None:
    """Wait for an empty queue, no pending webhook and no write on either side for `quiet_seconds`."""
    started = since = time.monotonic()
    last = (-1, -1)
    while time.monotonic() - started < timeout:
        stack.pc.flush_webhooks()
        writes = (sf_writes(stack.sf.counters()), _pc_writes(stack.pc.counters()))
        busy = queue_depth(stack.settings) > 0 or stack.pc.webhooks()["pending"] > 0
        if writes != last or busy:
            last, since = writes, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return time.monotonic() - started
        time.sleep(0.5)
    log.error("did not settle within %.0fs", timeout)
    return None


def _status(stack: LocalStack) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(ops_cli, ["status", "--json"], env=stack.environ)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"output": result.output}


def _edit(  # noqa: PLR0917 - one round's collaborators
    stack: LocalStack, pairs: list[ChaosPair], expected: Expectation, rng: random.Random,
    config: FaultConfig, round_no: int,
) -> None:  # fmt: skip
    edits = [(side, p) for p in pairs for side in ("pc", "sf")]
    rng.shuffle(edits)
    for n, (side, pair) in enumerate(edits):
        if n:
            time.sleep(1 / config.edit_rate)
        edit_one(stack, side, pair, expected, rng, round_no=round_no, base_value=2_000_000, base_year=2032)


def _restore_refresh_tokens(stack: LocalStack) -> None:
    """Undo the revocation (a new consent, in real life). The simulator's control API can revoke but
    not restore, so the harness reaches into the in-process simulator's identity state."""
    identity = stack.pc_sim.state.identity
    with identity.lock:
        for grant in identity.grants.values():
            grant.revoked = False


def run_fault(fault: str, config: FaultConfig) -> dict[str, Any]:
    """One fault on a fresh stack; the dict goes under `chaos_faults.<fault>` in results.json."""
    rng = random.Random(config.seed)
    started = time.monotonic()
    settle = config.quiet_seconds
    with (
        tempfile.TemporaryDirectory(prefix="chaos-azurite-") as data,
        LocalStack(poll_schedule="*/1 * * * * *", azurite_location=Path(data)) as stack,
    ):
        n_pc = config.pairs // 2
        pc_ids = _create_pc_side(stack, n_pc)
        sf_ids = _create_sf_side(stack, config.pairs - n_pc)
        pairs = wait_until(
            f"{config.pairs} linked pairs", lambda: _linked_pairs(stack, pc_ids, sf_ids),
            timeout=config.timeout_s, interval=0.5,
        )  # fmt: skip
        _quiesce(stack, settle, config.timeout_s)
        expected = Expectation(
            origins={p.referral_id if p.origin == "pc" else p.opportunity_id: p.origin for p in pairs}
        )
        _edit(stack, pairs, expected, rng, config, 0)
        during: dict[str, Any] = {}
        if fault == "storage":
            restart = threading.Thread(target=stack.azurite.restart, args=(config.storage_down_seconds,))
            restart.start()
            _edit(stack, pairs, expected, rng, config, 1)
            restart.join()
            during["storage_down_seconds"] = config.storage_down_seconds
        elif fault == "token":
            stack.pc.revoke_refresh_tokens()
            stack.pc.revoke_tokens()
            _edit(stack, pairs, expected, rng, config, 1)
            settings = stack.settings
            wait_until(
                "jobs poisoned by the revoked token",
                lambda: queue_depth(settings, POISON_QUEUE) > 0 and queue_depth(settings) == 0,
                timeout=config.timeout_s, interval=1.0,
            )  # fmt: skip
            code, status = _status(stack)
            during = {"status_exit_code": code, "status_health": status.get("health")}
            _restore_refresh_tokens(stack)
        elif fault == "forbidden":
            chosen = [p.referral_id for p in pairs if rng.random() < config.forbidden_share]
            for referral_id in chosen:
                stack.pc.set_read_fault(referral_id, 403)
            _edit(stack, pairs, expected, rng, config, 1)
            wait_until(
                "jobs on forbidden referrals done", lambda: queue_depth(stack.settings) == 0,
                timeout=config.timeout_s, interval=1.0,
            )  # fmt: skip
            code, status = _status(stack)
            during = {
                "forbidden": len(chosen),
                "status_exit_code": code,
                "status_health": status.get("health"),
            }
            for referral_id in chosen:
                stack.pc.set_read_fault(referral_id, None)
            # A referral we may not read is "nothing to do" for the engine (routing: never retried, never
            # poisoned), so once access is back the operator's safety net brings the edits over.
            during["reconcile_exit_code"] = (
                CliRunner()
                .invoke(ops_cli, ["reconcile", "--overlap-minutes", "60"], env=stack.environ)
                .exit_code
            )
        else:
            raise ValueError(f"unknown fault {fault}")
        settle_s = _quiesce(stack, settle, config.timeout_s)
        before = verify(stack, expected)
        poisoned = replay(stack.settings, dry_run=True).messages
        replayed = replay(stack.settings, replay_all=True)
        replay_settle_s = _quiesce(stack, settle, config.timeout_s)
        after = verify(stack, expected)
        poison_left = queue_depth(stack.settings, POISON_QUEUE)
        code_after, status_after = _status(stack)
        return {
            "config": asdict(config),
            "fault": fault,
            "ok": after.ok and poison_left == 0 and None not in (settle_s, replay_settle_s),
            "pairs": len(pairs),
            "edits": 4 * len(pairs),
            "during": during,
            "poisoned": len(poisoned),
            "replayed": len(replayed.replayed),
            "poison_left": poison_left,
            "status_after_exit_code": code_after,
            "status_after_verdict": (status_after.get("health") or {}).get("verdict"),
            "status_after_reasons": (status_after.get("health") or {}).get("reasons"),
            "before_replay": before.to_json(),
            "after_replay": after.to_json(),
            "seconds": round(time.monotonic() - started, 1),
        }


def run(config: FaultConfig, faults: tuple[str, ...] = FAULTS) -> dict[str, Any]:
    return {fault: run_fault(fault, config) for fault in faults}


def main() -> int:
    """`python -m bench.chaos_faults [--small]`: the three faults; figures in
    bench/results_chaos_faults.json."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    config = FaultConfig(pairs=8, quiet_seconds=3.0) if args.small else FaultConfig()
    results = run(config)
    Path(__file__).with_name("results_chaos_faults.json").write_text(
        json.dumps(results, indent=1, default=str)
    )
    for fault, r in results.items():
        after = r["after_replay"]
        sys.stdout.write(
            f"{fault}: ok={r['ok']} pairs={r['pairs']} lost={after['lost_updates']}"
            f" duplicates={after['duplicates']}"
            f" unequal={after['unequal_pairs']} missing={after['missing']} poisoned={r['poisoned']}"
            f" replayed={r['replayed']} left={r['poison_left']} status_after={r['status_after_verdict']}"
            f" {r['seconds']}s\n"
        )
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
