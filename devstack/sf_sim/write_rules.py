"""What the org does around a save: derived fields (stage facts, contact Name, country codes),
validation rules, unique external ids, and side effects (one primary contact role, note bodies)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devstack.sf_sim import ids
from devstack.sf_sim.address_rules import sync_countries
from devstack.sf_sim.record_json import Record
from devstack.sf_sim.schema import ObjectDef
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.storage import unique_fields

if TYPE_CHECKING:
    from devstack.sf_sim.org import Org

_DOCUMENT_FIELDS = (
    "Id",
    "Title",
    "FileType",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass
class ValidationRule:
    """A stand-in for an admin's validation rule: reject writes where `field` equals `value`."""

    sobject: str
    field: str
    value: Any
    message: str


def derive(org: Org, obj: ObjectDef, record: Record, changed: set[str]) -> None:
    name = obj.name
    if name == "Opportunity":
        _derive_opportunity(org, record, changed)
    elif name == "Account":
        if org.multi_currency and not record.get("CurrencyIsoCode"):
            record["CurrencyIsoCode"] = "USD"
        if org.country_picklists:
            sync_countries(record, changed)
    elif name == "Contact":
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
    elif name == "ContentNote":
        record["FileType"] = "SNOTE"


def _derive_opportunity(org: Org, record: Record, changed: set[str]) -> None:
    stage = org.stages.get(record.get("StageName") or "")
    if stage and "StageName" in changed:
        record["IsClosed"], record["IsWon"] = stage[3], stage[4]
        record["ForecastCategory"] = record["ForecastCategoryName"] = stage[2]
        if "Probability" not in changed:
            record["Probability"] = float(stage[1])
    amount, prob = record.get("Amount"), record.get("Probability")
    record["ExpectedRevenue"] = None if amount is None or prob is None else round(amount * prob / 100, 2)
    if org.multi_currency and not record.get("CurrencyIsoCode"):
        record["CurrencyIsoCode"] = "USD"


def check_rules(org: Org, obj: ObjectDef, record: Record) -> None:
    for rule in org.validation_rules:
        if rule.sobject.lower() == obj.name.lower():
            fdef = obj.fields.get(rule.field.lower())
            if fdef and record.get(fdef.name) == rule.value:
                raise SfError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [])


def check_team_member(org: Org, obj: ObjectDef, record: Record) -> None:
    """An OpportunityTeamMember names an active user, once per opportunity (spec §4.6)."""
    if obj.name != "OpportunityTeamMember":
        return
    user = org.store.find("User", str(record.get("UserId") or ""))
    if user is None or not user.get("IsActive"):
        raise SfError(400, "INACTIVE_OWNER_OR_USER", "operation performed with inactive user", ["UserId"])
    for other in org.store.records["opportunityteammember"].values():
        if (
            other is not record
            and other.get("Id") != record.get("Id")
            and ids.key(str(other["OpportunityId"])) == ids.key(str(record["OpportunityId"]))
            and ids.key(str(other["UserId"])) == ids.key(str(record["UserId"]))
        ):
            raise SfError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: UserId duplicates value on record with id: {other['Id']}",
                ["UserId"],
            )
    record["Name"] = user.get("Name")


def check_unique(org: Org, obj: ObjectDef, record: Record) -> None:
    for fdef in unique_fields(obj):
        value = record.get(fdef.name)
        if not fdef.unique or not value:
            continue
        others = org.store.by_index(obj, fdef, str(value))
        others = others - {ids.key(record["Id"])} if record.get("Id") else others
        if others:
            other_id = org.store.records[obj.name.lower()][next(iter(others))]["Id"]
            raise SfError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {fdef.name} duplicates value on record with id: {other_id}",
                [fdef.name],
            )


def after_write(org: Org, obj: ObjectDef, record: Record) -> None:
    if obj.name == "OpportunityContactRole" and record.get("IsPrimary"):
        _demote_other_primaries(org, record)
    elif obj.name == "ContentNote":
        _store_note(org, record)


def _demote_other_primaries(org: Org, record: Record) -> None:
    roles = org.store.records["opportunitycontactrole"]
    siblings = org.store.lookup_index.get(("opportunitycontactrole", "opportunityid"), {})
    for key in list(siblings.get(ids.key(str(record["OpportunityId"])), ())):
        other = roles.get(key)
        if other is not None and other is not record and other["IsPrimary"]:
            org.store.touch("records", "opportunitycontactrole", key)
            other["IsPrimary"] = False


def _store_note(org: Org, record: Record) -> None:
    content = record.pop("Content", None)
    if content is not None:
        org.store.put_content(record["Id"], content)
        text = html.unescape(re.sub(r"<[^>]+>", " ", content.decode("utf-8", "replace")))
        record["TextPreview"] = " ".join(text.split())[:255]
    org.store.touch("records", "contentdocument", ids.key(record["Id"]))
    org.store.records["contentdocument"][ids.key(record["Id"])] = {k: record.get(k) for k in _DOCUMENT_FIELDS}
