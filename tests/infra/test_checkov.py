"""checkov over infra/ (Bicep and Terraform): no failed check, no parse error, and every
suppression carries a reason and is listed in infra/README.md."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from tests.infra.templates import INFRA, REPO

CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
FRAMEWORKS = ("bicep", "terraform")


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    if not CHECKOV.is_file():
        pytest.fail(
            f"{CHECKOV.relative_to(REPO)} is missing. Install it with: python3.11 -m venv .tools/checkov && "
            ".tools/checkov/bin/pip install checkov==3.3.30 (the Makefile does this)",
            pytrace=False,
        )
    completed = subprocess.run(  # noqa: S603 - fixed argv, our own tool
        [
            str(CHECKOV),
            "--directory",
            str(INFRA),
            "--framework",
            *FRAMEWORKS,
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        parsed = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {completed.returncode}):\n{completed.stderr[-2000:]}")
    runs = parsed if isinstance(parsed, list) else [parsed]
    return {run["check_type"]: run for run in runs}


def test_checkov_scanned_both_frameworks(reports):
    assert set(reports) == set(FRAMEWORKS), f"checkov ran {sorted(reports)}; a framework found no files?"
    for framework, report in reports.items():
        assert report["summary"]["resource_count"] > 10, framework


def test_checkov_reports_no_parsing_errors(reports):
    # checkov exits 0 on parse errors and only counts them, so they are checked here.
    errors = {fw: r["results"].get("parsing_errors", []) for fw, r in reports.items()}
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports.values()), errors


def test_checkov_reports_no_failed_checks(reports):
    failed = [
        f"{fw}: {c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for fw, r in reports.items()
        for c in r["results"]["failed_checks"]
    ]
    assert not failed, (
        "fix these, or suppress inline with a reason and list them in infra/README.md:\n" + "\n".join(failed)
    )


def test_every_suppression_has_a_reason_and_is_listed_in_the_readme(reports):
    readme = (INFRA / "README.md").read_text("utf-8")
    documented = set(re.findall(r"\|\s*`?(CKV2?_[A-Z]+_\d+)`?\s*\|", readme))
    skipped = [c for r in reports.values() for c in r["results"]["skipped_checks"]]
    assert skipped, "expected the documented suppressions to show up as skipped checks"
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
        assert reason and reason != "No comment provided", f"{check['check_id']} on {check['resource']}"
        assert check["check_id"] in documented, (
            f"{check['check_id']} is suppressed but not in infra/README.md"
        )
    assert documented == {c["check_id"] for c in skipped}, (
        "README lists suppressions the templates no longer make"
    )
