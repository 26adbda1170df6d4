"""End-to-end latency both ways, the bare-API floor, API calls per steady-state update and the cost of
an idle poll, all in one local stack (host in-process, as in `make demo`).

Clocks: every timestamp is UTC wall time of this one machine. PC→SF starts when the simulator's
webhook POST was accepted (its delivery log records the 2xx answer's time) and ends at the
opportunity's SystemModstamp of the write carrying the new value (the Salesforce simulator's own
commit time). SF→PC starts at the SystemModstamp of the seller's edit and ends at the referral's
`updatedDateTime` (the Partner Center simulator's commit time). Neither end is observed by polling,
so the figures carry no probe delay.

After the steady state, `after_idle` measures the first change after an idle spell (nothing written
anywhere for `idle_s` seconds): the queue poller has backed off to host.json's `maxPollingInterval`,
connections kept alive by the clients may have been closed, and an SF→PC change waits for the next
poll. One PC→SF change, then (after another idle spell) one SF→PC change, `samples` times, with the
same clocks as above.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    parse_iso,
    parse_sf_stamp,
    pc_calls,
    percentiles,
    sf_calls,
    sf_writes,
    wait_quiet,
    wait_until,
)
from bench.model import schedule_interval_s
from bench.pairs import Pair, seed_linked_pairs
from devstack.sf_sim import loopback_session
from devstack.stack import LocalStack
from shared import api_clients
from shared.intake.salesforce_poll import poll_once
from shared.salesforce.salesforce_client import SalesforceClient

QUIET_SECONDS = 5.0  # > 2 poll intervals: poll echoes of the last writes have run
IDLE_SECONDS = 60.0
IDLE_SAMPLES = 3  # per direction: 2 x 3 idle spells of 60 s add ~6.5 minutes to the latency stage


@dataclass
class Direction:
    """One direction's samples (ms) and the API calls the simulators counted while it ran."""

    latencies_ms: list[float] = field(default_factory=list)
    from_change_ms: list[float] = field(default_factory=list)
    pc_counters: dict[str, int] = field(default_factory=dict)
    sf_counters: dict[str, int] = field(default_factory=dict)
    polls: int = 0


def _spaced(index: int, started: float, rate: float) -> None:
    """Sleep until change number `index` is due, so changes arrive at a steady `rate` per second."""
    due = started + index / rate
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)


def _polls(stack: LocalStack) -> int:
    assert stack.host is not None
    return stack.host.stats.invocations.get("salesforce_poll", 0)


def pc_to_sf(stack: LocalStack, pairs: list[Pair], *, rate: float, base: int) -> Direction:
    """Microsoft changes each referral's deal value once; measure until the opportunity holds it."""
    result = Direction()
    stack.pc.reset_counters()
    stack.sf.reset_counters()
    polls_before = _polls(stack)
    changed_at: dict[str, datetime] = {}
    started = time.monotonic()
    for index, pair in enumerate(pairs):
        _spaced(index, started, rate)
        changed_at[pair.referral_id] = datetime.now(UTC)
        stack.pc.update_as_microsoft(
            pair.referral_id, [{"op": "replace", "path": "/details/dealValue", "value": base + index}]
        )
    expected = {p.opportunity_id: base + i for i, p in enumerate(pairs)}
    written = _wait_amounts(stack, expected)
    wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=QUIET_SECONDS, timeout=120)
    result.pc_counters, result.sf_counters = stack.pc.counters(), stack.sf.counters()
    result.polls = _polls(stack) - polls_before
    accepted = _first_accepted(stack, changed_at)
    for pair in pairs:
        done = written[pair.opportunity_id]
        result.latencies_ms.append((done - accepted[pair.referral_id]).total_seconds() * 1000)
        result.from_change_ms.append((done - changed_at[pair.referral_id]).total_seconds() * 1000)
    return result


def _wait_amounts(stack: LocalStack, expected: Mapping[str, float]) -> dict[str, datetime]:
    """Opportunity id -> SystemModstamp once every opportunity holds its expected Amount."""

    def probe() -> dict[str, datetime] | None:
        rows = stack.sf.query("SELECT Id, Amount, SystemModstamp FROM Opportunity")
        stamps = {
            str(r["Id"]): parse_sf_stamp(str(r["SystemModstamp"]))
            for r in rows
            if str(r["Id"]) in expected and r.get("Amount") == expected[str(r["Id"])]
        }
        return stamps if len(stamps) == len(expected) else None

    return wait_until("every opportunity to hold its new Amount", probe, timeout=180, interval=0.5)


def _first_accepted(stack: LocalStack, changed_at: dict[str, datetime]) -> dict[str, datetime]:
    """Referral id -> when the first webhook delivery after its change was answered 2xx."""
    accepted: dict[str, datetime] = {}
    for delivery in stack.pc.deliveries():
        rid = delivery.get("referralId")
        if rid not in changed_at:
            continue
        for attempt in delivery.get("results", []):
            code = attempt.get("responseCode")
            at = parse_iso(str(attempt["dateTimeUtc"]))
            if (
                code
                and 200 <= code < 300
                and at >= changed_at[rid]
                and (rid not in accepted or at < accepted[rid])
            ):
                accepted[rid] = at
    missing = set(changed_at) - set(accepted)
    if missing:
        raise RuntimeError(f"{len(missing)} changes have no accepted webhook delivery")
    return accepted


def sf_to_pc(stack: LocalStack, pairs: list[Pair], *, rate: float, base: int) -> Direction:
    """A seller changes each opportunity's Amount once; measure until the referral holds it."""
    result = Direction()
    stack.pc.reset_counters()
    stack.sf.reset_counters()
    polls_before = _polls(stack)
    edited_at: dict[str, datetime] = {}
    started = time.monotonic()
    for index, pair in enumerate(pairs):
        _spaced(index, started, rate)
        stack.sf.edit_opportunity(pair.opportunity_id, Amount=float(base + index))
        edited_at[pair.referral_id] = parse_sf_stamp(
            str(stack.sf.record("Opportunity", pair.opportunity_id)["SystemModstamp"])
        )
    expected = {p.referral_id: base + i for i, p in enumerate(pairs)}

    def probe() -> dict[str, datetime] | None:
        done = {
            str(r["id"]): parse_iso(str(r["updatedDateTime"]))
            for r in stack.pc.referrals()
            if r["id"] in expected and (r.get("details") or {}).get("dealValue") == expected[r["id"]]
        }
        return done if len(done) == len(expected) else None

    updated = wait_until("every referral to hold its new deal value", probe, timeout=180, interval=0.5)
    wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=QUIET_SECONDS, timeout=120)
    result.pc_counters, result.sf_counters = stack.pc.counters(), stack.sf.counters()
    result.polls = _polls(stack) - polls_before
    for pair in pairs:
        ms = (updated[pair.referral_id] - edited_at[pair.referral_id]).total_seconds() * 1000
        result.latencies_ms.append(ms)
        result.from_change_ms.append(ms)
    return result


def _writes(stack: LocalStack) -> tuple[int, int]:
    """Writes either simulator has counted so far (Salesforce writes; Partner Center POST/PATCH)."""
    pc = sum(
        n
        for key, n in stack.pc.counters().items()
        if key.split(" ")[0] in ("POST", "PATCH") and key != "POST /token"
    )
    return sf_writes(stack.sf.counters()), pc


def sit_idle(stack: LocalStack, idle_s: float, *, extra_s: float = 0.0) -> None:
    """Return once nothing has been written anywhere for at least `idle_s` + `extra_s` seconds, the queue
    is empty and no webhook is pending (the timer's read-only polls go on, as they would in Azure)."""
    quiet = min(QUIET_SECONDS, idle_s)
    while True:
        wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=quiet, timeout=180)
        before = _writes(stack)
        time.sleep(max(0.0, idle_s - quiet) + extra_s)
        if _writes(stack) == before:
            return


def _pc_change_after_idle(stack: LocalStack, pair: Pair, value: int) -> tuple[float, float]:
    """One Microsoft change; (webhook accepted -> opportunity written, change -> written) in ms."""
    changed_at = datetime.now(UTC)
    stack.pc.update_as_microsoft(
        pair.referral_id, [{"op": "replace", "path": "/details/dealValue", "value": value}]
    )
    done = _wait_amounts(stack, {pair.opportunity_id: value})[pair.opportunity_id]
    accepted = _first_accepted(stack, {pair.referral_id: changed_at})[pair.referral_id]
    return (done - accepted).total_seconds() * 1000, (done - changed_at).total_seconds() * 1000


def _sf_change_after_idle(stack: LocalStack, pair: Pair, value: int) -> float:
    """One seller edit; seller edit -> referral updated, in ms."""
    stack.sf.edit_opportunity(pair.opportunity_id, Amount=float(value))
    edited = parse_sf_stamp(str(stack.sf.record("Opportunity", pair.opportunity_id)["SystemModstamp"]))

    def probe() -> datetime | None:
        referral = next(r for r in stack.pc.referrals() if r["id"] == pair.referral_id)
        held = (referral.get("details") or {}).get("dealValue") == value
        return parse_iso(str(referral["updatedDateTime"])) if held else None

    updated = wait_until("the referral to hold its new deal value", probe, timeout=180, interval=0.5)
    return (updated - edited).total_seconds() * 1000


def _p50_max(samples: list[float]) -> dict[str, Any]:
    return {"p50": percentiles(samples)["p50"], "max": round(max(samples), 1), "n": len(samples)}


def after_idle(
    stack: LocalStack, pairs: list[Pair], *, idle_s: float, samples: int, base: int, seed: int = 19
) -> dict[str, Any]:
    """`samples` PC→SF changes and `samples` SF→PC changes, each after its own idle spell of `idle_s`.

    Each spell is lengthened by a random 0 to `jitter` seconds (the longer of the poll interval and
    the queue's longest back-off): a spell timed from the last write alone would put every change at
    the same point of the queue poller's back-off cycle, which also restarts at that write."""
    assert stack.host is not None
    poll_s = schedule_interval_s(stack.poll_schedule)
    backoff_s = stack.host.queue_settings.max_polling_interval
    jitter = max(poll_s, backoff_s)
    rng = random.Random(seed)
    pc_sf: list[float] = []
    pc_sf_from_change: list[float] = []
    sf_pc: list[float] = []
    for index in range(samples):
        pair = pairs[index % len(pairs)]
        sit_idle(stack, idle_s, extra_s=rng.uniform(0, jitter))
        accepted_ms, change_ms = _pc_change_after_idle(stack, pair, base + index)
        pc_sf.append(accepted_ms)
        pc_sf_from_change.append(change_ms)
        sit_idle(stack, idle_s, extra_s=rng.uniform(0, jitter))
        sf_pc.append(_sf_change_after_idle(stack, pair, base + samples + index))
    return {
        "pc_to_sf": {**_p50_max(pc_sf), "from_change": _p50_max(pc_sf_from_change)},
        "sf_to_pc": _p50_max(sf_pc),
        "idle_s": idle_s,
        "idle_jitter_s": jitter,
        "poll_interval_s": poll_s,
        "queue_max_polling_interval_s": backoff_s,
        "samples_ms": {"pc_to_sf": [round(v, 1) for v in pc_sf], "sf_to_pc": [round(v, 1) for v in sf_pc]},
    }


def floor_ms(stack: LocalStack, pair: Pair, *, repeats: int) -> dict[str, float]:
    """The bare calls one sync needs at least — one Partner Center GET and one Salesforce update —
    through the app's own clients (warm connections), median and p95 over `repeats`."""
    pc = api_clients.partner_center(stack.settings)
    sf = api_clients.salesforce(stack.settings)
    pc.get_referral(pair.referral_id)  # warm up connections and tokens
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        pc.get_referral(pair.referral_id)
        sf.update_opportunity(pair.opportunity_id, {"Description": "floor measurement"})
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50": round(statistics.median(samples), 2), "p95": percentiles(samples)["p95"], "n": repeats}


def idle_poll_calls(stack: LocalStack) -> dict[str, Any]:
    """One `poll_once` with nothing changed (after the stack went quiet), counted by its own client."""
    client = SalesforceClient(stack.settings, session=loopback_session(stack.sf_sim.port))
    poll_once(stack.settings, client=client)  # the first poll of a new client may still see the echoes
    wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=QUIET_SECONDS, timeout=60)
    result = poll_once(stack.settings, client=client)
    return {"calls": result.calls, "queried": result.queried, "enqueued": result.enqueued}


def calls_per_update(directions: list[Direction], updates: int) -> dict[str, Any]:
    """Simulator-counted calls per update, token calls excluded; the timer's idle poll query (one per
    poll, made whether or not anything changed) is left out and reported separately."""
    pc = sum(pc_calls(d.pc_counters) for d in directions)
    polls = sum(d.polls for d in directions)
    sf = sum(sf_calls(d.sf_counters) for d in directions) - polls
    return {
        "partner_center": round(pc / updates, 2),
        "salesforce": round(sf / updates, 2),
        "idle_poll_queries_excluded": polls,
        "updates": updates,
    }


def direction_detail(d: Direction, updates: int) -> dict[str, Any]:
    pc = {k: v for k, v in d.pc_counters.items() if k != "POST /token"}
    sf = {k: v for k, v in d.sf_counters.items() if k not in ("api_total", "token")}
    return {
        "updates": updates,
        "polls": d.polls,
        # Totals per update (issue #19), the echoes of our own writes included, idle poll queries not.
        "partner_center": round(sum(pc.values()) / updates, 2),
        "salesforce": round((sum(sf.values()) - d.polls) / updates, 2),
        "partner_center_by_kind": {k: round(v / updates, 2) for k, v in sorted(pc.items())},
        "salesforce_by_kind": {k: round(v / updates, 2) for k, v in sorted(sf.items())},
    }


def run(
    *, changes: int, rate: float, idle_s: float = IDLE_SECONDS, idle_samples: int = IDLE_SAMPLES
) -> dict[str, Any]:
    """All latency-stack figures; `changes` per direction (one per pair), at `rate` changes/s; then
    `idle_samples` changes each way after idle spells of `idle_s` (none when 0)."""
    with LocalStack() as stack:
        assert stack.host is not None
        pairs = seed_linked_pairs(stack, changes)
        wait_quiet(stack.settings, stack.pc, stack.sf, quiet_seconds=QUIET_SECONDS, timeout=180)
        pc_sf = pc_to_sf(stack, pairs, rate=rate, base=500_000)
        sf_pc = sf_to_pc(stack, pairs, rate=rate, base=700_000)
        idle = idle_poll_calls(stack)
        floor = floor_ms(stack, pairs[0], repeats=50)
        poll_interval = schedule_interval_s(stack.poll_schedule)
        figures: dict[str, Any] = {
            "pc_to_sf_latency_ms": {
                **percentiles(pc_sf.latencies_ms),
                "from_change": percentiles(pc_sf.from_change_ms),
                "rate_per_s": rate,
            },
            "sf_to_pc_latency_ms": {
                **percentiles(sf_pc.latencies_ms),
                "poll_interval_s": poll_interval,
                "rate_per_s": rate,
            },
            "floor_ms": floor,
            "api_calls_per_update": {
                **calls_per_update([pc_sf, sf_pc], 2 * len(pairs)),
                "pc_to_sf": direction_detail(pc_sf, len(pairs)),
                "sf_to_pc": direction_detail(sf_pc, len(pairs)),
            },
            "idle_poll_calls": idle["calls"],
            "idle_poll": idle,
            "_samples": {"pc_to_sf": pc_sf.latencies_ms, "sf_to_pc": sf_pc.latencies_ms},
        }
        if idle_samples > 0:
            figures["latency_after_idle_ms"] = after_idle(
                stack, pairs, idle_s=idle_s, samples=idle_samples, base=900_000
            )
        return figures


def run_after_idle(*, idle_s: float = IDLE_SECONDS, samples: int = IDLE_SAMPLES) -> dict[str, Any]:
    """Only the after-idle figures, on a stack of their own (`python -m bench --only latency_idle`)."""
    with LocalStack() as stack:
        pairs = seed_linked_pairs(stack, min(samples, 5) or 1)
        return after_idle(stack, pairs, idle_s=idle_s, samples=samples, base=900_000)
