"""`python -m shared.ops <command>`: the operator's commands over the same code the timers run.

Every command reads `Settings` from the environment (the app settings), prints tables to stdout and
progress to stderr, and on failure prints one line saying what to fix and exits non-zero:
2 for configuration or permission problems, 1 for anything else (including "not healthy").
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from azure.core.exceptions import AzureError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from shared.config import POISON_QUEUE, SYNC_QUEUE, Settings, load_settings
from shared.errors import ConfigError, CosellSyncError, redact
from shared.ops.adopt import AdoptReport, adopt
from shared.ops.backfill import DEFAULT_MAX_QUEUED, BackfillReport, ProgressEvent, Source, backfill
from shared.ops.doctor import run_doctor
from shared.ops.dry_run import DryRunResult, plan_opportunity_sync
from shared.ops.ops_clients import OpsClients
from shared.ops.reconcile import DEFAULT_OVERLAP, reconcile
from shared.ops.replay import ReplayReport, replay
from shared.ops.status import StatusReport, Verdict, collect_status
from shared.ops.webhook_health import (
    CheckResult,
    RegisterResult,
    WebhookState,
    check_webhooks,
    register_webhooks,
    unregister_webhooks,
)
from shared.telemetry import configure_logging

EXIT_FAILED = 1
EXIT_CONFIG = 2
_LISTED = 20  # drifted referrals reconcile lists without --all
_HINTS = {
    "partner-center": "check PC_CLIENT_ID, PC_CLIENT_SECRET, PC_REFRESH_TOKEN (a Referrals admin)",
    "partner-center-auth": "check PC_CLIENT_ID, PC_CLIENT_SECRET and PC_REFRESH_TOKEN (a Referrals admin)",
    "partner-center-webhooks": "check PC_REFRESH_TOKEN (a user allowed to manage Partner Center webhooks)",
    "salesforce": "check SF_LOGIN_URL, SF_CLIENT_ID, SF_USERNAME and the integration user's permission set",
    "storage": "check AzureWebJobsStorage (or the identity's Storage Table/Queue Data Contributor roles)",
}


@dataclass
class CliContext:
    """What commands are built from; tests and the demo inject clients pointed at the simulators."""

    load: Callable[[], Settings] = load_settings
    make_clients: Callable[[Settings], OpsClients] = OpsClients


app = typer.Typer(
    name="shared.ops",
    help="Operate cosell-sync: webhooks, backfill, reconcile, replay, status, dry-run, doctor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@app.callback()
def _root(ctx: typer.Context) -> None:
    if ctx.obj is None:
        ctx.obj = CliContext()


def _fail(message: str, code: int) -> typer.Exit:
    err.print(redact(message), markup=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _session(ctx: typer.Context) -> Iterator[tuple[Settings, OpsClients]]:
    """Settings and clients for one command; every expected error becomes one line and an exit code."""
    context: CliContext = ctx.obj
    try:
        settings = context.load()
        # The CLI speaks in tables and one-line errors; its log lines (JSON) show with LOG_LEVEL=DEBUG.
        quiet = settings.log_level != "DEBUG"
        configure_logging(settings, handler_level=logging.CRITICAL + 1 if quiet else logging.DEBUG)
        if not (settings.storage_connection or settings.storage_account_name):
            # Fail at once (exit 2) instead of trying API calls first and storage last.
            raise ConfigError(
                "no storage account: set AzureWebJobsStorage (a connection string; the demo writes "
                "one to .azurite/demo.env) or AzureWebJobsStorage__accountName (the managed identity)"
            )
        with context.make_clients(settings) as clients:
            yield settings, clients
    except ConfigError as exc:
        hint = _HINTS.get(exc.provider or "", "")
        raise _fail(f"configuration error: {exc}" + (f" — {hint}" if hint else ""), EXIT_CONFIG) from None
    except CosellSyncError as exc:
        raise _fail(f"error: {exc}", EXIT_FAILED) from None
    except AzureError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(f"storage error: {first} — {_HINTS['storage']}", EXIT_CONFIG) from None


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "—"


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def parse_since(text: str) -> datetime:
    """A date (2025-01-31) or ISO datetime; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2025-01-31 or 2025-01-31T08:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------- webhooks
def _registration_table(state: WebhookState) -> Table:
    table = Table(title=f"Webhook registration ({state.state.value})")
    table.add_column("event")
    table.add_column("registered to")
    table.add_column("ours", justify="center")
    for row in state.rows():
        table.add_row(row.event, row.url or "(not registered)", "✔" if row.ours else "✖")
    return table


@app.command("register-webhooks")
def register_webhooks_command(
    ctx: typer.Context,
    *,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the test event to be answered.")] = 30.0,
    test_event: Annotated[bool, typer.Option(help="Send a test event and wait for our answer.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Register PC_WEBHOOK_CALLBACK_URL for the referral events (overwriting), read it back and
    prove delivery with a test event."""
    with _session(ctx) as (settings, clients):
        result: RegisterResult = register_webhooks(
            settings, clients.webhooks, test_event=test_event, timeout=timeout
        )
    if as_json:
        _json(
            {
                "registration": result.state.to_json(),
                "test_event": asdict(result.test) if result.test else None,
            }
        )
    else:
        out.print(_registration_table(result.state))
        if result.test is not None:
            mark = "✔" if result.test.answered else "✖"
            out.print(
                f"{mark} test event {result.test.correlation_id}: {result.test.status}, "
                f"answer {result.test.response_code or 'none'} after {result.test.waited_seconds:.2f}s"
            )
    if not result.ok:
        problem = (
            result.state.describe()
            if result.test is None or result.state.state.value != "ok"
            else f"the test event was not answered by {settings.pc_webhook_callback_url} within {timeout:g}s"
        )
        raise _fail(f"error: {problem} — check that the function app is reachable at PC_WEBHOOK_CALLBACK_URL",
                    EXIT_FAILED)  # fmt: skip


@app.command("check-webhooks")
def check_webhooks_command(
    ctx: typer.Context,
    *,
    heal: Annotated[bool, typer.Option(help="Re-register when missing or pointing elsewhere.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Compare the registration with PC_WEBHOOK_CALLBACK_URL and the referral events; heal it."""
    with _session(ctx) as (settings, clients):
        result: CheckResult = check_webhooks(settings, clients.webhooks, heal=heal)
    if as_json:
        _json({"before": result.before.to_json(), "after": result.after.to_json(), "healed": result.healed})
    else:
        out.print(_registration_table(result.after))
        if result.healed:
            out.print(f"✔ healed: {result.before.describe()} (audited, trace {result.trace_id})")
        else:
            out.print(("✔ " if result.after.state.value == "ok" else "✖ ") + result.after.describe())
    if result.after.state.value != "ok":
        raise _fail(f"error: {result.after.describe()}", EXIT_FAILED)


@app.command("unregister-webhooks")
def unregister_webhooks_command(
    ctx: typer.Context,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete the webhook registration when it is ours (PC_WEBHOOK_CALLBACK_URL or one of
    PC_WEBHOOK_OWN_URLS) and read it back; another tool's or deployment's registration is left alone.
    Stop the webhook_check timer first (uninstall), or it registers ours again."""
    with _session(ctx) as (settings, clients):
        result = unregister_webhooks(settings, clients.webhooks)
    if as_json:
        _json({"before": result.before.to_json(), "after": result.after.to_json(), "deleted": result.deleted})
    elif result.deleted:
        out.print(f"✔ deleted the registration of {result.before.registered_url}; none of ours is left")
    elif not result.ours_left:
        out.print(f"✔ no registration of ours: {result.before.describe()}")
    if result.ours_left:
        raise _fail(f"error: still registered: {result.after.describe()}", EXIT_FAILED)


# ---------------------------------------------------------------------------------- adopt
@app.command("adopt")
def adopt_command(
    ctx: typer.Context,
    *,
    referral_id_field: Annotated[
        str,
        typer.Option(
            help="Opportunity field holding the referral id today (the old connector's), e.g. ns__Ref_Id__c."
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report only: write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Link opportunities another tool synced to their referrals, writing only Referral Id, Referral
    Link and Sync; run before backfill when migrating (see "Migrating from the Power Automate connector")."""
    with _session(ctx) as (settings, clients):
        report: AdoptReport = adopt(settings, clients, referral_id_field=referral_id_field, dry_run=dry_run)
    if as_json:
        _json(report.to_json())
        return
    table = Table(title="Adopt (dry run: nothing written)" if dry_run else "Adopt")
    for column in ("opportunity", "referral", "written", "first sync settles"):
        table.add_column(column)
    for a in report.linked:
        table.add_row(
            a.opportunity_id, a.referral_id, ", ".join(a.written) or "—", ", ".join(a.differing) or "—"
        )
    out.print(table)
    for s in report.skipped:
        out.print(f"✖ {s.opportunity_id} ({s.value}): {s.reason}", markup=False)
    out.print(
        f"{report.scanned} opportunities with {report.source_field}: {len(report.linked)} linked, "
        f"{len(report.already)} already linked, {len(report.skipped)} skipped"
    )


# ---------------------------------------------------------------------------------- backfill
def _backfill_table(report: BackfillReport) -> Table:
    title = "Backfill (dry run: nothing enqueued)" if report.dry_run else "Backfill"
    table = Table(title=title)
    counts = ("scanned", "already done", "created", "in sync", "enqueued")
    for column in ("source", "read from", *counts, "checkpoint"):
        table.add_column(column, justify="right" if column in counts else "left")
    for s in report.sources:
        table.add_row(
            s.source, _when(s.started_from), str(s.scanned), str(s.already_done), str(s.created),
            str(s.in_sync), str(s.enqueued), _when(s.checkpoint),
        )  # fmt: skip
    return table


def _backfill_progress(*, transient: bool) -> tuple[Progress, Callable[[ProgressEvent], None]]:
    """A bar per source: the share of the time window done (changes are listed oldest first), with
    records, rate, ETA, and "waiting for the queue" while `--max-queued` holds the run back."""
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[records]} records {task.fields[rate]}"), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=transient,
    )  # fmt: skip
    tasks: dict[str, TaskID] = {}
    records: dict[str, int] = {}

    def advance(event: ProgressEvent) -> None:
        label = event.label
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=100.0, records=0, rate="")
        records[label] = records.get(label, 0) + event.handled
        elapsed = progress.tasks[tasks[label]].elapsed or 0.0
        rate = f"({records[label] / elapsed:.0f}/s)" if elapsed > 0 and records[label] else ""
        description = f"{label} — waiting for the queue" if event.waiting else label
        progress.update(
            tasks[label], completed=100.0 * event.covered, records=records[label], rate=rate,
            description=description,
        )  # fmt: skip

    return progress, advance


@app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    *,
    since: Annotated[str, typer.Option(help="Records changed since this date (UTC), e.g. 2025-01-01.")],
    source: Annotated[Source, typer.Option(help="Partner Center, Salesforce or both.")] = Source.BOTH,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only: enqueue nothing.")] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint of earlier runs.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=5000, help="Jobs per enqueue and checkpoint.")] = 200,
    max_queued: Annotated[
        int,
        typer.Option(min=0, help="Wait while this many jobs are queued (0 = no limit): live jobs stay fast."),
    ] = DEFAULT_MAX_QUEUED,
    per_record: Annotated[
        bool,
        typer.Option(
            "--per-record",
            help="A job per referral for the engine, instead of new opportunities created in batches.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Bring every referral changed since DATE and every Sync = Yes opportunity into sync: new
    opportunities are created in batches from the referral list pages, anything else becomes a job;
    resumable and safe to run twice (see "Operations" in README.md)."""
    start = parse_since(since)
    progress, advance = _backfill_progress(transient=as_json)
    with _session(ctx) as (settings, clients), progress:
        report = backfill(
            settings, clients, since=start, source=source, dry_run=dry_run, restart=restart,
            batch_size=batch_size, progress=advance, max_queued=max_queued, per_record=per_record,
        )  # fmt: skip
    rate = report.scanned / report.seconds if report.seconds else 0.0
    if as_json:
        summary = {"dry_run": report.dry_run, "seconds": round(report.seconds, 2)}
        _json(
            {**summary, "records_per_second": round(rate, 1), "sources": [asdict(s) for s in report.sources]}
        )
        return
    out.print(_backfill_table(report))
    out.print(
        f"{report.scanned} records in {report.seconds:.1f}s ({rate:.0f} records/s), {report.enqueued} jobs"
    )


# ---------------------------------------------------------------------------------- reconcile
@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    *,
    overlap_minutes: Annotated[float, typer.Option(help="Re-read this far behind the watermark.")] = (
        DEFAULT_OVERLAP.total_seconds() / 60
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    list_all: Annotated[
        bool, typer.Option("--all", help=f"List every drifted referral (default: the first {_LISTED}).")
    ] = False,
) -> None:
    """Enqueue a job for each referral changed since the reconcile watermark that drifted from its
    link snapshot (the safety net for missed webhooks)."""
    with _session(ctx) as (settings, clients), err.status("reconcile: reading referrals…"):
        report = reconcile(settings, clients, overlap=timedelta(minutes=overlap_minutes))
    if as_json:
        _json(report.to_json())
        return
    table = Table(title=f"Reconcile since {_when(report.since)}")
    for column in ("checked", "drifted", "enqueued", "watermark now"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.checked), str(report.drifted), str(report.enqueued), _when(report.watermark_after)
    )
    out.print(table)
    shown = report.drifted_ids if list_all else report.drifted_ids[:_LISTED]
    for referral_id in shown:
        out.print(f"  drifted: referral {referral_id}")
    if hidden := len(report.drifted_ids) - len(shown):
        out.print(f"  … and {hidden} more drifted referrals not listed (--all lists them)")


# ---------------------------------------------------------------------------------- replay
def _replay_table(report: ReplayReport) -> Table:
    table = Table(title=f"Poison queue {POISON_QUEUE}" + (" (dry run)" if report.dry_run else ""))
    for column in ("message", "job", "trace", "last error", "result"):
        table.add_column(column, overflow="fold")
    for m in report.messages:
        job = f"{m.job.kind.value} {m.job.record_id}" if m.job else f"invalid: {m.invalid_reason}"
        if m.message_id in report.replayed:
            result = f"✔ replayed to {SYNC_QUEUE}"
        elif m.message_id in report.discarded:
            result = "discarded"
        else:
            result = "left in place"
        table.add_row(m.message_id, job, m.job.trace_id if m.job else "—", m.last_error or "—", result)
    return table


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    *,
    message_id: Annotated[
        list[str] | None, typer.Option("--id", help="Poison message id (repeatable).")
    ] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every poison message.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would move; move nothing.")] = False,
    discard_invalid: Annotated[
        bool, typer.Option("--discard-invalid", help="Delete selected messages that are not jobs.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List poison messages with their last error; move the chosen ones back to sync-jobs."""
    ids = message_id or []
    with _session(ctx) as (settings, _clients):
        report = replay(
            settings, message_ids=ids, replay_all=replay_all, dry_run=dry_run, discard_invalid=discard_invalid
        )
    if as_json:
        _json(report.to_json())
    else:
        out.print(_replay_table(report))
        out.print(
            f"{len(report.replayed)} replayed, {len(report.discarded)} discarded, {len(report.left)} left"
        )
    known = {m.message_id for m in report.messages}
    if missing := [i for i in ids if i not in known]:
        raise _fail(f"error: no poison message with id {', '.join(missing)}", EXIT_FAILED)


# ---------------------------------------------------------------------------------- status
def _print_health(report: StatusReport) -> None:
    health = report.health
    if health is None:
        return
    mark = {"healthy": "✔", "degraded": "⚠", "failing": "✖"}[health.verdict.value]
    out.print(f"{mark} {health.verdict.value}" + (": " + "; ".join(health.reasons) if health.reasons else ""),
              markup=False)  # fmt: skip
    if health.retrying or health.poisoned:
        jobs = Table(title="Jobs not done, by cause")
        for column in ("cause", "retrying", "poisoned"):
            jobs.add_column(column, justify="left" if column == "cause" else "right")
        for cause in sorted(set(health.retrying) | set(health.poisoned)):
            jobs.add_row(cause, str(health.retrying.get(cause, 0)), str(health.poisoned.get(cause, 0)))
        out.print(jobs)
    if health.config_error is not None:
        problem = health.config_error
        out.print(f"✖ newest configuration error ({_when(problem.at)}): {problem.error}", markup=False)
        out.print(f"  fix: {problem.fix}", markup=False)


def _print_status(report: StatusReport) -> None:
    _print_health(report)
    if report.refresh_token is not None:
        out.print(f"Partner Center refresh token: {report.refresh_token.line()}", markup=False)
    if report.poll_error:
        out.print(f"✖ Salesforce poll: {report.poll_error}", markup=False)
    queues = Table(title="Queues")
    queues.add_column("queue")
    queues.add_column("messages", justify="right")
    for name, depth in ((SYNC_QUEUE, report.queue_depth), (POISON_QUEUE, report.poison_depth)):
        queues.add_row(name, "—" if depth is None else str(depth))
    out.print(queues)
    marks = Table(title="Watermarks")
    for column in ("watermark", "value", "lag"):
        marks.add_column(column)
    for mark in report.marks:
        marks.add_row(mark.label, _when(mark.value), _lag(mark.lag_seconds))
    out.print(marks)
    syncs = Table(title="Last successful sync")
    syncs.add_column("direction")
    syncs.add_column("at")
    labels = {"sf_to_pc": "Salesforce → Partner Center", "pc_to_sf": "Partner Center → Salesforce"}
    for direction, at in report.last_success.items():
        syncs.add_row(labels.get(direction, direction), _when(at))
    out.print(syncs)
    failures = Table(title="Latest failures")
    for column in ("at", "outcome", "record", "error"):
        failures.add_column(column, overflow="fold")
    for f in report.failures:
        failures.add_row(_when(f.at), f.outcome, f.record, f.error)
    out.print(failures if report.failures else "Latest failures: none")
    if report.webhook is not None:
        state = "✔" if report.webhook.state.value == "ok" else "✖"
        out.print(f"{state} webhooks: {report.webhook.describe()}")
    else:
        out.print(f"✖ webhooks: could not read the registration: {report.webhook_error}")
    if report.api_use is not None:
        out.print(report.api_use.describe())


@app.command("status")
def status_command(
    ctx: typer.Context,
    *,
    days: Annotated[int, typer.Option(min=1, max=90, help="Audit days to look back.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The health verdict first (healthy / degraded / failing: exit 0 / 1 / 1; 2 = settings), jobs
    retrying and poisoned by cause, the newest configuration error and its fix, the refresh token,
    queue depths, watermarks and lag, last successful sync per direction, latest failures and the
    webhook registration."""
    with _session(ctx) as (settings, clients):
        report = collect_status(settings, clients, days=days)
    if as_json:
        _json(report.to_json())
    else:
        _print_status(report)
    if report.health is not None and report.health.verdict is not Verdict.HEALTHY:
        raise typer.Exit(EXIT_FAILED)


# ---------------------------------------------------------------------------------- dry-run
def _print_dry_run(result: DryRunResult) -> None:
    out.print(f"opportunity {result.opportunity_id}: {result.action}"
              + (f" (referral {result.referral_id})" if result.referral_id else "")
              + (f" — {result.reason}" if result.reason else ""))  # fmt: skip
    for problem in result.problems:
        out.print(f"  ✖ {problem}")
    if result.request is not None:
        request = result.request
        out.print(f"{request.method} {request.path}")
        for name, value in request.headers.items():
            out.print(f"{name}: {value}")
        out.print(json.dumps(request.body, indent=2, ensure_ascii=False), markup=False)
    if result.to_salesforce:
        out.print("Salesforce would receive: " + ", ".join(sorted(result.to_salesforce)))
    for conflict in result.conflicts:
        out.print(f"  conflict {conflict}")


@app.command("dry-run")
def dry_run_command(
    ctx: typer.Context,
    *,
    opportunity_id: Annotated[str, typer.Argument(help="Salesforce opportunity id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the exact Partner Center request a sync of this opportunity would send (or the
    validation errors); writes nothing."""
    with _session(ctx) as (settings, clients):
        result = plan_opportunity_sync(settings, clients, opportunity_id)
    if as_json:
        _json(result.to_json())
    else:
        _print_dry_run(result)
    if result.action == "invalid":
        raise typer.Exit(EXIT_FAILED)
    if result.action == "skipped" and result.reason == "opportunity not found":
        raise _fail(f"error: opportunity {opportunity_id} not found", EXIT_FAILED)


# ---------------------------------------------------------------------------------- doctor
@app.command("doctor")
def doctor_command(
    ctx: typer.Context,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check both sides (Partner Center credentials, tenant, webhook; the Salesforce org's fields,
    permissions, currency, countries, record type and stages): one ✔/✖ line each with its fix. Exits 0
    only when everything a sync needs is in place. Writes nothing."""
    with _session(ctx) as (settings, clients):
        report = run_doctor(settings, clients)
    if as_json:
        _json(report.to_json())
    else:
        for line in report.lines():
            out.print(line, markup=False)
    if not report.ready:
        raise typer.Exit(EXIT_FAILED)


def main() -> None:
    app(prog_name="python -m shared.ops")
