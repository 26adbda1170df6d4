"""Chaos / soak: pairs created and changed on both sides while every webhook is delivered several
times and shuffled, a share of API calls answer 429 (with Retry-After) or 503, several worker
processes run the queue and one is SIGKILLed mid-job. Afterwards both sides must be equal with no
duplicate and no lost update; poisoned jobs are listed with their audit errors, replayed, and the
check is repeated.

Edits are made so that "the last written value" is well defined: Microsoft changes the deal value in
Partner Center, the seller changes the close date in Salesforce (both on every pair, interleaved and
concurrent), so each field has one writer and its last value must end up on both sides.
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from bench.common import pc_calls, sf_calls, sf_writes, wait_until
from bench.pairs import opportunities_by_referral
from bench.verify import Expectation, verify
from devstack.stack import LocalStack
from devstack.worker_process import WorkerProcess, spawn_worker
from shared.config import POISON_QUEUE
from shared.core import salesforce_fields as F
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.replay import replay
from shared.store.job_queue import depth as queue_depth
from shared.store.job_queue import enqueue

log = logging.getLogger("bench.chaos")
HOST_FUNCTIONS = ["partner_center_events", "salesforce_poll"]  # the workers run in their own processes


@dataclass(frozen=True)
class ChaosConfig:
    pairs: int = 1000
    rounds: int = 1
    workers: int = 4
    fault_rate: float = 0.10
    webhook_copies: int = 3
    reorder_batch: int = 10
    retry_after_s: float = 1.0
    edit_rate: float = 50.0  # edits per second, both sides together
    lease_seconds: float = 15.0
    quiet_seconds: float = 6.0
    timeout_s: float = 900.0
    seed: int = 9


@dataclass(frozen=True)
class ChaosPair:
    referral_id: str
    opportunity_id: str
    origin: str  # "pc" or "sf"


def _inject_faults(stack: LocalStack, config: ChaosConfig) -> None:
    half = config.fault_rate / 2
    stack.pc.set_faults(
        seed=config.seed,
        api=[
            {"status": 429, "rate": half, "retry_after": config.retry_after_s},
            {"status": 503, "rate": half / (1 - half)},  # of the calls the first rule let through
        ],
        webhooks={
            "duplicate_rate": 1.0,
            "duplicate_times": config.webhook_copies,
            "reorder_batch": config.reorder_batch,
        },
    )
    stack.sf.inject_fault("SERVER_UNAVAILABLE", times=None, probability=half, seed=config.seed)
    stack.sf.inject_fault(
        "TOO_MANY_REQUESTS", times=None, probability=half / (1 - half), status=429,
        message="Too many concurrent requests",
    )  # fmt: skip


def _create_pc_side(stack: LocalStack, count: int) -> list[str]:
    before = {r["id"] for r in stack.pc.referrals()}
    stack.pc.seed(count)
    new = [r["id"] for r in stack.pc.referrals() if r["id"] not in before]
    enqueue(
        stack.settings,
        [SyncJob(kind=RecordKind.REFERRAL, record_id=r, source=JobSource.BACKFILL) for r in new],
    )
    return new


def _create_sf_side(stack: LocalStack, count: int) -> list[str]:
    settings = stack.settings
    ids = []
    for i in range(count):
        account = stack.sf.create_account(
            f"Chaos {i} GmbH", BillingCountry="Germany", BillingCity="Berlin", BillingPostalCode="10115"
        )
        values: dict[str, Any] = {"CurrencyIsoCode": "EUR", F.HELP: "CustomerTechnicalArchitecture"}
        opp = stack.sf.create_opportunity(
            f"Chaos deal {i}", stage=settings.active_stage_name, amount=10_000.0 + i, account_id=account,
            **values,
        )  # fmt: skip
        stack.sf.add_contact(opp, email=f"buyer{i}@chaos.example", account_id=account)
        stack.sf.add_solution(opp, "SOL-4711-ABC", "Contoso Analytics Accelerator")
        stack.sf.set_sync(opp, True)
        ids.append(opp)
    return ids


def _linked_pairs(stack: LocalStack, pc_ids: list[str], sf_ids: list[str]) -> list[ChaosPair] | None:
    by_referral = opportunities_by_referral(stack)
    opp_referral = {
        str(r["Id"]): str(r.get(F.REFERRAL_ID) or "")
        for r in stack.sf.query(f"SELECT Id, {F.REFERRAL_ID} FROM Opportunity")
    }
    pairs = [ChaosPair(r, by_referral[r][0], "pc") for r in pc_ids if r in by_referral]
    pairs += [ChaosPair(opp_referral[o], o, "sf") for o in sf_ids if opp_referral.get(o)]
    return pairs if len(pairs) == len(pc_ids) + len(sf_ids) else None


class Workers:
    """The worker processes; `kill_one` SIGKILLs one while it is processing and starts a replacement
    (as the platform would)."""

    def __init__(self, stack: LocalStack, count: int, lease_seconds: float) -> None:
        self.stack = stack
        self.lease_seconds = lease_seconds
        self.live = [self._spawn() for _ in range(count)]
        self.retired: list[WorkerProcess] = []
        self.killed: dict[str, Any] | None = None

    def _spawn(self) -> WorkerProcess:
        return spawn_worker(self.stack.environ, self.stack.sf_sim.port, lease_seconds=self.lease_seconds)

    def kill_one(self) -> dict[str, Any]:
        victim = self.live[0]
        before = victim.stats.get("invocations", 0)
        seen: list[int] = []

        def busy() -> bool:
            # The depth seen at the moment of the decision: read again, the queue may have drained.
            seen.append(queue_depth(self.stack.settings))
            return victim.stats.get("invocations", 0) > before and seen[-1] > 0

        wait_until("the victim worker to be mid-job", busy, timeout=120, interval=0.05)
        depth = seen[-1]
        victim.kill()
        self.killed = {
            "pid": victim.pid, "invocations_before_kill": victim.stats.get("invocations", 0),
            "queue_depth_at_kill": depth, "signal": "SIGKILL",
        }  # fmt: skip
        self.live.remove(victim)
        self.retired.append(victim)
        self.live.append(self._spawn())
        return self.killed

    def stats(self) -> dict[str, int]:
        total = {"invocations": 0, "failures": 0, "poisoned": 0}
        for worker in self.live + self.retired:
            for key in total:
                total[key] += int(worker.stats.get(key, 0))
        return total

    def stop(self) -> None:
        for worker in self.live:
            worker.stop()


def _quiesce(stack: LocalStack, config: ChaosConfig, timeout: float) -> float | None:
    """Flush shuffled webhooks still held, then wait for an empty queue, no pending delivery and no
    write on either side for `quiet_seconds`; None when that never happened (a loop or a stuck job:
    the run is then reported as not ok, with the checks made anyway)."""
    started = time.monotonic()
    last = (-1, -1)
    since = time.monotonic()
    while time.monotonic() - started < timeout:
        stack.pc.flush_webhooks()
        writes = (sf_writes(stack.sf.counters()), _pc_writes(stack.pc.counters()))
        busy = queue_depth(stack.settings) > 0 or stack.pc.webhooks()["pending"] > 0
        if writes != last or busy:
            last, since = writes, time.monotonic()
        elif time.monotonic() - since >= config.quiet_seconds:
            return time.monotonic() - started
        time.sleep(0.5)
    log.error("chaos run did not settle within %.0fs", timeout)
    return None


def _pc_writes(counters: dict[str, int]) -> int:
    return sum(v for k, v in counters.items() if k.startswith(("POST /referrals", "PATCH")))


def edit_one(
    stack: LocalStack,
    side: str,
    pair: ChaosPair,
    expected: Expectation,
    rng: random.Random,
    *,
    round_no: int,
    base_value: int,
    base_year: int,
) -> None:
    """One edit as a seller makes it: the deal value in Partner Center ("pc") or the close date in
    Salesforce ("sf"), remembered as the value that must win."""
    if side == "pc":
        value = base_value + round_no * 100_000 + rng.randrange(99_999)
        stack.pc.update_as_microsoft(
            pair.referral_id, [{"op": "replace", "path": "/details/dealValue", "value": value}]
        )
        expected.deal_value[pair.referral_id] = value
    else:
        day = (date(base_year, 1, 1) + timedelta(days=round_no * 400 + rng.randrange(365))).isoformat()
        stack.sf.edit_opportunity(pair.opportunity_id, CloseDate=day)
        expected.close_date[pair.opportunity_id] = day


def _edit(  # noqa: PLR0917 - one run's collaborators
    stack: LocalStack,
    pairs: list[ChaosPair],
    config: ChaosConfig,
    expected: Expectation,
    workers: Workers,
    rng: random.Random,
) -> dict[str, Any] | None:
    edits = [(r, side, p) for r in range(config.rounds) for p in pairs for side in ("pc", "sf")]
    # Interleave both sides and all pairs within a round; rounds stay in order.
    by_round = [[e for e in edits if e[0] == r] for r in range(config.rounds)]
    for group in by_round:
        rng.shuffle(group)
    ordered = [e for group in by_round for e in group]
    kill_at = len(ordered) // 3
    # The kill waits (on its own thread) until the victim is mid-job, while the edits keep coming:
    # waiting here instead would stop the work that makes it busy.
    killer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-kill")
    killing: Future[dict[str, Any]] | None = None
    started = time.monotonic()
    for n, (round_no, side, pair) in enumerate(ordered):
        due = started + n / config.edit_rate
        if (pause := due - time.monotonic()) > 0:
            time.sleep(pause)
        if n == kill_at and workers.live:
            killing = killer.submit(workers.kill_one)
        edit_one(stack, side, pair, expected, rng, round_no=round_no, base_value=1_000_000, base_year=2031)
    killer.shutdown(wait=True)
    return killing.result() if killing is not None else None


def run(config: ChaosConfig) -> dict[str, Any]:
    """The whole chaos run; the returned dict goes under `chaos` in results.json."""
    rng = random.Random(config.seed)
    started = time.monotonic()
    with LocalStack(only=HOST_FUNCTIONS) as stack:
        _inject_faults(stack, config)
        workers = Workers(stack, config.workers, config.lease_seconds)
        try:
            n_pc = config.pairs // 2
            pc_ids = _create_pc_side(stack, n_pc)
            sf_ids = _create_sf_side(stack, config.pairs - n_pc)
            pairs = wait_until(
                f"{config.pairs} linked pairs", lambda: _linked_pairs(stack, pc_ids, sf_ids),
                timeout=config.timeout_s, interval=1.0,
            )  # fmt: skip
            setup_s = time.monotonic() - started
            expected = Expectation(
                origins={p.referral_id if p.origin == "pc" else p.opportunity_id: p.origin for p in pairs}
            )
            edit_started = time.monotonic()
            killed = _edit(stack, pairs, config, expected, workers, rng)
            edit_s = time.monotonic() - edit_started
            settle_s = _quiesce(stack, config, config.timeout_s)
            pc_counters, sf_counters = stack.pc.counters(), stack.sf.counters()
            deliveries = stack.pc.deliveries()
            stack.pc.clear_faults()
            stack.sf.clear_faults()
            before = verify(stack, expected)
            listed = replay(stack.settings, dry_run=True)
            poisoned = [m.to_json() for m in listed.messages]
            replayed = replay(stack.settings, replay_all=True)
            replay_settle_s = _quiesce(stack, config, config.timeout_s)
            after = verify(stack, expected)
            loop_writes = _writes_during(stack, 3 * config.quiet_seconds)
            poison_left = queue_depth(stack.settings, POISON_QUEUE)
        finally:
            workers.stop()
        return {
            "config": asdict(config),
            "ok": after.ok
            and loop_writes == 0
            and poison_left == 0
            and None not in (settle_s, replay_settle_s),
            "pairs": len(pairs),
            "edits": config.rounds * 2 * len(pairs),
            "seconds": {
                "setup": round(setup_s, 1),
                "edits": round(edit_s, 1),
                "settle": _round(settle_s),
                "replay_settle": _round(replay_settle_s),
                "total": round(time.monotonic() - started, 1),
            },
            "killed_worker": killed,
            "workers": {"concurrent": config.workers, **workers.stats()},
            "webhooks": {
                "deliveries": len(deliveries),
                "delivered": sum(1 for d in deliveries if d["status"] == "delivered"),
                "failed": sum(1 for d in deliveries if d["status"] == "failed"),
                "attempts": sum(d["attempts"] for d in deliveries),
            },
            "api_calls": {"partner_center": pc_calls(pc_counters), "salesforce": sf_calls(sf_counters)},
            "poisoned": {
                "count": len(poisoned),
                "with_audit_error": sum(1 for m in poisoned if m["last_error"]),
                "replayed": len(replayed.replayed),
                "left_after_replay": poison_left,
                "messages": poisoned,
            },
            "before_replay": before.to_json(),
            "after_replay": after.to_json(),
            "writes_after_settle": loop_writes,
        }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _writes_during(stack: LocalStack, seconds: float) -> int:
    """Writes either side sees in `seconds` of idle polls and webhooks (0 = no sync loop)."""
    before = sf_writes(stack.sf.counters()) + _pc_writes(stack.pc.counters())
    time.sleep(seconds)
    return sf_writes(stack.sf.counters()) + _pc_writes(stack.pc.counters()) - before
