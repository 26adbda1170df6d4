"""Batch backfill (issue #19): a page of referrals, as the list returned them, handled in a few calls.

Per page (up to 200 referrals): one Table write per referral with no link yet, which claims it (the
engine's claim, held on the link entity: `link_claims`, so no worker syncs it meanwhile), a read of
the link of each one that has one, and one Salesforce composite of queries (the opportunities holding
those Referral Ids, the accounts and contacts the new ones would reuse). Then:
- a referral whose opportunity exists and whose link says both sides still hold what was synced:
  nothing (a re-run writes nothing);
- one whose opportunity exists but differs, is paused, linked, unlinked or oddly linked: a
  `backfill` job, so the normal engine merges it (only those);
- one with no link and no opportunity: the records the engine would write
  (`creates.new_opportunity`: opportunity, account, contacts, contact roles, solutions, first note)
  as one all-or-none composite graph per referral, many graphs per call (at most 75 graphs and 500
  nodes a call); the opportunity is an upsert on Referral Id, so a repeat never makes a second one.
  The new opportunities are read back in one query (their SystemModstamp lets the poll skip the
  echo), the close date Salesforce needed is PATCHed to Partner Center only where the referral has
  none, and each link is saved over its claim (one If-Match write that also releases the claim)
  with the snapshot `creates.create_opportunity` would save; the audit rows go in batches.
A graph Salesforce refuses (a duplicate rule, a validation) becomes a job: the engine's stepwise path
handles it as it handles any create. Referrals with a partner team also go to the engine (team writes).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from simple_salesforce.format import format_soql

from shared.config import Settings
from shared.core import salesforce_fields as F
from shared.core.audit_field import audit_line
from shared.core.canonical import CanonicalDeal
from shared.core.custom_mappings import custom_mappings
from shared.core.mapping import (
    deal_from_partner_center,
    partner_center_patch,
    syncs_to_salesforce,
)
from shared.core.notes import note_digest
from shared.core.rate_budget import Priority, background, current_priority
from shared.core.referral import Referral
from shared.errors import ConflictError, CosellSyncError
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.ops_clients import OpsClients
from shared.salesforce.new_opportunity import NewOpportunity, _write_graph
from shared.salesforce.salesforce_client import SalesforceClient, opportunity_select
from shared.store import audit, link_claims
from shared.store.audit import AuditEntry, Direction, Outcome
from shared.store.link_claims import LinkClaim
from shared.store.links import Link
from shared.sync.context import CLAIM_TTL_S
from shared.sync.creates import new_opportunity
from shared.sync.opportunity_report import own_stamp, partner_center_unchanged, salesforce_unchanged
from shared.sync.routing import DELETED, PAUSED

log = logging.getLogger("cosell_sync.ops.backfill")

IN_CHUNK = 200  # ids per `IN (...)`: the query URL stays well under Salesforce's limit
QUERIES_PER_CALL = 5  # a composite holds at most 5 queries
GRAPH_NODES = 500  # Composite Graph Limits: nodes in one payload (and in one graph)
GRAPHS_PER_CALL = 75  # Composite Graph Limits: graphs in one payload
_STORAGE_THREADS = 8
_ROUNDS = 3
"""Rounds of graphs per page: a referral whose account or contact another graph of the page creates
waits for the next round (then found by the lookup); after the last it becomes a job."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class PageOutcome:
    created: int = 0
    in_sync: int = 0
    skipped: int = 0
    patched: int = 0
    """Close dates sent to Partner Center (referrals that had none)."""
    jobs: list[SyncJob] = field(default_factory=list)
    """Referrals left to the engine (exist and differ, busy, refused by Salesforce, ...)."""


@dataclass
class _Create:
    referral: Referral
    wire: dict[str, Any]
    new: NewOpportunity
    requests: list[dict[str, Any]]
    deal: CanonicalDeal
    opportunity_id: str = ""


@dataclass
class _Lookups:
    opportunities: dict[str, dict[str, Any]]  # by Referral Id
    accounts: list[dict[str, Any]]  # oldest first
    contacts: list[dict[str, Any]]  # oldest first


def handle_page(
    settings: Settings, clients: OpsClients, referrals: Sequence[Referral], observed: Mapping[str, datetime]
) -> PageOutcome:
    """Backfill one page of referrals (wire data as listed); `observed` is each one's change time."""
    out = PageOutcome()
    eligible: list[tuple[Referral, dict[str, Any]]] = []
    for referral in referrals:
        wire = referral.to_wire()
        if referral.id and syncs_to_salesforce(wire, settings):
            eligible.append((referral, wire))
        else:
            out.skipped += 1  # a lead with SYNC_COSELL_ONLY=Yes: the engine would skip it too
    if not eligible:
        return out

    def job(referral: Referral) -> None:
        rid = str(referral.id)
        out.jobs.append(
            SyncJob(
                kind=RecordKind.REFERRAL, record_id=rid, source=JobSource.BACKFILL, observed_at=observed[rid]
            )
        )

    with ThreadPoolExecutor(_STORAGE_THREADS) as pool:
        # A referral with no link is claimed in the same write that makes its entity; one with a
        # link is only read (a batch decides "in sync" by reading; anything to write is a job).
        taken = _fan_out(pool, lambda r: _claim_new(settings, str(r[0].id)), eligible)
        held = {c.referral_id: c for c in taken if isinstance(c, LinkClaim)}
        try:
            mine: list[tuple[Referral, dict[str, Any]]] = []
            found: dict[str, Link | None] = {}
            for (referral, wire), got in zip(eligible, taken, strict=True):
                if got is None:
                    job(referral)  # a worker is on it now (or left a claim): the job re-checks later
                else:
                    mine.append((referral, wire))
                    found[str(referral.id)] = got if isinstance(got, Link) else None
            if mine:
                _handle_page(settings, clients, mine, found, held, pool=pool, out=out, job=job)
        finally:
            _fan_out(pool, lambda c: link_claims.release(settings, c), list(held.values()))
    return out


def _fan_out(pool: ThreadPoolExecutor, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`work` over `items` on the pool, results in order: one task per thread's contiguous share, not
    one per item (a task per item cost more CPU in futures and locks than some of the work did)."""
    size = -(-len(items) // _STORAGE_THREADS) or 1
    shares = pool.map(lambda share: [work(item) for item in share], _chunks(items, size))
    return [result for share in shares for result in share]


def _claim_new(settings: Settings, referral_id: str) -> LinkClaim | Link | None:
    return link_claims.try_take_new(settings, referral_id, ttl_seconds=CLAIM_TTL_S)


def _handle_page(
    settings: Settings,
    clients: OpsClients,
    mine: list[tuple[Referral, dict[str, Any]]],
    found: dict[str, Link | None],
    held: dict[str, LinkClaim],
    *,
    pool: ThreadPoolExecutor,
    out: PageOutcome,
    job: Callable[[Referral], None],
) -> None:
    """`found`: each referral's link (None: none yet, and `held` has its claim)."""
    sf = clients.sf
    ids = [str(r.id) for r, _ in mine]
    deals = {str(r.id): deal_from_partner_center(w) for r, w in mine}
    news = {str(r.id): sf.adapted(new_opportunity(settings, deals[str(r.id)], w)) for r, w in mine}
    lookups = _lookups(sf, settings, ids, news.values())
    candidates: list[tuple[Referral, dict[str, Any]]] = []
    for referral, wire in mine:
        rid = str(referral.id)
        link, opp = found[rid], lookups.opportunities.get(rid)
        if link is not None and link.last_outcome in (PAUSED, DELETED):
            job(referral)  # the engine's rules for held-back pairs
        elif opp is not None:
            if _agree(settings, referral, opp, link):
                out.in_sync += 1
            else:
                job(referral)
        elif link is not None or deals[rid].partner_team:
            job(referral)  # linked to an opportunity that is gone or re-anchored; or team writes
        else:
            candidates.append((referral, wire))
    for round_ in range(_ROUNDS):
        if not candidates:
            break
        if round_:  # the accounts and contacts the previous round created are found now
            lookups = _lookups(sf, settings, [], (news[str(r.id)] for r, _ in candidates))
        creates, candidates = _plan_creates(sf, candidates, news, deals, lookups)
        written = _write_graphs(sf, creates, job)
        if written:
            _finish_creates(settings, clients, written, held=held, pool=pool, out=out, job=job)
    for referral, _ in candidates:
        job(referral)


def _plan_creates(
    sf: SalesforceClient,
    candidates: list[tuple[Referral, dict[str, Any]]],
    news: dict[str, NewOpportunity],
    deals: dict[str, CanonicalDeal],
    lookups: _Lookups,
) -> tuple[list[_Create], list[tuple[Referral, dict[str, Any]]]]:
    """The graphs of this round, and the referrals deferred to the next one: those whose new account
    or contact another graph of this round creates (graphs cannot refer to each other, and two
    creates would make a duplicate)."""
    creates: list[_Create] = []
    deferred: list[tuple[Referral, dict[str, Any]]] = []
    new_accounts: set[str] = set()
    new_contacts: set[str] = set()
    for referral, wire in candidates:
        new = news[str(referral.id)]
        account_id = _account_for(new, lookups.accounts)
        contact_ids = _contacts_for(new, account_id, lookups.contacts)
        account_key = (new.account_name or "").lower() if account_id is None and new.account_name else ""
        emails = {(c.email or "").lower() for c in new.contacts if c.email} - set(contact_ids)
        if (account_key and account_key in new_accounts) or emails & new_contacts:
            deferred.append((referral, wire))
            continue
        requests = _graph_requests(sf, new, account_id, contact_ids)
        if len(requests) > GRAPH_NODES:
            deferred.append((referral, wire))  # never fits: ends as a job (the engine's stepwise path)
            continue
        new_accounts.add(account_key)
        new_contacts.update(emails)
        creates.append(_Create(referral, wire, new, requests, deals[str(referral.id)]))
    return creates, deferred


def _agree(settings: Settings, referral: Referral, opp: dict[str, Any], link: Link | None) -> bool:
    """Both sides still hold what was last synced: nothing for a backfill to do."""
    return (
        link is not None
        and link.opportunity_id == str(opp["Id"])
        and not link.pending
        and bool(opp.get(F.SYNC))
        and partner_center_unchanged(settings, referral, link)
        and salesforce_unchanged(settings, opp, link, str(referral.id))
    )


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _query_all(sf: SalesforceClient, queries: list[str]) -> list[list[dict[str, Any]]]:
    """Each query's rows, five queries per composite call."""
    rows: list[list[dict[str, Any]]] = []
    for group in _chunks(queries, QUERIES_PER_CALL):
        answers = sf.query_many({f"q{n}": (soql, False) for n, soql in enumerate(group)})
        rows.extend(answers[f"q{n}"] for n in range(len(group)))
    return rows


def _lookups(
    sf: SalesforceClient, settings: Settings, ids: list[str], news: Iterable[NewOpportunity]
) -> _Lookups:
    """The opportunities already holding these Referral Ids, and the accounts (by name) and contacts
    (by email) the new ones would reuse, as `new_opportunity._lookups` matches them: one call."""
    news = list(news)
    names = sorted({n.account_name for n in news if n.account_name})
    emails = sorted({c.email.lower() for n in news for c in n.contacts if c.email})
    select = opportunity_select(settings, sf.org())
    parts: list[tuple[str, str]] = [
        ("opp", select + format_soql(f" WHERE {F.REFERRAL_ID} IN {{}}", chunk))
        for chunk in _chunks(ids, IN_CHUNK)
    ]
    parts += [
        ("account", format_soql(
            "SELECT Id, Name, BillingPostalCode FROM Account WHERE Name IN {} ORDER BY CreatedDate", chunk
        ))
        for chunk in _chunks(names, IN_CHUNK)
    ]  # fmt: skip
    parts += [
        ("contact", format_soql(
            "SELECT Id, AccountId, Email FROM Contact WHERE Email IN {} ORDER BY CreatedDate", chunk
        ))
        for chunk in _chunks(emails, IN_CHUNK)
    ]  # fmt: skip
    answers = _query_all(sf, [soql for _, soql in parts])
    result = _Lookups({}, [], [])
    for (kind, _), rows in zip(parts, answers, strict=True):
        if kind == "opp":
            result.opportunities.update({str(r.get(F.REFERRAL_ID)): r for r in rows})
        elif kind == "account":
            result.accounts.extend(rows)
        else:
            result.contacts.extend(rows)
    return result


def _account_for(new: NewOpportunity, accounts: list[dict[str, Any]]) -> str | None:
    """`account_match_soql`'s choice: the oldest account of that name (SOQL compares names without
    case), with the same BillingPostalCode when the new one has one."""
    if not new.account_name:
        return None
    postal = new.account_fields.get("BillingPostalCode")
    for row in accounts:
        if str(row.get("Name") or "").lower() == new.account_name.lower() and (
            not postal or row.get("BillingPostalCode") == postal
        ):
            return str(row["Id"])
    return None


def _contacts_for(new: NewOpportunity, account_id: str | None, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Contact id by email as `new_opportunity._lookups` picks it: the oldest, one on the account first."""
    emails = {(c.email or "").lower() for c in new.contacts if c.email}
    contact_ids: dict[str, str] = {}
    on_account: set[str] = set()
    for row in rows:
        email = str(row.get("Email") or "").lower()
        if email not in emails:
            continue
        same_account = bool(account_id) and str(row.get("AccountId") or "")[:15] == str(account_id)[:15]
        if email not in contact_ids or (same_account and email not in on_account):
            contact_ids[email] = str(row["Id"])
        if same_account:
            on_account.add(email)
    return contact_ids


class _Recorder:
    """Stands in for the client while `new_opportunity._write_graph` builds a graph: the subrequests
    are kept, not sent, so a batch sends exactly what `create_with_children` would."""

    def __init__(self, sf: SalesforceClient) -> None:
        self.sf = sf
        self.requests: list[dict[str, Any]] = []

    def composite(
        self, subrequests: list[dict[str, Any]], *, all_or_none: bool = True, record_id: str | None = None
    ) -> list[dict[str, Any]]:
        self.requests = subrequests
        return [
            {"referenceId": r["referenceId"], "httpStatusCode": 201, "body": {"id": ""}} for r in subrequests
        ]

    def api_path(self, path: str) -> str:
        return self.sf.api_path(path)

    def query_path(self, soql: str) -> str:
        return self.sf.query_path(soql)


def _graph_requests(
    sf: SalesforceClient, new: NewOpportunity, account_id: str | None, contact_ids: dict[str, str]
) -> list[dict[str, Any]]:
    recorder = _Recorder(sf)
    _write_graph(
        recorder, new, account_id=account_id, contact_ids=contact_ids, linked_contacts={},
        headers=sf.duplicate_headers() or {},
    )  # fmt: skip
    return recorder.requests


def _calls(creates: list[_Create]) -> Iterator[list[_Create]]:
    """Graphs packed into calls of at most 75 graphs and 500 nodes."""
    call: list[_Create] = []
    nodes = 0
    for create in creates:
        if call and (len(call) == GRAPHS_PER_CALL or nodes + len(create.requests) > GRAPH_NODES):
            yield call
            call, nodes = [], 0
        call.append(create)
        nodes += len(create.requests)
    if call:
        yield call


def _write_graphs(
    sf: SalesforceClient, creates: list[_Create], job: Callable[[Referral], None]
) -> list[_Create]:
    written: list[_Create] = []
    for call in _calls(creates):
        results = sf.composite_graphs({f"g{n}": c.requests for n, c in enumerate(call)})
        for n, create in enumerate(call):
            result = results[f"g{n}"]
            if isinstance(result, CosellSyncError):
                log.info("backfill: referral %s left to the engine: %s", create.referral.id, result)
                job(create.referral)
                continue
            opp = next(r for r in result if r.get("referenceId") == "opp")
            create.opportunity_id = str(opp["body"]["id"])
            written.append(create)
    return written


def _finish_creates(
    settings: Settings,
    clients: OpsClients,
    written: list[_Create],
    *,
    held: dict[str, LinkClaim],
    pool: ThreadPoolExecutor,
    out: PageOutcome,
    job: Callable[[Referral], None],
) -> None:
    """Read the new opportunities back (one query), send the close dates Partner Center lacks, save
    the links as `creates.create_opportunity` does, with the SystemModstamp the poll will skip; each
    save releases the referral's claim in the same write."""
    sf, select = clients.sf, opportunity_select(settings, clients.sf.org())
    ids = [c.opportunity_id for c in written]
    queries = [select + format_soql(" WHERE Id IN {}", chunk) for chunk in _chunks(ids, IN_CHUNK)]
    fresh = {str(r["Id"]): r for rows in _query_all(sf, queries) for r in rows}

    priority = current_priority()  # a pool thread inherits no context: the backfill's is passed on

    def finish(create: _Create) -> tuple[_Create, Link, bool, bool, bool]:
        # Each link is saved right after its own close date went out (on the pool's threads, paced
        # by the Partner Center rate), so the poll rarely sees a new opportunity before its link.
        with background() if priority is Priority.BACKGROUND else nullcontext():
            link, complete, patched = _link_for(settings, clients, create, fresh=fresh)
        return create, link, complete, patched, _save_created(settings, link, held)

    entries: list[AuditEntry] = []
    for create, link, complete, patched, saved in _fan_out(pool, finish, written):
        out.created += 1
        out.patched += patched
        if saved:
            entries.append(_created_entry(create, link))
        if not saved or not complete:
            job(create.referral)
    try:  # one entity group transaction per 100 rows; an audit write never undoes a create
        audit.write_many(settings, entries)
    except Exception:
        log.exception("could not write the audit entries of %s created opportunities", len(entries))


def _link_for(
    settings: Settings,
    clients: OpsClients,
    create: _Create,
    *,
    fresh: dict[str, dict[str, Any]],
) -> tuple[Link, bool, bool]:
    """The link a created opportunity gets, whether it is complete (False when Partner Center's
    missing close date could not be sent, which the engine then finishes) and whether a close date
    was sent."""
    referral, rid = create.referral, str(create.referral.id)
    deal = create.deal
    snapshot = {**deal.comparable(), **custom_mappings(settings).from_partner_center(create.wire)}
    snapshot.update(opportunity_id=create.opportunity_id, partner_team=[])
    close_date = str(create.new.fields["CloseDate"])
    sent, complete, patched = referral, True, False
    if deal.close_date is None:
        # Salesforce needed a close date the referral lacks: Partner Center gets the same one.
        try:
            operations = partner_center_patch({"close_date": close_date}, create.wire)
            sent = clients.pc.update_referral(rid, operations, etag=referral.e_tag)
            snapshot["close_date"] = close_date
            patched = True
        except CosellSyncError as exc:
            # Changed since it was listed (or refused): the link keeps the referral without a
            # close date, so the engine's merge sends Salesforce's.
            log.info("backfill: close date of referral %s left to the engine: %s", rid, exc)
            complete = False
    link = Link(rid, last_outcome="ok", opportunity_id=create.opportunity_id, snapshot=snapshot)
    link = replace(link, pc_state=create.wire if sent is referral else sent.to_wire())
    link = link.with_audit(audit_line(True, f"opportunity created from referral {rid}"))
    link = link.with_notes((note_digest(deal.notes),) if deal.notes else ())
    written_opp = fresh.get(create.opportunity_id)
    stamp = own_stamp(settings, written_opp, link)
    return replace(link, sf_stamp=stamp), complete, patched


def _save_created(settings: Settings, link: Link, held: dict[str, LinkClaim]) -> bool:
    """Save the new link over the referral's claim-only entity, releasing the claim (one write)."""
    try:
        link_claims.save(settings, link, held[link.referral_id], release=True)
    except ConflictError:
        return False  # the claim was taken over (it outlived its TTL): the job re-checks
    finally:
        held.pop(link.referral_id, None)
    return True


def _created_entry(create: _Create, link: Link) -> AuditEntry:
    return AuditEntry(
        trace_id=uuid.uuid4().hex, action="opportunity created", outcome=Outcome.OK,
        direction=Direction.PC_TO_SF, record_kind=RecordKind.REFERRAL.value,
        record_id=link.referral_id, referral_id=link.referral_id, opportunity_id=create.opportunity_id,
        source=JobSource.BACKFILL.value, changed_fields=("*",),
    )  # fmt: skip
