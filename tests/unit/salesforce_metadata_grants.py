"""What salesforce-metadata/README.md says each permission set grants, and what a permission set file
grants, in one comparable form: {"Opportunity.Referral_Id__c": "read", "Partner_Center_Solution__c":
"read, create, edit, delete", ...}."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
METADATA = REPO / "salesforce-metadata"
README = METADATA / "README.md"
NS = "{http://soap.sforce.com/2006/04/metadata}"
SELLER = "Partner_Center_Seller"
INTEGRATION = "Partner_Center_Sync"
OBJECT_RIGHTS = (
    ("allowRead", "read"),
    ("allowCreate", "create"),
    ("allowEdit", "edit"),
    ("allowDelete", "delete"),
)


def readme_grants() -> dict[str, dict[str, str]]:
    """The table under "What each permission set grants": permission set -> {field or object: grant}."""
    section = README.read_text(encoding="utf-8").split("## What each permission set grants", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    sets = [re.search(r"`(\w+)`", h).group(1) for h in header[1:]]  # type: ignore[union-attr]
    grants: dict[str, dict[str, str]] = {s: {} for s in sets}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = re.search(r"`([\w.]+)`", cells[0]).group(1)  # type: ignore[union-attr]
        for permission_set, cell in zip(sets, cells[1:], strict=True):
            if cell and cell != "—":
                grants[permission_set][name] = cell
    return grants


def _text(el: ET.Element, tag: str) -> str | None:
    found = el.find(NS + tag)
    return found.text if found is not None else None


def file_grants(path: Path) -> dict[str, str]:
    """What one PermissionSet file (source or Metadata API format) grants, in the README's words."""
    root = ET.parse(path).getroot()  # noqa: S314 - our own files
    grants: dict[str, str] = {}
    for p in root.iter(NS + "fieldPermissions"):
        readable, editable = _text(p, "readable") == "true", _text(p, "editable") == "true"
        assert readable or not editable, f"{path.name}: {_text(p, 'field')} editable but not readable"
        if readable:
            grants[str(_text(p, "field"))] = "edit" if editable else "read"
    for o in root.iter(NS + "objectPermissions"):
        rights = [word for tag, word in OBJECT_RIGHTS if _text(o, tag) == "true"]
        for tag in ("viewAllRecords", "modifyAllRecords"):
            if _text(o, tag) == "true":
                rights.append(tag)
        if rights:
            grants[str(_text(o, "object"))] = ", ".join(rights)
    return grants
