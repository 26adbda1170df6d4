"""Read the infra templates the way the tests need them: parsed, offline, no compilers."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, cast

from hcl2.api import load as load_hcl
from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
TERRAFORM = INFRA / "terraform"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def terraform_files() -> list[Path]:
    return sorted(TERRAFORM.glob("*.tf"))


@cache
def bicep(path: Path) -> dict[str, Any]:
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


@cache
def terraform(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return cast(dict[str, Any], _plain(load_hcl(handle)))


def _plain(value: Any) -> Any:
    """python-hcl2 8.x keeps the quotes of string literals and marks blocks with `__is_block__`;
    the tests compare plain values, whichever hcl2 flavour is installed."""
    if isinstance(value, dict):
        return {
            _plain(key): _plain(item)
            for key, item in value.items()
            if key not in ("__is_block__", "__comments__", "__inline_comments__")
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _unwrap(value: Any) -> Any:
    """python-hcl2 wraps some attribute values in one-element lists."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def bicep_resources(type_: str) -> list[dict[str, Any]]:
    """Every resource of one type declared (not `existing`) in the Bicep files, as pycep config
    dicts; loops and conditions are unwrapped to the body."""
    found = []
    for path in bicep_files():
        for resource in bicep(path)["resources"].values():
            if resource["type"] == type_ and not resource["existing"]:
                config = resource["config"]
                while "config" in config and ("loop_type" in config or "condition" in config):
                    config = config["config"]
                found.append(config)
    return found


def bicep_app_settings() -> dict[str, Any]:
    """The object given to the function app's `appsettings` config: union(<vars>..., <overrides>)."""
    module = bicep(INFRA / "modules" / "app.bicep")
    [config] = [
        r["config"] for r in module["resources"].values() if r["type"] == "Microsoft.Web/sites/config"
    ]
    assert config["name"] == "appsettings"
    union = config["properties"]["function"]
    assert union["type"] == "union"
    settings: dict[str, Any] = {}
    for arg in union["parameters"].values():
        if arg in module["variables"]:
            settings.update(module["variables"][arg]["value"])
        else:  # the operator's overrides: an object parameter, empty by default
            assert module["parameters"][arg]["type"] == "object", arg
    return settings


def terraform_blocks(kind: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for path in terraform_files():
        blocks.extend(terraform(path).get(kind, []))
    return blocks


def terraform_resources(type_: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in terraform_blocks("resource"):
        for name, body in block.get(type_, {}).items():
            found[name] = body
    return found


def terraform_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in terraform_blocks("locals"):
        merged.update({key: _unwrap(value) for key, value in block.items()})
    return merged


def terraform_app() -> dict[str, Any]:
    """The function app: an azapi_resource of Microsoft.Web/sites (see infra/terraform/app.tf)."""
    [app] = [
        body
        for body in terraform_resources("azapi_resource").values()
        if str(_unwrap(body["type"])).startswith("Microsoft.Web/sites@")
    ]
    return app


def terraform_app_settings() -> dict[str, Any]:
    """The app settings the function app's body lists: `[for name, value in merge(local.x, var.y) :
    {...}]`, resolved to the locals it merges (the variable holds the operator's overrides)."""
    expression = str(_unwrap(terraform_app()["body"])["properties"]["siteConfig"]["appSettings"])
    local_names = re.findall(r"local\.(\w+)", expression)
    assert local_names, expression
    values = terraform_locals()
    settings: dict[str, Any] = {}
    for name in local_names:
        settings.update(values[name])
    return settings


def terraform_attribute(body: dict[str, Any], name: str) -> Any:
    return _unwrap(body[name])


def sample_settings() -> dict[str, str]:
    values: dict[str, str] = json.loads((REPO / "local.settings.sample.json").read_text("utf-8"))["Values"]
    return values
