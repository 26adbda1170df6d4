"""The opportunity's Audit field: newest line first, each `<UTC time> ✔|✖ <text>`, cut to fit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def audit_line(ok: bool, text: str, at: datetime | None = None) -> str:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} {'✔' if ok else '✖'} {text}"


def line_body(line: str) -> str:
    """An audit line without its timestamp (to tell a repeated failure from a new one)."""
    parts = line.split(" ", 2)
    return parts[2] if len(parts) == 3 else line


def audit_text(lines: Sequence[str], limit: int) -> str:
    """As many whole lines, newest first, as fit in `limit` characters."""
    out: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
