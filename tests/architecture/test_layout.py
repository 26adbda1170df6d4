"""The shape of the code, checked: the core imports no I/O library (in a fresh interpreter, so
nothing else imported it first), functions stay short, and module names say what they hold without
two of them sharing a name. The import layers themselves are `lint-imports`' job (make test)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_LIBRARIES = {"httpx", "requests", "simple_salesforce", "azure", "opentelemetry", "urllib3"}


def _functions_over(folder: str, limit: int) -> list[str]:
    long = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return long


def test_the_core_imports_no_io_library() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import shared.core\n"
        "for m in pkgutil.iter_modules(shared.core.__path__):\n"
        "    importlib.import_module('shared.core.' + m.name)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(out.stdout))
    assert "shared" in loaded
    assert not loaded & IO_LIBRARIES


def test_no_function_in_the_app_is_over_60_lines() -> None:
    assert _functions_over("shared", 60) == []


def test_no_function_in_the_local_stack_is_over_80_lines() -> None:
    assert _functions_over("devstack", 80) == []


def test_no_two_app_modules_share_a_name() -> None:
    names = Counter(
        p.name for p in (ROOT / "shared").rglob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    assert [name for name, count in names.items() if count > 1] == []
