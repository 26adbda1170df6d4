"""The standard Account and Contact duplicate rules of a new org (profile `new_org`).

Both standard rules "Allow" with an alert; an API save that matches is refused with
DUPLICATES_DETECTED unless the request carries `Sforce-Duplicate-Rule-Header: allowSave=true`
(REST API Developer Guide, "Duplicate Rule Header":
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm).
The error carries a `duplicateResult` (DuplicateError / DuplicateResult / MatchResult / MatchRecord in
the SOAP API Developer Guide: .../api/sforce_api_objects_duplicateerror.htm,
.../sforce_api_objects_duplicateresult.htm, .../sforce_api_objects_matchresult.htm).

Matching is a simplified stand-in for the standard matching rules: accounts by normalised name,
contacts by email, or by first + last name on the same account. Only REST calls are checked (seller
edits through the control API save like a user who acknowledged the alert)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from devstack.sf_sim import ids
from devstack.sf_sim.record_json import Record, attributes
from devstack.sf_sim.schema import ObjectDef
from devstack.sf_sim.sf_errors import SfError

if TYPE_CHECKING:
    from devstack.sf_sim.org import Org

HEADER = "Sforce-Duplicate-Rule-Header"
MESSAGE = "Use one of these records?"
ALERT = "You're creating a duplicate record. We recommend you use an existing record instead."
_RULES = {
    "Account": ("Standard_Account_Duplicate_Rule", "Standard_Account_Match_Rule_v1_0"),
    "Contact": ("Standard_Contact_Duplicate_Rule", "Standard_Contact_Match_Rule_v1_1"),
}
_SUFFIXES = re.compile(r"\b(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|gmbh|ag|plc|sa)\b")

_allow_save: ContextVar[bool | None] = ContextVar("sf_sim_duplicate_allow_save", default=None)


@contextmanager
def rest_call(header_value: str) -> Iterator[None]:
    """Check duplicates for the saves of one REST call, honouring its duplicate rule header."""
    allow = bool(re.search(r"allowSave\s*=\s*true", header_value, re.I))
    token = _allow_save.set(allow)
    try:
        yield
    finally:
        _allow_save.reset(token)


def check(org: Org, obj: ObjectDef, record: Record) -> None:
    if not org.profile.duplicate_rules or obj.name not in _RULES or _allow_save.get() in (None, True):
        return
    matches = [m for m in _matches(org, obj, record) if ids.key(m["Id"]) != ids.key(record["Id"])]
    if matches:
        raise SfError(
            400, "DUPLICATES_DETECTED", MESSAGE, [], {"duplicateResult": _result(org, obj, matches)}
        )


def _normalise(name: Any) -> str:
    text = re.sub(r"[^\w\s]", " ", str(name or "").lower())
    return " ".join(_SUFFIXES.sub(" ", text).split())


def _matches(org: Org, obj: ObjectDef, record: Record) -> list[Record]:
    table = org.store.records[obj.name.lower()].values()
    if obj.name == "Account":
        name = _normalise(record.get("Name"))
        return [r for r in table if name and _normalise(r.get("Name")) == name]
    email = str(record.get("Email") or "").lower()
    person = (_normalise(record.get("FirstName")), _normalise(record.get("LastName")))
    account = ids.key(record["AccountId"]) if record.get("AccountId") else None
    return [
        r
        for r in table
        if (email and str(r.get("Email") or "").lower() == email)
        or (
            account
            and r.get("AccountId")
            and ids.key(r["AccountId"]) == account
            and (_normalise(r.get("FirstName")), _normalise(r.get("LastName"))) == person
        )
    ]


def _result(org: Org, obj: ObjectDef, matches: list[Record]) -> dict[str, Any]:
    rule, match_rule = _RULES[obj.name]
    records = [
        {
            "additionalInformation": [],
            "fieldDiffs": [],
            "matchConfidence": 100.0,
            "record": {"attributes": attributes(org.api_version, obj.name, m["Id"]), "Id": m["Id"]},
        }
        for m in matches
    ]
    match_result = {
        "entityType": obj.name,
        "errors": [],
        "matchEngine": "FuzzyMatchEngine",
        "matchRecords": records,
        "rule": match_rule,
        "size": len(records),
        "success": True,
    }
    return {
        "allowSave": True,
        "duplicateRule": rule,
        "duplicateRuleEntityType": obj.name,
        "errorMessage": ALERT,
        "matchResults": [match_result],
    }
