"""The ✔/✖ sync mark on the opportunity name (B2): shown, never accumulated, never synced."""

from __future__ import annotations

import re
from typing import Final

from shared.config import Settings

OK_MARK: Final = "✔"
FAILED_MARK: Final = "✖"
NAME_MAX_CHARS: Final = 120
"""Salesforce's Opportunity.Name limit."""

# Also strips look-alikes people paste by hand (✓ ✗ ✅ ❌ ✘), with an optional emoji variation selector.
_MARK = r"[✔✖✓✗✅❌✘]\ufe0f?"
_LEADING = re.compile(rf"^(?:\s*{_MARK})+\s*")
_TRAILING = re.compile(rf"(?:\s*{_MARK})+\s*$")


def strip_mark(name: str) -> str:
    """The name without any leading or trailing sync marks (text without marks is returned as is)."""
    return _TRAILING.sub("", _LEADING.sub("", name))


def with_mark(name: str, ok: bool, settings: Settings) -> str:
    """The name to store in Salesforce: "✔ name" / "✖ name" when the setting is on, else the bare name.

    Existing marks are replaced, never added to; a name too long for Salesforce with its mark is cut.
    """
    if not settings.check_mark_in_name:
        return _bare(name, NAME_MAX_CHARS)
    prefix = f"{OK_MARK if ok else FAILED_MARK} "
    return prefix + _bare(name, NAME_MAX_CHARS - len(prefix))


def _bare(name: str, limit: int) -> str:
    # Cutting can leave a mark or blank at the end; strip again so marking twice changes nothing.
    return strip_mark(strip_mark(name).strip()[:limit]).strip()
