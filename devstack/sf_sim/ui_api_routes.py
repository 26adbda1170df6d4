"""User Interface API: the values of a picklist for one record type,
`GET /ui-api/object-info/{objectApiName}/picklist-values/{recordTypeId}/{fieldApiName}` ("Get Values
for a Picklist Field", https://developer.salesforce.com/docs/atlas.en-us.uiapi.meta/uiapi/ui_api_resources_picklist_values.htm;
response body "Picklist Values", .../uiapi/ui_api_responses_picklist_values.htm). This is where
Salesforce documents per-record-type picklist values (e.g. StageName by sales process) over REST;
sObject Describe lists the master values only."""

from __future__ import annotations

from typing import Any

from devstack.sf_sim.describe_json import picklist_values, record_types
from devstack.sf_sim.rest_common import NOT_FOUND, RestCall, Result
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.sim_state import SimState


def handle(state: SimState, call: RestCall) -> Result:
    parts = call.parts[1:]
    if (
        call.method != "GET"
        or len(parts) != 5
        or parts[:1] != ["object-info"]
        or parts[2] != "picklist-values"
    ):
        raise SfError(404, "NOT_FOUND", NOT_FOUND)
    org = state.org
    obj = org.sobject(parts[1])
    record_type = next((rt for rt in record_types(org, obj) if rt.record_type_id[:15] == parts[3][:15]), None)
    if record_type is None:
        raise SfError(404, "NOT_FOUND", f"Invalid record type id: {parts[3]}")
    fdef = org.field_def(obj, parts[4])
    values = [(v, label) for v, label, active in picklist_values(org.view, fdef) if active]
    if fdef.name == "StageName":
        values = [(v, label) for v, label in values if v in record_type.stages]
    return 200, _picklist_values_body(call, fdef.default, values)


def _picklist_values_body(call: RestCall, default: object, values: list[tuple[str, str]]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"attributes": None, "label": label, "validFor": [], "value": v} for v, label in values
    ]
    return {
        "controllerValues": {},
        "defaultValue": next((i for i in items if i["value"] == default), None),
        "url": f"/services/data/v{call.api_version:.1f}/{'/'.join(call.parts)}",
        "values": items,
    }
