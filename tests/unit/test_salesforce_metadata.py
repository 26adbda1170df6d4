"""The shipped SFDX metadata holds every Salesforce name the code uses, with the expected type."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from shared.core import salesforce_fields as f
from tests.unit.salesforce_metadata_grants import INTEGRATION, SELLER, file_grants, readme_grants

ROOT = Path(__file__).resolve().parents[2] / "salesforce-metadata"
DEFAULT = ROOT / "force-app" / "main" / "default"
NS = "{http://soap.sforce.com/2006/04/metadata}"


def parse(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()  # noqa: S314 - our own files
    assert root.tag.startswith(NS), f"{path.name} lacks the metadata namespace"
    return root


def text(el: ET.Element, tag: str) -> str | None:
    found = el.find(NS + tag)
    return found.text if found is not None else None


def field_file(sobject: str, name: str) -> ET.Element:
    path = DEFAULT / "objects" / sobject / "fields" / f"{name}.field-meta.xml"
    assert path.exists(), f"missing {path.relative_to(ROOT)}"
    root = parse(path)
    assert text(root, "fullName") == name
    return root


@pytest.mark.parametrize(
    ("sobject", "name", "kind", "extra"),
    [
        (f.OPPORTUNITY, f.SYNC, "Checkbox", {"defaultValue": "false"}),
        (f.OPPORTUNITY, f.REFERRAL_ID, "Text", {"externalId": "true", "unique": "true", "length": "100"}),
        (f.OPPORTUNITY, f.REFERRAL_LINK, "Url", {}),
        (f.OPPORTUNITY, f.HELP, "MultiselectPicklist", {}),
        (f.OPPORTUNITY, f.VISIBILITY, "Picklist", {}),
        (f.OPPORTUNITY, f.MSFT_CRM_ID, "Text", {"externalId": "true", "unique": "false", "length": "255"}),
        (f.OPPORTUNITY, f.AUDIT, "LongTextArea", {"length": "131072"}),
        (f.OPPORTUNITY, f.REFERRAL_STATUS, "Text", {"length": "40"}),
        (f.SOLUTION, f.SOLUTION_OPPORTUNITY, "MasterDetail", {"referenceTo": "Opportunity"}),
        (f.SOLUTION, f.SOLUTION_ID, "Text", {"length": "100"}),
        (f.SOLUTION, f.SOLUTION_NAME, "Text", {"length": "255"}),
        (f.SOLUTION, f.SOLUTION_PUBLISHER, "Text", {"length": "255"}),
        (f.SOLUTION, f.SOLUTION_TYPE, "Text", {"length": "20"}),
    ],
)
def test_every_field_the_code_uses_exists_with_its_type(sobject, name, kind, extra):
    root = field_file(sobject, name)
    assert text(root, "type") == kind
    for tag, value in extra.items():
        assert text(root, tag) == value, f"{name}.{tag}"
    assert text(root, "label")


def test_restricted_picklists_hold_the_values_the_code_writes():
    visibility = field_file(f.OPPORTUNITY, f.VISIBILITY)
    assert {text(x, "fullName") for x in visibility.iter(NS + "value")} == {f.VISIBLE, f.HIDDEN}
    help_values = {text(x, "fullName") for x in field_file(f.OPPORTUNITY, f.HELP).iter(NS + "value")}
    assert "ProofOfConceptOrDemo" in help_values and "Unknown" not in help_values
    for root in (visibility, field_file(f.OPPORTUNITY, f.HELP)):
        value_set = root.find(NS + "valueSet")
        assert value_set is not None and text(value_set, "restricted") == "true"


def test_the_solution_relationship_name_matches_the_child_subquery():
    relationship = text(field_file(f.SOLUTION, f.SOLUTION_OPPORTUNITY), "relationshipName")
    assert f"{relationship}__r" == f.SOLUTIONS_RELATIONSHIP
    obj = parse(DEFAULT / "objects" / f.SOLUTION / f"{f.SOLUTION}.object-meta.xml")
    assert text(obj, "sharingModel") == "ControlledByParent" and text(obj, "deploymentStatus") == "Deployed"


def test_the_permission_set_grants_every_field_and_the_object():
    root = parse(DEFAULT / "permissionsets" / "Partner_Center_Sync.permissionset-meta.xml")
    granted = {
        text(p, "field"): (text(p, "readable"), text(p, "editable"))
        for p in root.iter(NS + "fieldPermissions")
    }
    expected = {
        f"{f.OPPORTUNITY}.{n}"
        for n in (
            f.SYNC,
            f.REFERRAL_ID,
            f.REFERRAL_LINK,
            f.HELP,
            f.VISIBILITY,
            f.MSFT_CRM_ID,
            f.AUDIT,
            f.REFERRAL_STATUS,
        )
    }
    expected |= {
        f"{f.SOLUTION}.{n}" for n in (f.SOLUTION_ID, f.SOLUTION_NAME, f.SOLUTION_PUBLISHER, f.SOLUTION_TYPE)
    }
    assert set(granted) == expected  # master-detail fields may not appear in a permission set
    assert all(v == ("true", "true") for v in granted.values())
    objects = {text(o, "object"): o for o in root.iter(NS + "objectPermissions")}
    assert all(
        text(objects[f.SOLUTION], t) == "true"
        for t in ("allowCreate", "allowRead", "allowEdit", "allowDelete")
    )


def test_project_file_and_manifest_cover_the_source():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert project["sourceApiVersion"] == "59.0"
    manifest = parse(ROOT / "manifest" / "package.xml")
    members = {text(t, "name"): {m.text for m in t.iter(NS + "members")} for t in manifest.iter(NS + "types")}
    on_disk = {
        f"{p.parent.parent.name}.{p.name.split('.')[0]}"
        for p in DEFAULT.glob("objects/*/fields/*.field-meta.xml")
    }
    assert members["CustomField"] == on_disk
    assert members["CustomObject"] == {f.SOLUTION}
    assert members["PermissionSet"] == {p.name.split(".")[0] for p in DEFAULT.glob("permissionsets/*")}
    assert members["PermissionSet"] == {INTEGRATION, SELLER}
    assert members["Layout"] == {p.name.split(".")[0] for p in DEFAULT.glob("layouts/*.layout-meta.xml")}
    assert members["Layout"] == {LAYOUT}


# ------------------------------------------------------------------ seller-facing metadata (issue #17)
LAYOUT = "Opportunity-Microsoft Partner Center Layout"
SECTION = "Microsoft Partner Center"
SYNC_OWNED = (f.REFERRAL_ID, f.REFERRAL_LINK, f.MSFT_CRM_ID, f.AUDIT, f.REFERRAL_STATUS)
SELLER_EDITS = (f.SYNC, f.HELP, f.VISIBILITY)
SOLUTION_FIELDS = (f.SOLUTION_ID, f.SOLUTION_NAME, f.SOLUTION_PUBLISHER, f.SOLUTION_TYPE)
STANDARD_OPPORTUNITY_FIELDS = {
    "OwnerId", "Name", "AccountId", "Type", "LeadSource", "CloseDate", "StageName", "Probability", "Amount",
    "NextStep", "Description",
}  # fmt: skip


def permission_set(name: str) -> Path:
    return DEFAULT / "permissionsets" / f"{name}.permissionset-meta.xml"


@pytest.mark.parametrize("name", [SELLER, INTEGRATION])
def test_each_permission_set_grants_exactly_what_the_readme_says(name):
    assert file_grants(permission_set(name)) == readme_grants()[name]


def test_sellers_edit_what_they_decide_and_only_read_what_the_sync_writes():
    seller = readme_grants()[SELLER]
    assert {seller[f"{f.OPPORTUNITY}.{n}"] for n in SELLER_EDITS} == {"edit"}
    assert {seller[f"{f.OPPORTUNITY}.{n}"] for n in SYNC_OWNED} == {"read"}
    assert {seller[f"{f.SOLUTION}.{n}"] for n in SOLUTION_FIELDS} == {"edit"}
    assert seller[f.SOLUTION] == "read, create, edit, delete"
    integration = readme_grants()[INTEGRATION]
    assert set(integration.values()) == {"edit", "read, create, edit, delete"}


@pytest.mark.parametrize("name", [SELLER, INTEGRATION])
def test_permission_set_elements_follow_the_metadata_api_order(name):
    """Retrieved PermissionSet files list their elements in the WSDL's (alphabetical) order."""
    tags = [child.tag.removeprefix(NS) for child in parse(permission_set(name))]
    assert tags == sorted(tags)
    assert text(parse(permission_set(name)), "label")


def layout() -> ET.Element:
    return parse(DEFAULT / "layouts" / f"{LAYOUT}.layout-meta.xml")


def layout_items(section_label: str | None = None) -> dict[str, str]:
    items: dict[str, str] = {}
    for section in layout().iter(NS + "layoutSections"):
        if section_label is None or text(section, "label") == section_label:
            for item in section.iter(NS + "layoutItems"):
                items[str(text(item, "field"))] = str(text(item, "behavior"))
    return items


def test_the_layout_has_a_microsoft_partner_center_section_with_the_sync_owned_fields_read_only():
    section = layout_items(SECTION)
    every = layout_items()
    for name in SELLER_EDITS:
        assert section[name] == "Edit", name
    for name in SYNC_OWNED:
        assert every[name] == "Readonly", name
    assert {n for n in SYNC_OWNED if n != f.AUDIT} <= set(section)
    on_disk = {p.name.split(".")[0] for p in DEFAULT.glob("objects/Opportunity/fields/*.field-meta.xml")}
    assert set(every) <= on_disk | STANDARD_OPPORTUNITY_FIELDS, "the layout names a field that does not exist"
    assert on_disk <= set(every), "every custom Opportunity field is on the layout"


def test_the_layout_carries_the_solutions_related_list():
    lists = {
        text(r, "relatedList"): [x.text for x in r.iter(NS + "fields")]
        for r in layout().iter(NS + "relatedLists")
    }
    columns = lists[f"{f.SOLUTION}.{f.SOLUTION_OPPORTUNITY}"]
    assert columns[0] == "NAME" and set(columns[1:]) <= set(SOLUTION_FIELDS)
