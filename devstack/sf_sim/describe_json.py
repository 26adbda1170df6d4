"""Describe results: `/sobjects` (global), `/sobjects/{type}` (basic info) and
`/sobjects/{type}/describe`, built from the org's schema view and profile — what the integration
user can see and write, picklist values (active/inactive currencies, country codes) and
`recordTypeInfos` (DescribeSObjectResult: REST API Developer Guide "sObject Describe",
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm;
field properties per SOAP API "DescribeSObjectResult",
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm).
"""

from __future__ import annotations

from typing import Any

from devstack.sf_sim.address_rules import country_picklist
from devstack.sf_sim.org import Org
from devstack.sf_sim.profiles import MASTER, RecordType
from devstack.sf_sim.schema import FieldDef, ObjectDef
from devstack.sf_sim.schema_view import SchemaView


def describe_brief(org: Org, obj: ObjectDef) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.name,
        "keyPrefix": obj.key_prefix,
        "custom": obj.name.endswith("__c"),
        "createable": obj.createable,
        "updateable": obj.createable,
        "deletable": obj.createable,
        "queryable": True,
        "urls": {"sobject": f"/services/data/v{org.api_version}/sobjects/{obj.name}"},
    }


def describe_global(org: Org) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [describe_brief(org, o) for o in org.schema.values() if org.view.object_visible(o)],
    }


def describe(org: Org, obj: ObjectDef) -> dict[str, Any]:
    children = [
        {"childSObject": rel.child, "field": rel.field, "relationshipName": rel.name, "cascadeDelete": True}
        for rel in obj.children.values()
        if org.view.object_visible(org.schema[rel.child.lower()])
    ]
    return {
        **describe_brief(org, obj),
        "fields": [field_json(org.view, obj, f) for f in org.visible_fields(obj)],
        "childRelationships": children,
        "recordTypeInfos": record_type_infos(org, obj),
    }


def record_types(org: Org, obj: ObjectDef) -> list[RecordType]:
    custom = list(org.profile.record_types) if obj.name == "Opportunity" else []
    return [*custom, MASTER]


def record_type_infos(org: Org, obj: ObjectDef) -> list[dict[str, Any]]:
    types = record_types(org, obj)
    default = org.profile.default_record() if len(types) > 1 else MASTER
    base = f"/services/data/v{org.api_version}/sobjects/{obj.name}/describe/layouts"
    return [
        {
            "active": True,
            "available": rt is not MASTER or len(types) == 1,
            "defaultRecordTypeMapping": rt is default,
            "developerName": rt.developer_name,
            "master": rt is MASTER,
            "name": rt.label,
            "recordTypeId": rt.record_type_id,
            "urls": {"layout": f"{base}/{rt.record_type_id}"},
        }
        for rt in types
    ]


def picklist_values(view: SchemaView, f: FieldDef) -> list[tuple[str, str, bool]]:
    """(value, label, active) of a picklist field in this org."""
    if f.name == "CurrencyIsoCode":
        profile = view.profile
        return [(c, c, True) for c in profile.currencies] + [
            (c, c, False) for c in profile.inactive_currencies
        ]
    if f.name.endswith("CountryCode"):
        return [(code, name, True) for code, name in country_picklist()]
    return [(v, v, True) for v in f.picklist]


def field_json(view: SchemaView, obj: ObjectDef, f: FieldDef) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.name,
        "type": f.type,
        "length": f.length,
        "nillable": not f.required and f.type != "boolean",
        "createable": view.writable(obj, f, creating=True),
        "updateable": view.writable(obj, f, creating=False),
        "externalId": f.external_id,
        "unique": f.unique,
        "custom": f.name.endswith("__c"),
        "defaultValue": f.default,
        "restrictedPicklist": f.restricted or f.name.endswith("CountryCode"),
        "picklistValues": [
            {"value": v, "label": label, "active": active, "defaultValue": v == f.default, "validFor": None}
            for v, label, active in picklist_values(view, f)
        ],
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
    }
