"""salesforce-metadata/ converts offline to Metadata API format with Salesforce's own source tools
(`@salesforce/source-deploy-retrieve`, the library `sf project convert source` runs), every component
resolves, the generated package.xml equals manifest/package.xml, and the converted permission sets still
grant exactly what the README says. No org is involved: what a real deploy validates beyond this (field
references in the layout, the related list name) stays for the sandbox's `--dry-run` deploy."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.unit.salesforce_metadata_grants import METADATA, NS, REPO, file_grants, readme_grants

SDR = REPO / ".tools" / "sdr" / "node_modules" / "@salesforce" / "source-deploy-retrieve"
SCRIPT = METADATA / "scripts" / "convert-offline.cjs"


def _types(package_xml: str) -> dict[str, set[str]]:
    root = ET.fromstring(package_xml)  # noqa: S314 - generated from our own files
    return {
        str(t.findtext(NS + "name")): {str(m.text) for m in t.iter(NS + "members")}
        for t in root.iter(NS + "types")
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (SDR / "package.json").is_file():
        pytest.fail(
            f"{SDR.relative_to(REPO)} (or node) is missing. Install it with `make setup` (npm install "
            "@salesforce/source-deploy-retrieve@12.37.0 under .tools/sdr, see the Makefile)",
            pytrace=False,
        )
    out = tmp_path_factory.mktemp("mdapi")
    completed = subprocess.run(  # noqa: S603 - fixed argv, our own script
        [node, str(SCRIPT), str(SDR), str(METADATA), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_every_source_file_resolves_to_a_component(converted):
    resolved = {(c["type"], c["fullName"]) for c in converted["components"]}
    default = METADATA / "force-app" / "main" / "default"
    expected = {("CustomField", f"{p.parent.parent.name}.{p.name.split('.')[0]}")
                for p in default.glob("objects/Opportunity/fields/*.field-meta.xml")}  # fmt: skip
    expected |= {("CustomObject", p.parent.name) for p in default.glob("objects/*/*.object-meta.xml")}
    expected |= {("PermissionSet", p.name.split(".")[0]) for p in default.glob("permissionsets/*")}
    expected |= {("Layout", p.name.split(".")[0]) for p in default.glob("layouts/*")}
    assert resolved == expected


def test_the_generated_package_xml_matches_the_manifest(converted):
    manifest = (METADATA / "manifest" / "package.xml").read_text(encoding="utf-8")
    assert _types(converted["packageXml"]) == _types(manifest)


def test_the_metadata_api_files_are_written(converted):
    assert set(converted["files"]) == {
        "package.xml",
        "objects/Opportunity.object",
        "objects/Partner_Center_Solution__c.object",
        "layouts/Opportunity-Microsoft Partner Center Layout.layout",
        "permissionsets/Partner_Center_Seller.permissionset",
        "permissionsets/Partner_Center_Sync.permissionset",
    }
    opportunity = ET.parse(Path(converted["packagePath"]) / "objects" / "Opportunity.object").getroot()  # noqa: S314
    fields = {f.findtext(NS + "fullName") for f in opportunity.iter(NS + "fields")}
    assert "Referral_Id__c" in fields and "Sync_With_Partner_Center__c" in fields


def test_the_converted_permission_sets_grant_exactly_what_the_readme_says(converted):
    folder = Path(converted["packagePath"]) / "permissionsets"
    for name, grants in readme_grants().items():
        assert file_grants(folder / f"{name}.permissionset") == grants, name
