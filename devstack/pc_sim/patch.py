"""JSON Patch (RFC 6902) `add` and `replace`, the two operations the Referrals API accepts."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """An operation the API would refuse."""


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"path {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply_patch(document: dict[str, Any], operations: list[Any]) -> dict[str, Any]:
    """A patched copy of `document`. Missing intermediate objects are created, as the service is
    lenient about `replace` on a property that was null."""
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "path" not in operation or "value" not in operation:
            raise PatchError("each operation needs op, path and value")
        op = operation.get("op")
        if op not in ("add", "replace"):
            raise PatchError(f"operation {op!r} is not supported (only add and replace)")
        parts = _pointer(str(operation["path"]))
        target: Any = result
        for part in parts[:-1]:
            if isinstance(target, list):
                target = _list_item(target, part)
            elif isinstance(target, dict):
                if not isinstance(target.get(part), dict | list):
                    target[part] = {}
                target = target[part]
            else:
                raise PatchError(f"cannot descend into {part!r}")
        _set(target, parts[-1], copy.deepcopy(operation["value"]), op)
    return result


def _list_item(items: list[Any], part: str) -> Any:
    try:
        return items[int(part)]
    except (ValueError, IndexError):
        raise PatchError(f"no list item {part!r}") from None


def _set(target: Any, key: str, value: Any, op: str) -> None:
    if isinstance(target, dict):
        target[key] = value
        return
    if not isinstance(target, list):
        raise PatchError(f"cannot set {key!r} on a value")
    if key == "-" and op == "add":
        target.append(value)
        return
    try:
        index = int(key)
    except ValueError:
        raise PatchError(f"list index {key!r} is not a number") from None
    if op == "add" and 0 <= index <= len(target):
        target.insert(index, value)
    elif op == "replace" and 0 <= index < len(target):
        target[index] = value
    else:
        raise PatchError(f"list index {index} out of range")
