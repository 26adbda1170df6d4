"""Salesforce record ids: 15-character case-sensitive base-62 ids plus the 3-character case-safe suffix."""

from __future__ import annotations

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def case_safe_suffix(id15: str) -> str:
    """Each 5-character chunk becomes a 5-bit number (bit i set when character i is A-Z)."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX[bits])
    return "".join(out)


def to18(record_id: str) -> str:
    return record_id if len(record_id) == 18 else record_id + case_safe_suffix(record_id)


def key(record_id: str) -> str:
    """The comparison key: the first 15 characters (inputs may use either form)."""
    return record_id[:15]


def looks_like_id(value: str) -> bool:
    if len(value) not in (15, 18) or not value.isalnum():
        return False
    return len(value) == 15 or case_safe_suffix(value[:15]) == value[15:]


def mint(prefix: str, serial: int) -> str:
    """prefix (3) + pod "5g0" + 9 base-62 digits = 15, then the suffix."""
    digits = []
    for _ in range(9):
        serial, rem = divmod(serial, 62)
        digits.append(_BASE62[rem])
    return to18(prefix + "5g0" + "".join(reversed(digits)))
