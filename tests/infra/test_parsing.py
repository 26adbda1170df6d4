"""Both templates parse offline: pycep for Bicep, python-hcl2 for Terraform (no compilers here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.infra import templates


def test_the_bicep_and_terraform_templates_exist():
    assert (templates.INFRA / "main.bicep") in templates.bicep_files()
    assert len(templates.terraform_files()) > 1


@pytest.mark.parametrize("path", templates.bicep_files(), ids=lambda p: str(p.relative_to(templates.INFRA)))
def test_bicep_file_parses(path: Path):
    parsed = templates.bicep(path)
    assert parsed["resources"] or parsed["globals"].get("scope"), f"{path} declares nothing"


@pytest.mark.parametrize("path", templates.terraform_files(), ids=lambda p: p.name)
def test_terraform_file_parses(path: Path):
    assert templates.terraform(path), f"{path} is empty"


def test_a_bicep_syntax_error_is_caught_by_the_parser():
    from pycep import BicepParser

    with pytest.raises(Exception, match=r"line \d+"):
        BicepParser().parse(text="resource x 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n")


def test_every_module_main_bicep_composes_is_a_local_file_that_parses():
    main = templates.bicep(templates.INFRA / "main.bicep")
    paths = [module["detail"]["path"] for module in main["modules"].values()]
    assert len(paths) >= 5
    for path in paths:
        assert (templates.INFRA / path).is_file(), f"{path}: registry modules need network; use local ones"
        assert templates.bicep(templates.INFRA / path)["resources"]


def test_the_workbook_is_valid_json_with_queries_on_app_insights():
    workbook = json.loads((templates.INFRA / "monitoring" / "workbook.json").read_text("utf-8"))
    queries = [item["content"] for item in workbook["items"] if item["type"] == 3]
    assert len(queries) >= 4
    assert {q["resourceType"] for q in queries} == {"microsoft.insights/components"}


def test_the_azd_parameters_file_names_only_main_bicep_parameters_and_all_required_ones():
    declared = templates.bicep(templates.INFRA / "main.bicep")["parameters"]
    given = json.loads((templates.INFRA / "main.parameters.json").read_text("utf-8"))["parameters"]
    assert set(given) <= set(declared), sorted(set(given) - set(declared))
    required = {name for name, param in declared.items() if param.get("default") is None}
    assert required <= set(given), sorted(required - set(given))
