"""What the connector must know about the Salesforce org before it writes: read once per client from
the org's own description and refreshed daily (`SalesforceClient.org()`).

Sources (all REST, read-only, about ten API calls a day):
- sObject Describe (`/sobjects/{type}/describe`): field presence, `length`, `createable`/`updateable`
  as the integration user sees them (field-level security applies), picklist values and
  `recordTypeInfos` (REST API Developer Guide, "sObject Describe",
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm;
  field properties: SOAP API "DescribeSObjectResult",
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
  Multi-currency is on exactly when `CurrencyIsoCode` exists on Opportunity; State and
  Country/Territory picklists are on exactly when `BillingCountryCode` exists on Account.
- Describe Global (`/sobjects`): which optional objects exist (`OpportunityTeamMember` only with
  Opportunity Teams enabled, `ContentNote` with Notes, `DuplicateRule`).
- User Interface API "Get Values for a Picklist Field"
  (`/ui-api/object-info/Opportunity/picklist-values/{recordTypeId}/StageName`,
  https://developer.salesforce.com/docs/atlas.en-us.uiapi.meta/uiapi/ui_api_resources_picklist_values.htm):
  the stages of one record type's sales process (describe lists the master values only).
- `DuplicateRule` (Object Reference, https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-duplicaterule.html):
  active rules by SobjectType; readable only with View Setup and Configuration, so "unknown" is a
  normal answer (duplicates are then handled when a save meets one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shared.config import Settings
from shared.core import salesforce_fields as f

MASTER_RECORD_TYPE_ID: Final = "012000000000000AAA"  # the Master record type, the same in every org
TEXT_TYPES: Final = frozenset({"string", "textarea", "phone", "email", "url", "encryptedstring"})


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    length: int
    createable: bool
    updateable: bool
    picklist: tuple[str, ...] = ()  # active values
    external_id: bool = False


@dataclass(frozen=True)
class RecordTypeInfo:
    developer_name: str
    record_type_id: str
    master: bool
    available: bool
    default: bool


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    createable: bool
    fields: Mapping[str, FieldInfo]  # by lower-case name
    record_types: tuple[RecordTypeInfo, ...] = ()

    def field(self, name: str) -> FieldInfo | None:
        return self.fields.get(name.lower())


@dataclass(frozen=True)
class OrgDescription:
    """The org as the integration user sees it. `objects` holds the described objects by lower-case
    name (a missing one is not visible to the user); `record_type` is the Opportunity record type new
    opportunities get, `stages` its sales process's stages (None when they could not be read)."""

    objects: Mapping[str, ObjectInfo]
    global_names: frozenset[str]
    record_type: RecordTypeInfo | None
    record_type_problem: str | None
    stages: tuple[str, ...] | None
    duplicate_rules: tuple[str, ...] | None  # SobjectTypes with an active rule; None: not readable
    described_at: float = 0.0
    notes: tuple[str, ...] = field(default=())  # what could not be read, for the doctor's output

    def object(self, name: str) -> ObjectInfo | None:
        return self.objects.get(name.lower())

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        obj = self.object(sobject)
        return obj.field(name) if obj else None

    @property
    def multi_currency(self) -> bool:
        return self.field(f.OPPORTUNITY, "CurrencyIsoCode") is not None

    @property
    def currencies(self) -> tuple[str, ...]:
        currency = self.field(f.OPPORTUNITY, "CurrencyIsoCode")
        return currency.picklist if currency else ()

    @property
    def country_picklists(self) -> bool:
        return self.field(f.ACCOUNT, "BillingCountryCode") is not None

    @property
    def teams_enabled(self) -> bool:
        return "opportunityteammember" in self.global_names

    @property
    def notes_enabled(self) -> bool:
        note = self.object("ContentNote")
        return note is not None and note.createable

    def record_type_id_to_send(self) -> str | None:
        """The RecordTypeId a create must name: only a chosen, non-master record type (otherwise the
        integration user's default applies, as Salesforce does for a create without one)."""
        if self.record_type is None or self.record_type.master or self.record_type.default:
            return None
        return self.record_type.record_type_id


DESCRIBED: Final = (f.OPPORTUNITY, f.ACCOUNT, f.CONTACT, f.CONTACT_ROLE, f.SOLUTION, "ContentNote")


def written_fields(settings: Settings, org: OrgDescription | None = None) -> dict[str, tuple[str, ...]]:
    """Every field the connector writes, per object (what field-level security must allow)."""
    opportunity = [
        "Name", "StageName", "CloseDate", "Description", "AccountId", settings.deal_value_field,
        f.SYNC, f.REFERRAL_ID, f.REFERRAL_LINK, f.HELP, f.VISIBILITY, f.MSFT_CRM_ID, f.AUDIT,
        f.REFERRAL_STATUS,
    ]  # fmt: skip
    currency = resolved_currency_field(settings, org)
    if currency:
        opportunity.append(currency)
    account = [
        "Name",
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "NumberOfEmployees",
    ]
    path = resolved_country_path(settings, org)
    if len(path) == 1:
        opportunity.append(path[0])
    elif path[0].lower() == "account":
        account.append(path[1])
    if org is not None and org.record_type_id_to_send():
        opportunity.append("RecordTypeId")
    return {
        f.OPPORTUNITY: tuple(opportunity),
        f.ACCOUNT: tuple(account),
        f.CONTACT: ("FirstName", "LastName", "Email", "Phone", "Title", "AccountId"),
        f.CONTACT_ROLE: ("OpportunityId", "ContactId", "Role", "IsPrimary"),
        f.SOLUTION: (
            f.SOLUTION_OPPORTUNITY,
            f.SOLUTION_ID,
            f.SOLUTION_NAME,
            f.SOLUTION_PUBLISHER,
            f.SOLUTION_TYPE,
        ),
    }


def resolved_currency_field(settings: Settings, org: OrgDescription | None) -> str:
    """DEAL_CURRENCY_FIELD with `auto` resolved: CurrencyIsoCode in a multi-currency org, else none."""
    if settings.deal_currency_field.lower() != "auto":
        return settings.deal_currency_field
    if org is None:
        return settings.sf_currency_field
    return "CurrencyIsoCode" if org.multi_currency else ""


def resolved_country_path(settings: Settings, org: OrgDescription | None) -> tuple[str, ...]:
    """The country field actually written: a Billing/Shipping country *name* field becomes its code
    field when the org has country picklists (Partner Center's country is an ISO code)."""
    path = settings.sf_country_path
    on_account = len(path) == 2 and path[0].lower() == "account"
    if org is not None and org.country_picklists and on_account and path[1].lower() in _COUNTRY_NAMES:
        return (path[0], path[1] + "Code")
    return path


_COUNTRY_NAMES: Final = ("billingcountry", "shippingcountry")


# --------------------------------------------------------------------------- reading the org
Fetch = Callable[[str], Any]
"""GETs a path below /services/data/vXX.X/ and returns the parsed JSON (raises on failure)."""
Query = Callable[[str], list[dict[str, Any]]]


def describe_org(settings: Settings, get: Fetch, query: Query, *, now: float = 0.0) -> OrgDescription:
    """Read the org (see the module docstring for the calls)."""
    notes: list[str] = []
    names = frozenset(str(o.get("name", "")).lower() for o in (get("sobjects") or {}).get("sobjects", []))
    objects: dict[str, ObjectInfo] = {}
    for name in DESCRIBED:
        if name.lower() in names:
            objects[name.lower()] = object_info(get(f"sobjects/{name}/describe"))
    opportunity = objects.get(f.OPPORTUNITY.lower())
    record_type, problem = choose_record_type(
        opportunity.record_types if opportunity else (), settings.sf_opportunity_record_type
    )
    stages: tuple[str, ...] | None = None
    if opportunity is not None and record_type is not None:
        if len(opportunity.record_types) <= 1 or record_type.master:
            stage_field = opportunity.field("StageName")
            stages = stage_field.picklist if stage_field else ()
        else:
            try:
                answer = get(
                    f"ui-api/object-info/Opportunity/picklist-values/{record_type.record_type_id}/StageName"
                )
                stages = tuple(str(v["value"]) for v in (answer or {}).get("values", []))
            except Exception as exc:  # noqa: BLE001 - reported, not fatal: the doctor says it
                notes.append(f"stages of record type {record_type.developer_name} unreadable: {exc}")
    duplicate_rules: tuple[str, ...] | None = None
    if "duplicaterule" in names:
        try:
            rows = query(
                "SELECT SobjectType FROM DuplicateRule WHERE IsActive = true "
                "AND SobjectType IN ('Account', 'Contact')"
            )
            duplicate_rules = tuple(sorted({str(r.get("SobjectType")) for r in rows}))
        except Exception as exc:  # noqa: BLE001 - needs View Setup; unknown is a normal answer
            notes.append(f"duplicate rules unreadable: {exc}")
    return OrgDescription(
        objects=objects,
        global_names=names,
        record_type=record_type,
        record_type_problem=problem,
        stages=stages,
        duplicate_rules=duplicate_rules,
        described_at=now,
        notes=tuple(notes),
    )


def object_info(describe: Mapping[str, Any]) -> ObjectInfo:
    fields = {}
    for raw in describe.get("fields") or []:
        info = FieldInfo(
            name=str(raw["name"]),
            type=str(raw.get("type") or ""),
            length=int(raw.get("length") or 0),
            createable=bool(raw.get("createable")),
            updateable=bool(raw.get("updateable")),
            picklist=tuple(str(v["value"]) for v in raw.get("picklistValues") or [] if v.get("active", True)),
            external_id=bool(raw.get("externalId") or raw.get("unique")),
        )
        fields[info.name.lower()] = info
    record_types = tuple(
        RecordTypeInfo(
            developer_name=str(rt.get("developerName") or rt.get("name") or ""),
            record_type_id=str(rt.get("recordTypeId") or ""),
            master=bool(rt.get("master")),
            available=bool(rt.get("available")),
            default=bool(rt.get("defaultRecordTypeMapping")),
        )
        for rt in describe.get("recordTypeInfos") or []
        if rt.get("active", True)
    )
    return ObjectInfo(str(describe.get("name")), bool(describe.get("createable", True)), fields, record_types)


def choose_record_type(
    record_types: Iterable[RecordTypeInfo], wanted: str
) -> tuple[RecordTypeInfo | None, str | None]:
    """(the record type new opportunities get, a problem with the setting). Without a setting: the
    integration user's default (`defaultRecordTypeMapping`), else Master."""
    types = list(record_types)
    master = next((rt for rt in types if rt.master), None) or RecordTypeInfo(
        "Master", MASTER_RECORD_TYPE_ID, True, True, True
    )
    if wanted:
        found = next((rt for rt in types if rt.developer_name.lower() == wanted.lower()), None)
        if found is None:
            names = ", ".join(rt.developer_name for rt in types if not rt.master) or "none but Master"
            return None, f"no Opportunity record type {wanted!r} (the org has: {names})"
        if not found.available:
            return None, f"record type {wanted!r} is not available to the integration user's profile"
        return found, None
    return next((rt for rt in types if rt.default and rt.available), master), None
