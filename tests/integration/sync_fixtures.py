"""The engine harness for integration tests: `sync` runs jobs through the real engine with real
clients against both simulators and Azurite, and reads both sides back (loaded by `conftest.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.pc_sim import PartnerCenterSimulator
from devstack.pc_sim.control import PartnerCenterSimControl
from devstack.sf_sim import SalesforceSimControl, SalesforceSimulator
from shared.config import Settings, load_settings
from shared.core import salesforce_fields as F
from shared.core.countries import UnknownCountry, normalise_country
from shared.errors import CosellSyncError
from shared.jobs import JobSource, RecordKind, SyncJob
from shared.ops.dry_run import dry_run_opportunity
from shared.partner_center.referral_client import PartnerCenterClient, ReferralRequest
from shared.store.audit import Outcome
from shared.store.link_store import TableLinkStore
from shared.sync.context import SyncContext, SyncResult
from shared.sync.job_runner import run_job
from tests.integration.sf_helpers import make_client


@pytest.fixture
def sync_settings(
    settings: Settings,
    pc_sim: PartnerCenterSimulator,
    sf_sim: SalesforceSimulator,
    sf_control: SalesforceSimControl,
    pc_control: PartnerCenterSimControl,
) -> Settings:
    values = settings.model_dump()
    values.update(pc_sim.settings_overrides())
    values.update(sf_sim.settings_overrides())
    return load_settings(**values)


class RecordingPartnerCenter(PartnerCenterClient):
    """The real client, remembering each write request it sends."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.sent: list[ReferralRequest] = []

    def _send(self, request: ReferralRequest, *, idempotent: bool) -> httpx.Response:
        self.sent.append(request)
        return super()._send(request, idempotent=idempotent)


class Sync:
    """Runs jobs through the engine with real clients, and reads both simulators. Every opportunity
    job is dry-run first: the engine must then send exactly the request the dry run printed."""

    def __init__(
        self, settings: Settings, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator
    ) -> None:
        self.settings = settings
        self.pc_sim = pc_sim
        self.sf_sim = sf_sim
        self.pc = RecordingPartnerCenter(settings)
        self.sf = make_client(sf_sim, settings)
        self.pcc = PartnerCenterSimControl(pc_sim.origin)
        self.sfc = SalesforceSimControl(sf_sim.base_url)

    def opportunity(self, opportunity_id: str, source: JobSource = JobSource.POLL) -> SyncResult:
        job = SyncJob(kind=RecordKind.OPPORTUNITY, record_id=opportunity_id, source=source)
        ctx = SyncContext.build(self.settings, self.pc, self.sf, TableLinkStore(self.settings))
        try:
            planned: ReferralRequest | str | None = dry_run_opportunity(ctx, opportunity_id).request
        except CosellSyncError:
            planned = "unplannable"  # an outage: the engine meets it too (the test says what then)
        sent_before = len(self.pc.sent)
        result = run_job(job, settings=self.settings, pc=self.pc, sf=self.sf)
        sent = self.pc.sent[sent_before:]
        if planned != "unplannable":
            assert (sent[0] if sent else None) == planned, (planned, sent)
        return result

    def referral(self, referral_id: str, event: str = "referral-updated") -> SyncResult:
        job = SyncJob(kind=RecordKind.REFERRAL, record_id=referral_id, source=JobSource.WEBHOOK, event=event)
        return run_job(job, settings=self.settings, pc=self.pc, sf=self.sf)

    def opp(self, opportunity_id: str) -> dict[str, Any]:
        return self.sfc.record("Opportunity", opportunity_id)

    def referrals_for(self, opportunity_id: str) -> list[dict[str, Any]]:
        return [r for r in self.pcc.referrals() if r.get("externalReferenceId") == opportunity_id]

    def opps_for(self, referral_id: str) -> list[dict[str, Any]]:
        return [o for o in self.sfc.records("Opportunity") if o.get(F.REFERRAL_ID) == referral_id]

    def writes(self) -> tuple[int, int]:
        pc = sum(
            v
            for k, v in self.pcc.counters().items()
            if k.split(" ")[0] in ("POST", "PATCH") and "token" not in k
        )
        sf = sum(
            v
            for k, v in self.sfc.counters().items()
            if k in ("create", "update", "upsert", "delete", "composite")
        )
        return pc, sf

    @property
    def org(self) -> dict[str, Any]:
        """The simulated org's profile (currency mode, country picklists, ...)."""
        return self.sfc.profile()

    def seller_fields(self, *, country: str | None = None, currency: str | None = None) -> dict[str, Any]:
        """Fields as a seller's org takes them: the country as a picklist value (name and code) when
        the org has country picklists, the currency only in a multi-currency org."""
        org, fields = self.org, dict[str, Any]()
        if country is not None:
            fields["BillingCountry"] = country
            if org.get("country_picklists"):
                try:
                    fields = {"BillingCountryCode": normalise_country(country)}
                except UnknownCountry:
                    pytest.skip("an org with country picklists cannot hold a country that is not on them")
        if currency is not None and org.get("multi_currency"):
            fields["CurrencyIsoCode"] = currency
        return fields

    def shared_opportunity(self, **overrides: Any) -> str:
        """A seller's complete co-sell opportunity, flagged for sync."""
        account = self.sfc.create_account(
            overrides.pop("account_name", "Contoso Ltd"),
            BillingPostalCode="98052",
            **self.seller_fields(country=overrides.pop("country", "United States")),
        )
        contact = overrides.pop("contact", True)
        opp = self.sfc.create_opportunity(
            overrides.pop("name", "Contoso - Azure migration"),
            stage=overrides.pop("stage", self.settings.active_stage_name),
            amount=overrides.pop("amount", 50000.0),
            account_id=account,
            **self.seller_fields(currency=overrides.pop("currency", "USD")),
            **{F.HELP: overrides.pop("help", "CustomerTechnicalArchitecture"), **overrides},
        )
        if contact:
            self.sfc.add_contact(opp, account_id=account)
        self.sfc.add_solution(opp)
        self.sfc.set_sync(opp, True)
        return opp

    def linked_pair(self, **overrides: Any) -> tuple[str, str]:
        opp = self.shared_opportunity(**overrides)
        result = self.opportunity(opp)
        assert result.outcome is Outcome.OK, result
        return opp, result.referral_id

    def update_referral(self, referral_id: str, operations: list[dict[str, Any]]) -> None:
        current = self.pc.get_referral(referral_id)
        self.pc.update_referral(referral_id, operations, etag=current.e_tag)


@pytest.fixture
def sync(
    sync_settings: Settings, pc_sim: PartnerCenterSimulator, sf_sim: SalesforceSimulator
) -> Iterator[Sync]:
    helper = Sync(sync_settings, pc_sim, sf_sim)
    yield helper
    helper.pc.close()


# --------------------------------------------------------------------------- SF -> PC create (B3)
def test_a_flagged_opportunity_becomes_one_co_sell_referral_with_id_link_and_check_mark(sync: Sync):
    opp = sync.shared_opportunity(name="O'Brien & Søn – Azure", country="DEU", currency="EUR", amount=1234.5)
    result = sync.opportunity(opp)
    assert result.outcome is Outcome.OK
    [referral] = sync.referrals_for(opp)
    assert referral["type"] == "Shared"
    assert referral["name"] == "O'Brien & Søn – Azure"
    assert referral["customerProfile"]["address"]["country"] == "DE"
    assert (referral["details"]["dealValue"], referral["details"]["currency"]) == (1234.5, "EUR")
    assert referral["consent"]["consentToShareReferralWithMicrosoftSellers"] is True
    assert [s["id"] for s in referral["details"]["requirements"]["solutions"]] == ["SOL-0001"]
    record = sync.opp(opp)
    assert record[F.REFERRAL_ID] == referral["id"]
    assert record[F.REFERRAL_LINK].endswith(f"/{referral['id']}/details")
    assert record["Name"] == "✔ O'Brien & Søn – Azure"
    assert "created in Partner Center" in record[F.AUDIT]
