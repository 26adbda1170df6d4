"""`SalesforceSimControl`: an httpx wrapper over the simulator's `/_sim` API — seller actions, fault
injection, org switches, counters and record reads. Seller actions are not API calls (not counted)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import httpx

from shared.core import salesforce_fields as f
from shared.core.countries import UnknownCountry, normalise_country
from shared.salesforce.records import note_record


class SimControlError(RuntimeError):
    """The simulator refused a control request (e.g. a seller edit failed validation)."""


class SalesforceSimControl:
    """Drive a running simulator at `base_url` (http://127.0.0.1:<port>)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/_sim", timeout=timeout, trust_env=False)
        self._profile: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SalesforceSimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise SimControlError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    # ---------------------------------------------------------------- org and test plumbing
    def reset(self) -> None:
        """Empty the org, clear faults, counters and switches."""
        self._call("POST", "/reset")
        self._profile = None

    def set_profile(self, name: str, **options: Any) -> dict[str, Any]:
        """Reset the org to an org profile ("ideal", "new_org", "enterprise"; `devstack.sf_sim.profiles`),
        options overriding its settings (default_record_type, read_only_fields, currencies, ...)."""
        self._profile = None
        return dict(self._call("POST", "/profile", {"name": name, **options}))

    def profile(self) -> dict[str, Any]:
        return dict(self._call("GET", "/profile"))

    def counters(self) -> dict[str, int]:
        """REST calls per endpoint kind (query, query_more, get, create, update, upsert, delete, composite,
        describe, token, ...) plus api_total."""
        return dict(self._call("GET", "/counters"))

    def reset_counters(self) -> None:
        self._call("DELETE", "/counters")

    def configure(self, **switches: Any) -> dict[str, Any]:
        """Org switches: multi_currency, country_picklists, api_used, api_max, page_size,
        token_lifetime (seconds), hidden_fields (["Opportunity.Referral_Id__c"]), stages,
        clock_offset_seconds."""
        self._profile = None
        return dict(self._call("POST", "/org", switches))

    def inject_fault(
        self,
        code: str,
        *,
        times: int | None = 1,
        probability: float | None = None,
        seed: int | None = None,
        endpoints: Iterable[str] = (),
        status: int | None = None,
        message: str | None = None,
        latency: float = 0.0,
        html: bool = False,
    ) -> None:
        """Answer matching calls with `code` (REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE,
        UNKNOWN_EXCEPTION, INVALID_SESSION_ID, ... or "LATENCY" to only delay by `latency` seconds) `times`
        times, or on a seeded random `probability` fraction of calls when `times` is None."""
        self._call(
            "POST",
            "/faults",
            {
                "code": code,
                "times": times,
                "probability": probability,
                "seed": seed,
                "endpoints": list(endpoints),
                "status": status,
                "message": message,
                "latency": latency,
                "html": html,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def expire_sessions(self) -> None:
        """Every issued access token becomes invalid (next call: 401 INVALID_SESSION_ID)."""
        self._call("POST", "/sessions/expire")

    def add_validation_rule(self, sobject: str, field: str, value: Any, message: str) -> None:
        """Reject writes that leave `field` equal to `value` with FIELD_CUSTOM_VALIDATION_EXCEPTION."""
        self._call(
            "POST",
            "/validation-rules",
            {"sobject": sobject, "field": field, "value": value, "message": message},
        )

    # ---------------------------------------------------------------- reads
    def records(self, sobject: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/records/{sobject}")["records"])

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/records/{sobject}/{record_id}"))

    def query(self, soql: str) -> list[dict[str, Any]]:
        """Run SOQL without counting an API call."""
        return list(self._call("POST", "/query", {"q": soql})["records"])

    def note_content(self, note_id: str) -> str:
        return str(self._call("GET", f"/notes/{note_id}")["content"])

    # ---------------------------------------------------------------- seller actions
    def create_record(self, sobject: str, **values: Any) -> str:
        return str(self._call("POST", f"/records/{sobject}", self.as_seller(values))["id"])

    def update_record(self, sobject: str, record_id: str, **values: Any) -> None:
        self._call("PATCH", f"/records/{sobject}/{record_id}", self.as_seller(values))

    def as_seller(self, values: dict[str, Any]) -> dict[str, Any]:
        """Values as a seller enters them in this org's UI: no currency in a single-currency org (the
        field does not exist), a country picked from the list in an org with State and
        Country/Territory picklists (the ISO code field set; Salesforce fills in the name). Scenarios
        written once run on every org profile."""
        profile = self._profile = self._profile or self.profile()
        values = dict(values)
        if not profile.get("multi_currency"):
            values.pop("CurrencyIsoCode", None)
        if profile.get("country_picklists"):
            for field in ("BillingCountry", "ShippingCountry"):
                if values.get(field) and f"{field}Code" not in values:
                    try:
                        values[f"{field}Code"] = normalise_country(str(values[field]))
                        del values[field]
                    except UnknownCountry:
                        pass  # left as typed: the org refuses it, as its UI would
        return values

    def delete_record(self, sobject: str, record_id: str) -> None:
        self._call("DELETE", f"/records/{sobject}/{record_id}")

    def create_account(self, name: str, **values: Any) -> str:
        return self.create_record(f.ACCOUNT, Name=name, **values)

    def create_opportunity(
        self,
        name: str = "Contoso - Azure migration",
        *,
        stage: str = "Prospecting",
        close_date: date | str = "2030-06-30",
        amount: float | None = 100000.0,
        sync: bool = False,
        account_id: str | None = None,
        **values: Any,
    ) -> str:
        """A seller saves a new opportunity (Sync flag off unless `sync`)."""
        body: dict[str, Any] = {
            "Name": name,
            "StageName": stage,
            "CloseDate": str(close_date),
            "Amount": amount,
            f.SYNC: sync,
            **values,
        }
        if account_id:
            body["AccountId"] = account_id
        return self.create_record(f.OPPORTUNITY, **body)

    def add_note(self, opportunity_id: str, title: str, text: str) -> str:
        """A seller writes an enhanced note on the opportunity; returns the note's id."""
        note_id = self.create_record("ContentNote", **note_record(title, text))
        self.create_record(
            "ContentDocumentLink", ContentDocumentId=note_id, LinkedEntityId=opportunity_id, ShareType="V"
        )
        return note_id

    def notes_of(self, opportunity_id: str) -> list[str]:
        """The text (HTML) of every note on the opportunity."""
        links = self.query(
            f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{opportunity_id}'"
        )
        return [self.note_content(str(link["ContentDocumentId"])) for link in links]

    def edit_opportunity(self, opportunity_id: str, **values: Any) -> None:
        self.update_record(f.OPPORTUNITY, opportunity_id, **values)

    def set_stage(self, opportunity_id: str, stage: str) -> None:
        self.edit_opportunity(opportunity_id, StageName=stage)

    def set_sync(self, opportunity_id: str, on: bool = True) -> None:
        self.edit_opportunity(opportunity_id, **{f.SYNC: on})

    def add_contact(
        self,
        opportunity_id: str,
        *,
        first_name: str = "Avery",
        last_name: str = "Customer",
        email: str = "avery@contoso.example",
        role: str = "Business User",
        primary: bool = False,
        account_id: str | None = None,
        **values: Any,
    ) -> tuple[str, str]:
        """A contact and its contact role on the opportunity; returns (contact id, role id)."""
        contact = {"FirstName": first_name, "LastName": last_name, "Email": email, **values}
        if account_id:
            contact["AccountId"] = account_id
        contact_id = self.create_record(f.CONTACT, **contact)
        role_id = self.create_record(
            f.CONTACT_ROLE, OpportunityId=opportunity_id, ContactId=contact_id, Role=role, IsPrimary=primary
        )
        return contact_id, role_id

    def add_user(
        self,
        email: str,
        *,
        first_name: str | None = "Pat",
        last_name: str = "Seller",
        phone: str | None = None,
        active: bool = True,
    ) -> str:
        """An admin adds a User (the integration user cannot); returns its id."""
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "phone": phone,
            "active": active,
        }
        return str(self._call("POST", "/users", body)["id"])

    def add_team_member(
        self, opportunity_id: str, user_id: str, *, role: str = "Sales Rep", access: str = "Edit"
    ) -> str:
        """A seller adds a user to the Opportunity Team (needs Opportunity Teams on); returns the row id."""
        return self.create_record(
            "OpportunityTeamMember",
            OpportunityId=opportunity_id,
            UserId=user_id,
            TeamMemberRole=role,
            OpportunityAccessLevel=access,
        )

    def remove_team_member(self, record_id: str) -> None:
        self.delete_record("OpportunityTeamMember", record_id)

    def team_members(self, opportunity_id: str) -> list[dict[str, Any]]:
        """The opportunity's team rows with their users' emails (uncounted)."""
        soql = (
            "SELECT Id, UserId, TeamMemberRole, OpportunityAccessLevel, User.Email "
            "FROM OpportunityTeamMember WHERE OpportunityId = '{}'"
        )
        return self.query(soql.format(opportunity_id))

    def add_solution(
        self,
        opportunity_id: str,
        solution_id: str = "SOL-0001",
        name: str = "Contoso Cloud Accelerator",
        publisher: str = "Contoso Partner Ltd",
        solution_type: str = "3P",
    ) -> str:
        return self.create_record(
            f.SOLUTION,
            **{
                f.SOLUTION_OPPORTUNITY: opportunity_id,
                f.SOLUTION_ID: solution_id,
                f.SOLUTION_NAME: name,
                f.SOLUTION_PUBLISHER: publisher,
                f.SOLUTION_TYPE: solution_type,
                "Name": name[:80],
            },
        )

    def remove_solution(self, record_id: str) -> None:
        self.delete_record(f.SOLUTION, record_id)

    def commit_late(self, sobject: str, record_id: str, seconds: float) -> str:
        """Make the record's last save look `seconds` older than it is (a late-committing transaction);
        returns the new SystemModstamp."""
        return str(
            self._call("POST", f"/records/{sobject}/{record_id}/backdate", {"seconds": seconds})[
                "SystemModstamp"
            ]
        )
