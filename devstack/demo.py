"""`make demo`: the local stack plus the connector's end-to-end scenario (B9), every step verified
against the simulators' state, with timings. `--once` exits after the scenario (0 only if every
step was verified); without it the stack keeps running for you to explore until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from devstack.azurite import DEFAULT_LOCATION
from devstack.stack import LocalStack
from shared.core import salesforce_fields as F
from shared.telemetry import configure_logging

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
AZURITE_DATA = DEFAULT_LOCATION / "demo"
ENV_FILE = DEFAULT_LOCATION / "demo.env"  # .azurite/ is git-ignored
console = Console(width=None if sys.stdout.isatty() else 160)


class StepFailed(Exception):
    pass


@dataclass
class StepResult:
    number: int
    title: str
    ok: bool
    seconds: float
    detail: str


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise StepFailed(f"timed out after {timeout:.0f}s waiting for {what}")


class Scenario:
    """The B9 scenario against a running stack; each step acts like a seller and checks the result."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.sf = stack.sf
        self.pc = stack.pc
        self.settings = stack.settings
        self.results: list[StepResult] = []
        self.ids: dict[str, str] = {}

    def opp(self, opportunity_id: str) -> dict[str, Any]:
        return self.sf.record("Opportunity", opportunity_id)

    def referral(self, referral_id: str) -> dict[str, Any]:
        return self.pc.referral(referral_id)

    def opp_for_referral(self, referral_id: str) -> dict[str, Any] | None:
        rows = self.sf.query(
            f"SELECT Id, Name, StageName, AccountId FROM Opportunity WHERE {F.REFERRAL_ID} = '{referral_id}'"
        )
        return rows[0] if rows else None

    def run(self) -> bool:
        steps = [
            ("A seller shares an opportunity with Microsoft (SF → PC create)", self.seller_shares),
            ("Microsoft sends a co-sell referral; it lands on hold (PC → SF)", self.microsoft_sends),
            ("The seller accepts it by moving it to the active stage", self.seller_accepts),
            ("Microsoft accepts the shared deal, sets its CRM id and adds a note", self.microsoft_updates),
            ("The seller raises the deal value in Salesforce (SF → PC)", self.seller_edits_value),
            ("The deal value is changed in Partner Center (PC → SF)", self.partner_center_edits_value),
            ("An opportunity without a customer contact gets ✖ and a reason", self.invalid_opportunity),
            ("The seller declines a Microsoft referral (closed lost from on hold)", self.seller_declines),
            (
                "A note each way: the seller's reaches the referral, Microsoft's becomes a note",
                self.notes_both_ways,
            ),
            ("The seller removes a solution; the poll carries it to the referral", self.solution_removed),
            ("Sync off pauses the pair; on again, both sides' edits merge", self.pause_and_resume),
            ("The seller deletes a synced opportunity: unlinked, not re-created", self.opportunity_deleted),
            ("Our own writes echo back and cause no further writes", self.echoes_are_quiet),
        ]
        for number, (title, step) in enumerate(steps, 1):
            started = time.monotonic()
            try:
                detail = step()
                ok = True
            except (StepFailed, AssertionError, KeyError) as exc:
                detail, ok = f"FAILED: {exc}", False
            self.results.append(StepResult(number, title, ok, time.monotonic() - started, detail))
            mark = "[green]✔[/]" if ok else "[red]✖[/]"
            console.print(f"{mark} {number}. {title} [dim]({time.monotonic() - started:.1f}s)[/] {detail}")
            if not ok:
                break
        return all(r.ok for r in self.results) and len(self.results) == len(steps)

    # ------------------------------------------------------------------ the steps
    def seller_shares(self) -> str:
        account = self.sf.create_account(
            "Müller & Söhne GmbH", BillingCountry="Germany", BillingCity="München", BillingPostalCode="80331"
        )
        opp = self.sf.create_opportunity(
            "Müller – Azure data platform", stage=self.settings.active_stage_name, amount=48000.0,
            account_id=account, CurrencyIsoCode="EUR", **_help("CustomerTechnicalArchitecture"),
        )  # fmt: skip
        self.sf.add_contact(opp, first_name="Jürgen", last_name="O'Brien", email="jurgen@mueller.example",
                            account_id=account)  # fmt: skip
        self.sf.add_solution(opp, "SOL-4711-ABC", "Contoso Analytics Accelerator")
        self.sf.set_sync(opp, True)
        self.ids["opp1"] = opp
        referral = wait_for(
            "the referral in Partner Center",
            lambda: next((r for r in self.pc.referrals() if r.get("externalReferenceId") == opp), None),
        )
        self.ids["ref1"] = referral["id"]
        assert referral["customerProfile"]["address"]["country"] == "DE", referral["customerProfile"]
        # A single-currency org (the default new-org profile) has no currency field: the org's currency.
        currency = "EUR" if self.sf.profile().get("multi_currency") else self.settings.default_currency
        assert referral["details"]["currency"] == currency, referral["details"]
        assert referral["inviteContext"]["assistanceRequestCode"] == "CustomerTechnicalArchitecture"
        record = wait_for("Referral Id and ✔ on the opportunity", lambda: (
            (o := self.opp(opp)).get(F.REFERRAL_ID) == referral["id"] and o["Name"].startswith("✔") and o
        ))  # fmt: skip
        assert record[F.REFERRAL_LINK].endswith(f"{referral['id']}/details")
        shared_as = f"{referral['type']}, DE, {currency} 48,000"
        return f"referral {referral['id'][:8]}… ({shared_as}); name '{record['Name']}'"

    def microsoft_sends(self) -> str:
        referral = self.pc.send_referral()
        self.ids["ref2"] = referral["id"]
        opp = wait_for("the opportunity in Salesforce", lambda: self.opp_for_referral(referral["id"]))
        self.ids["opp2"] = opp["Id"]

        def children() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            roles = self.sf.query(
                f"SELECT Id FROM OpportunityContactRole WHERE OpportunityId = '{opp['Id']}'"
            )
            solutions = self.sf.query(
                f"SELECT Id FROM {F.SOLUTION} WHERE {F.SOLUTION_OPPORTUNITY} = '{opp['Id']}'"
            )
            return (roles, solutions) if roles and solutions else None

        # The opportunity is upserted first; its contact roles and solutions follow in the same job.
        roles, solutions = wait_for("the contact role and the solution", children)
        record = self.opp(opp["Id"])
        assert record["StageName"] == self.settings.on_hold_stage_name, record["StageName"]
        assert record[F.SYNC] is True
        return (
            f"opportunity '{record['Name']}' in '{record['StageName']}' with account, "
            f"{len(roles)} contact role(s), {len(solutions)} solution(s)"
        )

    def seller_accepts(self) -> str:
        self.sf.set_stage(self.ids["opp2"], self.settings.active_stage_name)
        referral = wait_for("the referral accepted", lambda: (
            (r := self.referral(self.ids["ref2"]))["status"] == "Active" and r
        ))  # fmt: skip
        return f"referral {referral['status']}/{referral['substatus']}"

    def microsoft_updates(self) -> str:
        self.pc.accept(self.ids["ref1"], "7-ABCDE12345")
        self.pc.add_note(self.ids["ref1"], "Microsoft seller: customer wants a PoC in January.")
        record = wait_for("Microsoft's CRM id in Salesforce", lambda: (
            (o := self.opp(self.ids["opp1"])).get(F.MSFT_CRM_ID) == "7-ABCDE12345" and o
        ))  # fmt: skip
        notes = wait_for("Microsoft's note as a Salesforce note", lambda: (
            [n for n in self.sf.notes_of(self.ids["opp1"]) if "PoC in January" in n] or None
        ))  # fmt: skip
        return f"CRM id {record[F.MSFT_CRM_ID]}, {len(notes)} note holding Microsoft's text"

    def seller_edits_value(self) -> str:
        self.sf.edit_opportunity(self.ids["opp1"], Amount=75000.0)
        wait_for("the new deal value in Partner Center", lambda: (
            self.referral(self.ids["ref1"])["details"]["dealValue"] == 75000
        ))  # fmt: skip
        return "dealValue 48,000 → 75,000"

    def partner_center_edits_value(self) -> str:
        from shared import api_clients

        pc = api_clients.partner_center(self.settings)
        current = pc.get_referral(self.ids["ref1"])
        pc.update_referral(
            self.ids["ref1"],
            [{"op": "replace", "path": "/details/dealValue", "value": 82500}],
            etag=current.e_tag,
        )
        wait_for("the new Amount in Salesforce", lambda: self.opp(self.ids["opp1"]).get("Amount") == 82500)
        return "Amount 75,000 → 82,500"

    def invalid_opportunity(self) -> str:
        account = self.sf.create_account("Ōkubo Trading 株式会社", BillingCountry="JPN")
        opp = self.sf.create_opportunity(
            "Ōkubo – Copilot rollout", stage=self.settings.active_stage_name, amount=1200000.0,
            account_id=account, CurrencyIsoCode="JPY", **_help("ProofOfConceptOrDemo"),
        )  # fmt: skip
        self.sf.add_solution(opp, "SOL-0815-XYZ", "Contoso Copilot Pack")
        self.sf.set_sync(opp, True)
        record = wait_for("✖ and the reason on the opportunity", lambda: (
            (o := self.opp(opp))["Name"].startswith("✖") and "contact" in (o.get(F.AUDIT) or "") and o
        ))  # fmt: skip
        assert not any(r.get("externalReferenceId") == opp for r in self.pc.referrals())
        return f"'{record['Name']}': {record[F.AUDIT].splitlines()[0][21:]}"

    def seller_declines(self) -> str:
        referral = self.pc.send_referral()
        opp = wait_for("the opportunity in Salesforce", lambda: self.opp_for_referral(referral["id"]))
        self.sf.set_stage(opp["Id"], self.settings.lost_stage_name)
        declined = wait_for("the referral declined", lambda: (
            (r := self.referral(referral["id"]))["status"] == "Closed" and r
        ))  # fmt: skip
        assert declined["substatus"] == "Declined", declined["substatus"]
        return f"referral {declined['status']}/{declined['substatus']}"

    def notes_both_ways(self) -> str:
        opp, ref = self.ids["opp1"], self.ids["ref1"]
        self.sf.add_note(opp, "Call with the CTO", "Pilot approved for Q3; budget confirmed.")
        wait_for("the seller's note in the referral's notes", lambda: (
            "Pilot approved for Q3" in (self.referral(ref)["details"].get("notes") or "")
        ))  # fmt: skip
        self.pc.add_note(ref, "Microsoft seller: architect assigned.")
        notes = wait_for("Microsoft's new note in Salesforce", lambda: (
            [n for n in self.sf.notes_of(opp) if "architect assigned" in n] or None
        ))  # fmt: skip
        text = self.referral(ref)["details"]["notes"]
        assert text.count("Pilot approved for Q3") == 1 and "PoC in January" not in notes[0], (text, notes)
        return (
            "seller note appended to the referral once; Microsoft's addition is one note with only its text"
        )

    def solution_removed(self) -> str:
        opp, ref = self.ids["opp1"], self.ids["ref1"]
        self.sf.add_solution(opp, "SOL-0042-DEF", "Contoso Security Pack")
        wait_for("two solutions on the referral", lambda: len(self._solutions(ref)) == 2)
        [record] = [s for s in self.sf.records(F.SOLUTION) if s[F.SOLUTION_ID] == "SOL-0042-DEF"]
        self.sf.remove_solution(record["Id"])
        wait_for("one solution left on the referral", lambda: self._solutions(ref) == ["SOL-4711-ABC"])
        return "SOL-0042-DEF added then removed in Salesforce (no opportunity edit); the referral followed"

    def _solutions(self, referral_id: str) -> list[str]:
        return [s["id"] for s in self.referral(referral_id)["details"]["requirements"]["solutions"]]

    def pause_and_resume(self) -> str:
        opp, ref = self.ids["opp1"], self.ids["ref1"]
        self.sf.set_sync(opp, False)
        self.pc.update_as_microsoft(ref, [{"op": "replace", "path": "/details/dealValue", "value": 91000}])
        self.sf.edit_opportunity(opp, CloseDate="2031-03-31")
        time.sleep(3 * _poll_seconds(self.stack))
        assert self.opp(opp)["Amount"] != 91000, "paused, yet Partner Center's edit reached Salesforce"
        assert not self.referral(ref)["details"]["closingDateTime"].startswith("2031-03-31")
        self.sf.set_sync(opp, True)
        wait_for("both edits on both sides", lambda: (
            self.opp(opp)["Amount"] == 91000
            and self.referral(ref)["details"]["closingDateTime"].startswith("2031-03-31")
        ))  # fmt: skip
        return (
            "nothing moved while paused; on resume dealValue 91,000 → Salesforce, close date → Partner Center"
        )

    def opportunity_deleted(self) -> str:
        from shared.store import links

        opp, ref = self.ids["opp2"], self.ids["ref2"]
        self.sf.delete_record("Opportunity", opp)
        wait_for("the pair unlinked", lambda: (
            (link := links.get(self.settings, ref)) is not None and link.last_outcome == "deleted"
        ))  # fmt: skip
        self.pc.update_as_microsoft(ref, [{"op": "replace", "path": "/details/dealValue", "value": 12345}])
        time.sleep(3 * _poll_seconds(self.stack))
        assert self.opp_for_referral(ref) is None, "the deleted opportunity was re-created"
        return "audited as deleted; Partner Center's next change re-created nothing (unlink)"

    def echoes_are_quiet(self) -> str:
        time.sleep(3 * _poll_seconds(self.stack))  # let every echo (webhooks, polls) arrive and settle
        before = self._writes()
        time.sleep(3 * _poll_seconds(self.stack))
        after = self._writes()
        assert after == before, (before, after)
        return f"no writes in {3 * _poll_seconds(self.stack):.0f}s of polls and webhooks"

    def _writes(self) -> tuple[int, int]:
        """Write calls so far on each side (the simulator counts a composite of queries, like the
        poll's, as `composite_query`: a read)."""
        return _writes(self.pc.counters()), _writes(self.sf.counters())


def _help(code: str) -> dict[str, Any]:
    return {F.HELP: code}


def _poll_seconds(stack: LocalStack) -> float:
    return 2.0 if stack.poll_schedule.startswith("*/2") else 5.0


def _writes(counters: dict[str, int]) -> int:
    """Write calls in a simulator's counters (Partner Center counts by "METHOD path", Salesforce by kind)."""
    writes = sum(
        count
        for key, count in counters.items()
        if key.split(" ")[0] in ("POST", "PATCH", "PUT", "DELETE")
        or key in ("create", "update", "upsert", "delete", "composite")
    )
    return writes - counters.get("POST /token", 0)


def summary(results: list[StepResult]) -> Table:
    table = Table(title="cosell-sync demo: B9 end to end", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("ok", justify="center")
    table.add_column("time", justify="right")
    table.add_column("verified")
    for r in results:
        table.add_row(str(r.number), r.title, "✔" if r.ok else "✖", f"{r.seconds:.1f}s", r.detail)
    return table


def audit_table(stack: LocalStack, limit: int = 25) -> Table:
    """The newest rows of the audit table: what each job did (webhook → queue → worker → audit)."""
    from shared.store import audit

    table = Table(title=f"audit table (newest {limit})")
    for column in ("time", "source", "record", "action", "outcome", "direction", "changed", "latency"):
        table.add_column(column)
    for entry in list(audit.recent(stack.settings, days=1))[:limit]:
        table.add_row(
            entry.at.strftime("%H:%M:%S.%f")[:-3],
            entry.source,
            f"{entry.record_kind} {entry.record_id[:12]}",
            entry.action,
            entry.outcome.value,
            entry.direction.value,
            ", ".join(entry.changed_fields)[:40],
            f"{entry.latency_ms:.0f} ms" if entry.latency_ms is not None else "",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="run the scenario and exit (0 = all verified)")
    parser.add_argument("--verbose", action="store_true", help="log every job")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the with-block below stops everything it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    console.print(
        "[bold]Starting Azurite, the Partner Center and Salesforce simulators and the function app…[/]"
    )
    # Azurite keeps its data on disk, so a storage restart during the demo loses nothing; each demo
    # starts from an empty folder because the simulators start empty too.
    shutil.rmtree(AZURITE_DATA, ignore_errors=True)
    with LocalStack(azurite_location=AZURITE_DATA) as stack:
        assert stack.host is not None
        configure_logging(stack.settings, handler_level=logging.INFO if args.verbose else logging.WARNING)
        names = ", ".join(str(f.get_function_name()) for f in stack.host.functions)
        write_env_file(stack, ENV_FILE)
        pc, sf = stack.pc_sim.origin, stack.sf_sim.base_url
        console.print(f"function app  {stack.host.base_url}  (functions: {names})")
        console.print(f"webhook URL   {stack.callback_url}  (registered; Salesforce polled every 2 s)")
        console.print(f"Partner Center simulator  {pc}  control: curl {pc}/_sim/referrals")
        console.print(f"Salesforce simulator      {sf}  control: curl {sf}/_sim/counters")
        console.print(f"Azurite data              {AZURITE_DATA}  (on disk: a restart loses nothing)")
        console.print(
            f"settings for another shell: .azurite/{ENV_FILE.name} — "
            f"`set -a; . ./.azurite/{ENV_FILE.name}; set +a; python -m shared.ops status`\n"
        )
        scenario = Scenario(stack)
        ok = scenario.run()
        console.print(audit_table(stack))
        console.print(summary(scenario.results))
        stats = stack.host.stats
        console.print(
            f"host: {stats.invocations} invocations, failures {stats.failures}, poisoned {stats.poisoned}"
        )
        console.print(f"Partner Center calls {stack.pc.counters()}")
        console.print(f"Salesforce calls {stack.sf.counters()}")
        if args.once:
            console.print("[green]demo verified[/]" if ok else "[red]demo FAILED[/]")
            return 0 if ok else 1
        console.print(
            "\nThe stack keeps running (the poll, the webhook and the worker stay live). From another "
            f"shell: `set -a; . ./.azurite/{ENV_FILE.name}; set +a` then `python -m shared.ops status`, "
            "`python -m shared.ops replay`; act as Microsoft or a seller through the simulators' control "
            f"APIs (curl {stack.pc_sim.origin}/_sim/referrals). The audit view: "
            "`python -m shared.ops status` (latest failures) or the table printed above. "
            "Ctrl-C or SIGTERM stops everything."
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping…")
        finally:
            ENV_FILE.unlink(missing_ok=True)
    return 0 if ok else 1


def write_env_file(stack: LocalStack, path: Path) -> None:
    """The running stack's app settings as `NAME='value'` lines (for `set -a; . ./file; set +a`):
    the ops CLI in another shell then works against this demo. Simulator credentials only."""
    # Salesforce's https traffic goes to the simulator's loopback port (dry-run and doctor need it).
    environ = {**stack.environ, "SF_LOOPBACK_PORT": str(stack.sf_sim.port)}
    lines = [f"{name}={shlex.quote(value)}" for name, value in sorted(environ.items())]
    path.write_text("# cosell-sync demo settings (removed when the demo stops)\n" + "\n".join(lines) + "\n")
    path.chmod(0o600)


if __name__ == "__main__":
    sys.exit(main())
