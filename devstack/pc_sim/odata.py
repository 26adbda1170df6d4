"""The OData subset the Referrals API is queried with: `$filter` comparisons joined by and/or/not
with parentheses, over nested paths (`customerProfile/address/country`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[^\s()']+))")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")


class FilterError(ValueError):
    """The `$filter` expression is not in the supported subset."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise FilterError(f"unexpected character at {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    # Unquoted values occur in practice: GUIDs (engagementId eq 1352e03d-...) and datetimes.
    if re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z:.+\-]*", text):
        return text
    raise FilterError(f"not a value: {text!r}")


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def compare(op: str, actual: Any, expected: Any) -> bool:
    """OData comparison of a resource value with a literal; unlike types never match ordering."""
    fn = _COMPARISONS[op]
    if actual is None or expected is None:
        return op in ("eq", "ne") and fn(actual, expected)
    left_dt, right_dt = _as_datetime(actual), _as_datetime(expected)
    if left_dt and right_dt:
        return fn(left_dt, right_dt)
    if isinstance(expected, float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        return fn(float(actual), expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return op in ("eq", "ne") and fn(actual, expected)
    return fn(str(actual), str(expected))


def value_at(resource: dict[str, Any], path: str) -> Any:
    current: Any = resource
    for part in path.split("/"):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.paths: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("expression ends too early")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.position += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def or_expr(self) -> Predicate:
        terms = [self.and_expr()]
        while self.keyword("or"):
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else (lambda r: any(t(r) for t in terms))

    def and_expr(self) -> Predicate:
        terms = [self.not_expr()]
        while self.keyword("and"):
            terms.append(self.not_expr())
        return terms[0] if len(terms) == 1 else (lambda r: all(t(r) for t in terms))

    def not_expr(self) -> Predicate:
        if self.keyword("not"):
            inner = self.not_expr()
            return lambda r: not inner(r)
        return self.primary()

    def primary(self) -> Predicate:
        kind, text = self.take()
        if kind == "paren" and text == "(":
            inner = self.or_expr()
            if self.take() != ("paren", ")"):
                raise FilterError("missing ')'")
            return inner
        if kind != "word" or not _PATH.match(text):
            raise FilterError(f"expected a property path, got {text!r}")
        path = text
        op_kind, op = self.take()
        op = op.lower()
        if op_kind != "word" or op not in _COMPARISONS:
            raise FilterError(f"unsupported operator {op!r}")
        value_kind, value_text = self.take()
        if value_kind == "paren":
            raise FilterError(f"expected a value after {op}")
        expected = _literal(value_kind, value_text)
        self.paths.add(path)
        return lambda r: compare(op, value_at(r, path), expected)


def parse_filter(text: str) -> tuple[Predicate, set[str]]:
    """A predicate over referral dicts and the property paths the filter mentions."""
    if not text.strip():
        raise FilterError("empty $filter")
    parser = _Parser(text)
    return parser.parse(), parser.paths
