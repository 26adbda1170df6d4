"""Save rules that depend on the org profile: Opportunity record types and their sales processes,
and active vs inactive currencies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from devstack.sf_sim.coercion import bad_picklist_value
from devstack.sf_sim.record_json import Record
from devstack.sf_sim.schema import ObjectDef
from devstack.sf_sim.sf_errors import SfError

if TYPE_CHECKING:
    from devstack.sf_sim.org import Org


def check(org: Org, obj: ObjectDef, record: Record, changed: set[str], creating: bool) -> None:
    if obj.name == "Opportunity" and org.profile.record_types:
        _check_record_type(org, record, changed, creating)
    if "CurrencyIsoCode" in changed and record.get("CurrencyIsoCode") in org.profile.inactive_currencies:
        # An inactive currency is refused like any value outside a restricted picklist [M: the exact
        # message of a real org was not confirmed; the code is the documented restricted-picklist one].
        raise SfError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"CurrencyIsoCode: invalid currency code: {record['CurrencyIsoCode']}",
            ["CurrencyIsoCode"],
        )


def _check_record_type(org: Org, record: Record, changed: set[str], creating: bool) -> None:
    """A new Opportunity takes the integration user's default record type unless it names one; its
    StageName must be in that record type's sales process (the master picklist holds them all)."""
    if creating and not record.get("RecordTypeId"):
        record["RecordTypeId"] = org.profile.default_record().record_type_id
    record_type = org.profile.record_type(record.get("RecordTypeId"))
    if record_type is None:
        raise SfError(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            f"Record Type ID: this ID value isn't valid for the user: {record.get('RecordTypeId')}",
            ["RecordTypeId"],
        )
    stage = record.get("StageName")
    if ("StageName" in changed or "RecordTypeId" in changed) and stage and stage not in record_type.stages:
        raise bad_picklist_value("StageName", str(stage))
