"""Describe results: `/sobjects` (global), `/sobjects/{type}` (basic info) and
`/sobjects/{type}/describe`, built from the org's schema view."""

from __future__ import annotations

from typing import Any

from devstack.sf_sim.org import Org
from devstack.sf_sim.schema import FieldDef, ObjectDef


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
        "sobjects": [describe_brief(org, o) for o in org.schema.values()],
    }


def describe(org: Org, obj: ObjectDef) -> dict[str, Any]:
    children = [
        {"childSObject": rel.child, "field": rel.field, "relationshipName": rel.name, "cascadeDelete": True}
        for rel in obj.children.values()
    ]
    return {
        **describe_brief(org, obj),
        "fields": [field_json(f) for f in org.visible_fields(obj)],
        "childRelationships": children,
    }


def field_json(f: FieldDef) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.name,
        "type": f.type,
        "length": f.length,
        "nillable": not f.required and f.type != "boolean",
        "createable": f.createable,
        "updateable": f.updateable,
        "externalId": f.external_id,
        "unique": f.unique,
        "custom": f.name.endswith("__c"),
        "defaultValue": f.default,
        "restrictedPicklist": f.restricted,
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": v == f.default} for v in f.picklist
        ],
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
    }
