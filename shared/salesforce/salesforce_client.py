"""`SalesforceClient`: every Salesforce read and write the connector makes, over simple-salesforce.

Each public method is a handful of REST calls made through `_call`, which paces by the daily API
usage, classifies failures (`classify.py`), retries transient ones with jittered backoff and
re-authenticates once on INVALID_SESSION_ID. Errors leave as `shared.errors` exceptions.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_external_id, format_soql

from shared.config import Settings
from shared.core import salesforce_fields as f
from shared.core.countries import UnknownCountry, normalise_country
from shared.core.custom_mappings import custom_mappings
from shared.core.notes import SellerNote
from shared.errors import CosellSyncError, TransientError
from shared.salesforce.classify import Action, DuplicatesDetected, Verdict, classify
from shared.salesforce.login import TokenProvider
from shared.salesforce.new_opportunity import NewOpportunity, create_with_children
from shared.salesforce.org_profile import TEXT_TYPES, OrgDescription, describe_org, resolved_currency_field
from shared.salesforce.records import (
    account_match_soql,
    html_text,
    note_link_record,
    note_record,
    solution_record,
)
from shared.salesforce.throttle import (
    MAX_INLINE_WAIT_SECONDS,
    backoff_delay,
    parse_limit_info,
    slowdown_delay,
)
from shared.salesforce.transport import CALL_OPTIONS, default_session, loopback_session

log = logging.getLogger(__name__)
T = TypeVar("T")
COLLECTION_CHUNK = 200
ORG_REFRESH_SECONDS = 24 * 3600
DUPLICATE_RULE_HEADER = "Sforce-Duplicate-Rule-Header"
# Text fitted to the field's length: not e-mail or URL fields (a cut one is wrong, not shorter), nor
# external ids.
FITTED_TYPES = TEXT_TYPES - {"email", "url", "encryptedstring"}
ACCOUNT_FIELDS = (
    "Name",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "NumberOfEmployees",
)
CONTACT_ROLE_SUBQUERY = (
    "(SELECT Id, ContactId, Role, IsPrimary, Contact.FirstName, Contact.LastName, Contact.Email, "
    "Contact.Phone, Contact.Title FROM OpportunityContactRoles)"
)
SOLUTION_SUBQUERY = (
    f"(SELECT Id, {f.SOLUTION_ID}, {f.SOLUTION_NAME}, {f.SOLUTION_PUBLISHER}, {f.SOLUTION_TYPE} "  # noqa: S608 - SOQL; values go through format_soql
    f"FROM {f.SOLUTIONS_RELATIONSHIP})"
)


# The partner team (shared.core.partner_team): the owner, and the Opportunity Team when the org has it.
OWNER_FIELDS = tuple(f"Owner.{name}" for name in ("FirstName", "LastName", "Email", "Phone", "Username"))
TEAM_SUBQUERY = (
    "(SELECT Id, UserId, TeamMemberRole, User.FirstName, User.LastName, User.Email, User.Phone, "
    "User.Username FROM OpportunityTeamMembers)"
)


# The opportunity's notes (and files): enough to tell a seller's new note from ours without a call.
NOTE_LINKS_SUBQUERY = (
    "(SELECT ContentDocumentId, ContentDocument.Title, ContentDocument.FileType, "
    "ContentDocument.CreatedDate FROM ContentDocumentLinks)"
)


def opportunity_select(settings: Settings, org: OrgDescription | None = None) -> str:
    """The SELECT ... FROM Opportunity clause fetching everything the sync needs in one call (the
    currency field as resolved for `org` when DEAL_CURRENCY_FIELD is auto; the Opportunity Team only
    when `org` has Opportunity Teams enabled)."""
    names = ["Id", "Name", "StageName", "CloseDate", "IsClosed", "IsWon", settings.deal_value_field]
    currency = resolved_currency_field(settings, org)
    if currency:
        names.append(currency)
    names += [
        "Description",
        *f.OPPORTUNITY_FIELDS,
        "SystemModstamp",
        "LastModifiedById",
        "AccountId",
        "OwnerId",
        *OWNER_FIELDS,
    ]
    names += [f"Account.{name}" for name in ACCOUNT_FIELDS]
    names.append(".".join(settings.sf_country_path))
    custom = custom_mappings(settings)
    names += custom.salesforce_fields("Opportunity")
    names += [f"Account.{name}" for name in custom.salesforce_fields("Account")]
    unique = list(dict.fromkeys(n for n in names if n))
    children = f"{CONTACT_ROLE_SUBQUERY}, {SOLUTION_SUBQUERY}, {NOTE_LINKS_SUBQUERY}"
    if org is not None and org.teams_enabled:
        children += f", {TEAM_SUBQUERY}"
    return f"SELECT {', '.join(unique)}, {children} FROM Opportunity"  # noqa: S608 - SOQL; values go through format_soql


_OPPORTUNITY_ID = re.compile(r"006[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")


def looks_like_opportunity_id(value: str) -> bool:
    """A 15/18-character opportunity id: anything else (a CRM's own reference in
    externalReferenceId) would make Salesforce refuse the query (and cost a call)."""
    return bool(_OPPORTUNITY_ID.fullmatch(value))


class SalesforceClient:
    """The connector's Salesforce API surface.

    `session` injects the HTTP transport (tests and the demo pass
    `devstack.sf_sim.transport.loopback_session(port)`); `sleep` and `random` make pacing testable.
    `call_counts` counts REST calls per kind ("query", "query_more", "get", "create", "update",
    "upsert", "delete", "composite", "token"); `api_usage` is the last (used, allocated) pair read
    from `Sforce-Limit-Info`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = random.random,
        token_provider: TokenProvider | None = None,
    ) -> None:
        self.settings = settings
        if session is None and settings.sf_loopback_port:
            session = loopback_session(settings.sf_loopback_port, settings.sf_timeout_seconds)
        self._session = session or default_session(settings.sf_timeout_seconds)
        self._session.headers["Sforce-Call-Options"] = CALL_OPTIONS
        if settings.sf_on_duplicate == "allow_save":
            # REST API Developer Guide, "Duplicate Rule Header" (API 52.0+):
            # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm
            self._session.headers[DUPLICATE_RULE_HEADER] = "allowSave=true"
        self._session.hooks["response"].append(self._observe)
        self._sleep = sleep
        self._random = random
        self._tokens = token_provider or TokenProvider(settings, self._session)
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self.call_counts: Counter[str] = Counter()
        self.api_usage: tuple[int, int] | None = None
        self._org: OrgDescription | None = None
        self._org_lock = threading.Lock()
        self._adapted = threading.local()

    # ------------------------------------------------------------------ the org
    def org(self, *, refresh: bool = False) -> OrgDescription:
        """The org's description (`org_profile`), read on first use and again after a day."""
        with self._org_lock:
            now = time.monotonic()
            if refresh or self._org is None or now - self._org.described_at > ORG_REFRESH_SECONDS:
                self._org = describe_org(self.settings, self._describe_get, self.query, now=now)
            return self._org

    def _describe_get(self, path: str) -> Any:
        return self._call("describe", lambda sf: sf.restful(path))

    def _org_for_reads(self) -> OrgDescription:
        """The description an opportunity read depends on (DEAL_CURRENCY_FIELD=auto, Opportunity Teams);
        described once a day, as every write needs it anyway."""
        return self.org()

    def take_adaptations(self) -> list[str]:
        """What this thread's writes adapted to the org since the last call (a duplicate linked, text
        cut to a field's length, a country moved to its code field): for the audit trail."""
        notes: list[str] = getattr(self._adapted, "notes", [])
        self._adapted.notes = []
        return notes

    def _adaptation(self, text: str, record_id: str | None = None) -> None:
        log.warning("Salesforce write adapted to the org%s: %s", f" ({record_id})" if record_id else "", text)
        if not hasattr(self._adapted, "notes"):
            self._adapted.notes = []
        self._adapted.notes.append(text)

    def adapt(self, sobject: str, body: dict[str, Any], *, record_id: str | None = None) -> dict[str, Any]:
        """`body` as this org accepts it: no CurrencyIsoCode in a single-currency org (when
        DEAL_CURRENCY_FIELD is auto), country codes in the code field when State and Country/Territory
        picklists are on ("Integration Values for State and Country/Territory Picklists",
        https://help.salesforce.com/s/articleView?id=xcloud.admin_state_country_picklists_integ_values.htm),
        text cut to the field's length (STRING_TOO_LONG otherwise). Values that are `@{ref}` references
        are left alone."""
        org = self.org()
        out = dict(body)
        if (
            sobject.lower() == f.OPPORTUNITY.lower()
            and self.settings.deal_currency_field.lower() == "auto"
            and not org.multi_currency
        ):
            out.pop("CurrencyIsoCode", None)
        if org.country_picklists and sobject.lower() == f.ACCOUNT.lower():
            for prefix in ("Billing", "Shipping"):
                name_field, code_field = f"{prefix}Country", f"{prefix}CountryCode"
                value = out.get(name_field)
                if isinstance(value, str) and value.strip() and code_field not in out:
                    try:
                        code = normalise_country(value)
                    except UnknownCountry:
                        continue  # left as written: Salesforce names the bad value
                    del out[name_field]
                    out[code_field] = code
        for name, value in list(out.items()):
            info = org.field(sobject, name)
            if (
                isinstance(value, str)
                and info is not None
                and info.type in FITTED_TYPES
                and not info.external_id
                and 0 < info.length < len(value)
            ):
                out[name] = value[: info.length]
                self._adaptation(
                    f"{sobject}.{name} cut to its {info.length} characters (was {len(value)}): "
                    f"{value[info.length :]!r} dropped",
                    record_id,
                )
        return out

    # ------------------------------------------------------------------ plumbing
    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.api_usage = usage

    def _client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                token = self._tokens.token()
                self.call_counts["token"] = self._tokens.fetches
                self._sf = Salesforce(
                    instance_url=token.instance_url,
                    session_id=token.access_token,
                    session=self._session,
                    version=self.settings.sf_api_version,
                )
            return self._sf

    def user_id(self) -> str:
        """The integration user's id (empty if the token response did not name it)."""
        self._client()
        return self._tokens.token().user_id

    def _reauthenticate(self) -> None:
        with self._lock:
            self._tokens.refresh()
            self.call_counts["token"] = self._tokens.fetches
            self._sf = None

    def _call(self, kind: str, fn: Callable[[Salesforce], T], *, record_id: str | None = None) -> T:
        """Run one REST call with pacing, classification, retries and one re-authentication."""
        reauthenticated = False
        attempt = 0
        while True:
            pause = slowdown_delay(self.api_usage, self.settings.sf_limit_slowdown_pct)
            if pause:
                log.info(
                    "Salesforce API usage %s above %s%%: pausing %.2fs",
                    self.api_usage,
                    self.settings.sf_limit_slowdown_pct,
                    pause,
                )
                self._sleep(pause)
            sf = self._client()
            self.call_counts[kind] += 1
            try:
                return fn(sf)
            except SalesforceError as exc:
                verdict = classify(exc.status, exc.content)
            except requests.RequestException as exc:
                verdict = Verdict(Action.RETRY, 0, "", f"network error: {type(exc).__name__}")
            if verdict.action is Action.REAUTH and not reauthenticated:
                reauthenticated = True
                self._reauthenticate()
                continue
            wait = verdict.retry_after or 0.0
            if (
                verdict.action is Action.RETRY
                and attempt < self.settings.sf_max_retries
                and (wait <= MAX_INLINE_WAIT_SECONDS)
            ):
                delay = backoff_delay(attempt, self._random, hint=verdict.retry_after)
                log.warning(
                    "Salesforce %s failed (%s %s); retry %d in %.2fs",
                    kind,
                    verdict.status,
                    verdict.code or verdict.message,
                    attempt + 1,
                    delay,
                )
                self._sleep(delay)
                attempt += 1
                continue
            raise verdict.error(record_id=record_id)

    def _query_pages(self, soql: str) -> Iterator[dict[str, Any]]:
        page: dict[str, Any] = self._call("query", lambda sf: sf.query(soql))
        while True:
            yield from page.get("records", [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call("query_more", partial(_query_more, url=str(next_url)))

    def query(self, soql: str) -> list[dict[str, Any]]:
        """All rows of a SOQL statement (follows nextRecordsUrl to the end)."""
        return list(self._query_pages(soql))

    def _first(self, soql: str) -> dict[str, Any] | None:
        rows = self._call("query", lambda sf: sf.query(soql)).get("records", [])
        return rows[0] if rows else None

    # ------------------------------------------------------------------ reads
    def changed_opportunities(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Id, SystemModstamp and Referral Id of every Sync-flagged opportunity saved at or after `since`
        (and at or before `until`), oldest first, ties by Id; pages are followed lazily."""
        soql = format_soql(
            f"SELECT Id, SystemModstamp, {f.REFERRAL_ID} FROM Opportunity "  # noqa: S608 - SOQL; values go through format_soql
            f"WHERE {f.SYNC} = true AND SystemModstamp >= {{}}",
            _aware(since),
        )
        if until is not None:
            soql += format_soql(" AND SystemModstamp <= {}", _aware(until))
        return self._query_pages(soql + " ORDER BY SystemModstamp, Id")

    def daily_api_usage(self) -> tuple[int, int] | None:
        """(used, allocated) of the org's daily API requests, from the /limits resource (its
        response's `Sforce-Limit-Info` says the same; that is kept in `api_usage` on every call)."""
        answer: Any = self._call("get", lambda sf: sf.restful("limits"))
        body: dict[str, Any] = answer if isinstance(answer, dict) else {}
        daily = body.get("DailyApiRequests") or {}
        if "Max" in daily and "Remaining" in daily:
            return int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"])
        return self.api_usage

    def get_opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        """The opportunity with account, contact roles (with contacts) and solutions, in one query."""
        soql = opportunity_select(self.settings, self._org_for_reads()) + format_soql(
            " WHERE Id = {} LIMIT 1", opportunity_id
        )
        return self._with_record_id(opportunity_id, lambda: self._first(soql))

    def update_opportunity_and_read(
        self, opportunity_id: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Update the opportunity and read it back (as `get_opportunity` does) in ONE API call, through
        the /composite resource: the caller learns the SystemModstamp its own write produced."""
        soql = opportunity_select(self.settings, self._org_for_reads()) + format_soql(
            " WHERE Id = {} LIMIT 1", opportunity_id
        )
        _, read = self.composite(
            [
                {
                    "method": "PATCH",
                    "url": self.api_path(f"sobjects/{f.OPPORTUNITY}/{opportunity_id}"),
                    "referenceId": "update",
                    "body": self.adapt(f.OPPORTUNITY, fields, record_id=opportunity_id),
                },
                {"method": "GET", "url": self.query_path(soql), "referenceId": "read"},
            ],
            record_id=opportunity_id,
        )
        records = (read.get("body") or {}).get("records") or []
        return dict(records[0]) if records else None

    def composite(
        self, subrequests: list[dict[str, Any]], *, all_or_none: bool = True, record_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Up to 25 subrequests (at most 5 of them queries) in ONE API call; later ones may refer to
        earlier results as `@{referenceId.id}`. With `all_or_none` a failing subrequest rolls the
        others back and its error is raised (classified like any call's)."""
        payload = {"allOrNone": all_or_none, "compositeRequest": subrequests}
        answer = self._call(
            "composite",
            lambda sf: sf.restful("composite", method="POST", json=payload),
            record_id=record_id,
        )
        responses: list[dict[str, Any]] = list((answer or {}).get("compositeResponse") or [])
        if len(responses) != len(subrequests):
            raise TransientError("incomplete composite response", provider="salesforce", record_id=record_id)
        failures = [r for r in responses if int(r.get("httpStatusCode", 500)) >= 300]
        if all_or_none and failures:
            cause = next((r for r in failures if not _halted(r)), failures[0])
            verdict = classify(int(cause.get("httpStatusCode", 500)), cause.get("body"))
            error = verdict.error(record_id=record_id)
            if isinstance(error, DuplicatesDetected):
                error.reference = str(cause.get("referenceId") or "") or None
            raise error
        return responses

    def composite_graphs(
        self, graphs: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, list[dict[str, Any]] | CosellSyncError]:
        """Independent all-or-none graphs in ONE API call (`POST composite/graph`; REST API Developer
        Guide, "Composite Graph Limits": at most 75 graphs and 500 nodes a call; a failing graph is
        rolled back alone). Per graph id: its subrequests' responses, or the classified error of the
        subrequest that failed it (a DuplicatesDetected names that subrequest's referenceId)."""
        payload = {"graphs": [{"graphId": gid, "compositeRequest": list(r)} for gid, r in graphs.items()]}
        answer = self._call(
            "composite", lambda sf: sf.restful("composite/graph", method="POST", json=payload)
        )
        results: dict[str, list[dict[str, Any]] | CosellSyncError] = {}
        for one in (answer or {}).get("graphs") or []:
            graph_id = str(one.get("graphId"))
            responses = list((one.get("graphResponse") or {}).get("compositeResponse") or [])
            failures = [r for r in responses if int(r.get("httpStatusCode", 500)) >= 300]
            if one.get("isSuccessful") and not failures:
                results[graph_id] = responses
                continue
            cause = next((r for r in failures if not _halted(r)), failures[0] if failures else {})
            verdict = classify(int(cause.get("httpStatusCode", 500)), cause.get("body"))
            error = verdict.error(record_id=graph_id)
            if isinstance(error, DuplicatesDetected):
                error.reference = str(cause.get("referenceId") or "") or None
            results[graph_id] = error
        if set(results) != set(graphs):
            raise TransientError("incomplete composite graph response", provider="salesforce")
        return results

    def query_many(self, queries: Mapping[str, tuple[str, bool]]) -> dict[str, list[dict[str, Any]]]:
        """Up to five SOQL queries (name -> (soql, include deleted)) in ONE composite call; a query
        with more rows than one page follows its nextRecordsUrl (a call per further page)."""
        requests_ = [
            {"method": "GET", "referenceId": name,
             "url": self.api_path(("queryAll?" if deleted else "query?") + urlencode({"q": soql}))}
            for name, (soql, deleted) in queries.items()
        ]  # fmt: skip
        results: dict[str, list[dict[str, Any]]] = {}
        for response in self.composite(requests_, all_or_none=False):
            name = str(response.get("referenceId"))
            status = int(response.get("httpStatusCode", 500))
            if status >= 300:
                raise classify(status, response.get("body")).error()
            page: dict[str, Any] = dict(response.get("body") or {})
            rows = list(page.get("records") or [])
            while not page.get("done", True) and page.get("nextRecordsUrl"):
                page = self._call("query_more", partial(_query_more, url=str(page["nextRecordsUrl"])))
                rows += page.get("records") or []
            results[name] = rows
        return results

    def api_path(self, path: str) -> str:
        return f"/services/data/v{self.settings.sf_api_version}/{path}"

    def query_path(self, soql: str) -> str:
        return self.api_path(f"query?{urlencode({'q': soql})}")

    def find_deleted_opportunity(self, opportunity_id: str) -> dict[str, Any] | None:
        """A deleted opportunity (in the recycle bin) with its Referral Id, through queryAll, which
        returns deleted records with IsDeleted = true (REST API Developer Guide, "QueryAll");
        None when it is not deleted or gone for good."""
        soql = format_soql(
            f"SELECT Id, IsDeleted, SystemModstamp, {f.REFERRAL_ID} FROM Opportunity WHERE Id = {{}} LIMIT 1",  # noqa: S608
            opportunity_id,
        )
        rows = self._call("query", lambda sf: sf.query(soql, include_deleted=True)).get("records", [])
        return rows[0] if rows and rows[0].get("IsDeleted") else None

    def get_opportunity_by_referral_id(self, referral_id: str) -> dict[str, Any] | None:
        soql = opportunity_select(self.settings, self._org_for_reads()) + format_soql(
            f" WHERE {f.REFERRAL_ID} = {{}} LIMIT 1", referral_id
        )
        return self._first(soql)

    def get_seller_notes(self, note_ids: list[str]) -> list[SellerNote]:
        """Notes people wrote on an opportunity, with their text: one query for titles, dates and
        authors, then each note's body (`GET sobjects/ContentNote/{id}/Content`, HTML; Object
        Reference "ContentNote") — only ever for notes not yet sent to Partner Center."""
        soql = format_soql(
            "SELECT Id, Title, CreatedDate, CreatedBy.Name FROM ContentNote "
            "WHERE Id IN {} ORDER BY CreatedDate",
            note_ids,
        )
        notes = []
        for row in self.query(soql):
            note_id = str(row["Id"])
            body = self._call("note_content", partial(_note_body, note_id=note_id), record_id=note_id)
            text = html_text(body.decode("utf-8", errors="replace"))
            author = str((row.get("CreatedBy") or {}).get("Name") or "")
            created = str(row.get("CreatedDate") or "")
            notes.append(SellerNote(note_id, str(row.get("Title") or ""), text, created, author))
        return notes

    def get_note_titles(self, opportunity_id: str) -> set[str]:
        """Titles of the notes (ContentNote / files) linked to the opportunity."""
        soql = format_soql(
            "SELECT ContentDocumentId, ContentDocument.Title FROM ContentDocumentLink "
            "WHERE LinkedEntityId = {}",
            opportunity_id,
        )
        return {
            str((row.get("ContentDocument") or {}).get("Title"))
            for row in self.query(soql)
            if (row.get("ContentDocument") or {}).get("Title")
        }

    def get_stages(self) -> list[dict[str, Any]]:
        """The org's opportunity stages (ApiName, IsClosed, IsWon, DefaultProbability, ...)."""
        return self.query(
            "SELECT ApiName, MasterLabel, DefaultProbability, ForecastCategoryName, IsActive, IsClosed, "
            "IsWon, "
            "SortOrder FROM OpportunityStage WHERE IsActive = true ORDER BY SortOrder"
        )

    # ------------------------------------------------------------------ writes
    def create_with_children(self, new: NewOpportunity) -> str | None:
        """The opportunity and its children in one all-or-none graph (see `new_opportunity`), or None
        when the caller must take the stepwise path. The records are adapted to the org (`adapt`), the
        configured record type is named, and an account or contact a duplicate rule refuses is
        replaced by the record it matched (SF_ON_DUPLICATE=link)."""
        allow_save = self.settings.sf_on_duplicate == "allow_save"
        return create_with_children(
            self,
            self.adapted(new),
            link_duplicates=not allow_save,
            linked=self._linked,
            headers=self.duplicate_headers(),
        )

    def duplicate_headers(self) -> dict[str, str] | None:
        """The header every create carries with SF_ON_DUPLICATE=allow_save, else None."""
        allow_save = self.settings.sf_on_duplicate == "allow_save"
        return {DUPLICATE_RULE_HEADER: "allowSave=true"} if allow_save else None

    def adapted(self, new: NewOpportunity) -> NewOpportunity:
        """`new` with its records adapted to the org (`adapt`) and the configured record type named."""
        fields = self.adapt(f.OPPORTUNITY, new.fields, record_id=new.referral_id)
        record_type = self.org().record_type_id_to_send()
        if record_type:
            fields.setdefault("RecordTypeId", record_type)
        adapted = replace(
            new,
            fields=fields,
            account_fields=self.adapt(f.ACCOUNT, {**new.account_fields, "Name": new.account_name or ""})
            if new.account_name
            else new.account_fields,
            contacts=tuple(
                replace(c, fields=self.adapt(f.CONTACT, c.fields, record_id=new.referral_id))
                for c in new.contacts
            ),
        )
        if new.account_name:
            adapted = replace(adapted, account_name=str(adapted.account_fields.pop("Name")))
        return adapted

    def _linked(self, sobject: str, record_id: str, why: str) -> None:
        self._adaptation(
            f"{sobject} {record_id} linked instead of a new one: a duplicate rule matched it ({why})"
        )

    def upsert_opportunity_by_referral_id(self, referral_id: str, fields: dict[str, Any]) -> tuple[str, bool]:
        """Create or update the opportunity whose Referral Id is `referral_id`; returns (id, created)."""
        body = {k: v for k, v in fields.items() if k.lower() != f.REFERRAL_ID.lower()}
        body = self.adapt(f.OPPORTUNITY, body, record_id=referral_id)
        path = format_external_id(f.REFERRAL_ID, referral_id)
        response: requests.Response = self._call(
            "upsert",
            lambda sf: _sobject(sf, f.OPPORTUNITY).upsert(path, body, raw_response=True),
            record_id=referral_id,
        )
        if response.status_code == 204:  # API versions before 46.0 answer an update without a body
            found = self._first(
                format_soql(f"SELECT Id FROM Opportunity WHERE {f.REFERRAL_ID} = {{}}", referral_id)  # noqa: S608 - SOQL; values go through format_soql
            )
            if found is None:
                raise TransientError(
                    "upserted opportunity not visible yet", provider="salesforce", record_id=referral_id
                )
            return str(found["Id"]), False
        result = response.json()
        return str(result["id"]), bool(result.get("created", response.status_code == 201))

    def update_opportunity(self, opportunity_id: str, fields: dict[str, Any]) -> None:
        if fields:
            body = self.adapt(f.OPPORTUNITY, fields, record_id=opportunity_id)
            self._call(
                "update",
                lambda sf: _sobject(sf, f.OPPORTUNITY).update(opportunity_id, body),
                record_id=opportunity_id,
            )

    def update_account(self, account_id: str, fields: dict[str, Any]) -> None:
        if fields:
            body = self.adapt(f.ACCOUNT, fields, record_id=account_id)
            self._call(
                "update", lambda sf: _sobject(sf, f.ACCOUNT).update(account_id, body), record_id=account_id
            )

    def delete_contact_role(self, role_id: str) -> None:
        self._call("delete", lambda sf: _sobject(sf, f.CONTACT_ROLE).delete(role_id), record_id=role_id)

    def find_or_create_account(self, name: str, fields: dict[str, Any]) -> str:
        """An account named `name` (and with the same BillingPostalCode when one is given), else a new one."""
        found = self._first(account_match_soql(name, fields))
        if found:
            return str(found["Id"])
        return self._create("Account", {**fields, "Name": name})

    def find_or_create_contact(
        self,
        account_id: str | None,
        first_name: str | None,
        last_name: str,
        email: str | None,
        fields: dict[str, Any],
    ) -> str:
        """The contact with this email (one on `account_id` preferred), else a new contact."""
        if email:
            soql = format_soql(
                "SELECT Id, AccountId FROM Contact WHERE Email = {} ORDER BY CreatedDate", email
            )
            rows = self.query(soql + " LIMIT 20")
            if rows:
                same = [r for r in rows if account_id and (r.get("AccountId") or "")[:15] == account_id[:15]]
                return str((same or rows)[0]["Id"])
        body: dict[str, Any] = {**fields, "FirstName": first_name, "LastName": last_name, "Email": email}
        if account_id:
            body["AccountId"] = account_id
        return self._create("Contact", {k: v for k, v in body.items() if v is not None})

    def add_contact_role(
        self, opportunity_id: str, contact_id: str, role: str = "Business User", primary: bool = False
    ) -> str:
        """The contact's role on the opportunity; an existing one is reused (and adjusted), never
        duplicated."""
        existing = self._first(
            format_soql(
                "SELECT Id, Role, IsPrimary FROM OpportunityContactRole "
                "WHERE OpportunityId = {} AND ContactId = {} "
                "LIMIT 1",
                opportunity_id,
                contact_id,
            )
        )
        if existing:
            changes = {k: v for k, v in (("Role", role), ("IsPrimary", primary)) if existing.get(k) != v}
            if changes:
                self._call(
                    "update",
                    lambda sf: _sobject(sf, f.CONTACT_ROLE).update(existing["Id"], changes),
                    record_id=opportunity_id,
                )
            return str(existing["Id"])
        return self._create(
            f.CONTACT_ROLE,
            {"OpportunityId": opportunity_id, "ContactId": contact_id, "Role": role, "IsPrimary": primary},
            record_id=opportunity_id,
        )

    # ------------------------------------------------------------------ the partner team
    def opportunity_teams_enabled(self) -> bool:
        """Whether the org has Opportunity Teams (OpportunityTeamMember in Describe Global)."""
        return self.org().teams_enabled

    def active_users_by_email(self, emails: list[str]) -> dict[str, str]:
        """Lower-cased email -> Id of the active users with these emails (one query; the oldest user
        when two share an email)."""
        if not emails:
            return {}
        soql = format_soql(
            "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {} ORDER BY CreatedDate, Id",
            sorted({e.lower() for e in emails}),
        )
        found: dict[str, str] = {}
        for row in self.query(soql):
            found.setdefault(str(row.get("Email") or "").lower(), str(row["Id"]))
        return found

    def add_team_member(
        self, opportunity_id: str, user_id: str, role: str, access_level: str = "Read"
    ) -> str:
        """An OpportunityTeamMember (Object Reference "OpportunityTeamMember": OpportunityId, UserId,
        TeamMemberRole, OpportunityAccessLevel Read/Edit). A user already on the team keeps their row
        (a second one for the same user is refused), so a repeat after a crash adds nothing."""
        existing = self._first(
            format_soql(
                "SELECT Id FROM OpportunityTeamMember WHERE OpportunityId = {} AND UserId = {} LIMIT 1",
                opportunity_id,
                user_id,
            )
        )
        if existing:
            return str(existing["Id"])
        body = {
            "OpportunityId": opportunity_id,
            "UserId": user_id,
            "TeamMemberRole": role,
            "OpportunityAccessLevel": access_level,
        }
        return self._create("OpportunityTeamMember", body, record_id=opportunity_id)

    def delete_team_member(self, record_id: str) -> None:
        self._call(
            "delete", lambda sf: _sobject(sf, "OpportunityTeamMember").delete(record_id), record_id=record_id
        )

    def create_solution(self, opportunity_id: str, solution: dict[str, Any]) -> str:
        """A solutions child record; `solution` holds fields by API name (fields.SOLUTION_ID, ...)."""
        return self._create(f.SOLUTION, solution_record(opportunity_id, solution), record_id=opportunity_id)

    def delete_solution(self, record_id: str) -> None:
        self._call("delete", lambda sf: _sobject(sf, f.SOLUTION).delete(record_id), record_id=record_id)

    def attach_note(self, opportunity_id: str, title: str, body: str) -> str:
        """An enhanced note (ContentNote) linked to the opportunity; returns the note's id."""
        note_id = self._create("ContentNote", note_record(title, body), record_id=opportunity_id)
        link = note_link_record(note_id, opportunity_id)
        self._create("ContentDocumentLink", link, record_id=opportunity_id)
        return note_id

    def upsert_opportunities_collection(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Upsert many opportunities on Referral Id through sObject Collections (≤200 per call).
        Each record must carry fields.REFERRAL_ID; the result list is in input order
        ({"id", "success", "errors", "created"})."""
        results: list[dict[str, Any]] = []
        path = f"composite/sobjects/Opportunity/{f.REFERRAL_ID}"
        for start in range(0, len(records), COLLECTION_CHUNK):
            chunk = [
                {"attributes": {"type": "Opportunity"}, **self.adapt(f.OPPORTUNITY, r)}
                for r in records[start : start + COLLECTION_CHUNK]
            ]
            payload = {"allOrNone": False, "records": chunk}
            answer = self._call("composite", partial(_patch, path=path, payload=payload))
            results.extend(answer or [])
        return results

    # ------------------------------------------------------------------ helpers
    def _create(self, sobject: str, body: dict[str, Any], *, record_id: str | None = None) -> str:
        """Create a record; an account or contact a duplicate rule refuses becomes the record it
        matched (SF_ON_DUPLICATE=link)."""
        adapted = self.adapt(sobject, body, record_id=record_id)
        try:
            result = self._call(
                "create", lambda sf: _sobject(sf, sobject).create(adapted), record_id=record_id
            )
        except DuplicatesDetected as exc:
            if self.settings.sf_on_duplicate != "link" or not exc.matches:
                raise
            self._linked(sobject, exc.matches[0], exc.message)
            return exc.matches[0]
        return str(result["id"])

    def _with_record_id(self, record_id: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except CosellSyncError as exc:
            exc.record_id = exc.record_id or record_id
            raise


def _halted(response: dict[str, Any]) -> bool:
    """A subrequest rolled back because another one failed (not the failure itself)."""
    body = response.get("body")
    return isinstance(body, list) and any(
        isinstance(e, dict) and e.get("errorCode") == "PROCESSING_HALTED" for e in body
    )


def _aware(value: datetime) -> datetime:
    """format_soql turns naive datetimes into garbage; the API wants UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sobject(sf: Salesforce, name: str) -> SFType:
    """`sf.<name>` typed (simple-salesforce resolves object names dynamically)."""
    return cast(SFType, getattr(sf, name))


def _query_more(sf: Salesforce, *, url: str) -> dict[str, Any]:
    return dict(sf.query_more(url, identifier_is_url=True))


def _patch(sf: Salesforce, *, path: str, payload: dict[str, Any]) -> Any:
    return sf.restful(path, method="PATCH", json=payload)


def _note_body(sf: Salesforce, *, note_id: str) -> bytes:
    return bytes(_sobject(sf, "ContentNote").get_base64(note_id, base64_field="Content"))
