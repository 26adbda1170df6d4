"""A parser for the SOQL subset our code (and tests) send: field lists with parent paths, child
subqueries, COUNT(), WHERE with AND/OR/NOT/parentheses, comparison operators, IN, LIKE, INCLUDES/
EXCLUDES, null, booleans, date/datetime literals, ORDER BY, LIMIT and OFFSET."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta


class SoqlError(ValueError):
    """Malformed SOQL; the server answers 400 MALFORMED_QUERY with this message."""


@dataclass(frozen=True)
class DateLiteral:
    """A relative date literal such as TODAY or LAST_N_DAYS:7, resolved at evaluation time."""

    name: str
    n: int | None = None

    def bounds(self, today: date) -> tuple[date, date]:
        """[start, end) in days."""
        n = self.n or 0
        match self.name:
            case "TODAY":
                return today, today + timedelta(days=1)
            case "YESTERDAY":
                return today - timedelta(days=1), today
            case "TOMORROW":
                return today + timedelta(days=1), today + timedelta(days=2)
            case "LAST_N_DAYS":
                return today - timedelta(days=n), today + timedelta(days=1)
            case "NEXT_N_DAYS":
                return today, today + timedelta(days=n + 1)
        raise SoqlError(f"unsupported date literal {self.name}")


Literal = str | int | float | bool | None | date | datetime | DateLiteral


@dataclass(frozen=True)
class FieldRef:
    path: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Compare:
    field: FieldRef
    op: str  # = != < <= > >= LIKE
    value: Literal


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Literal, ...]
    negate: bool = False
    op: str = "IN"  # IN | INCLUDES | EXCLUDES


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Compare | InList | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool | None = None


@dataclass
class Query:
    fields: list[FieldRef] = field(default_factory=list)
    subqueries: list[Query] = field(default_factory=list)
    count: bool = False
    sobject: str = ""
    where: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
      | (?P<date>\d{4}-\d{2}-\d{2})(?![\d:T])
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "INCLUDES",
    "EXCLUDES",
    "TRUE",
    "FALSE",
    "NULL",
}
_DATE_LITERALS = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            snippet = text[pos : pos + 20].strip()
            raise SoqlError(f"unexpected token: '{snippet}'")
        kind = m.lastgroup or ""
        tokens.append(Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "%_":
                out.append("\\" + nxt)  # keeps LIKE escapes distinguishable from wildcards
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                raise SoqlError(f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}'")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    """SOQL/REST datetimes: `Z`, `±hh:mm` or `±hhmm` offsets, optional milliseconds."""
    norm = text.replace("Z", "+00:00")
    m = re.match(r"(.*[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2}):?(\d{2})$", norm)
    if m:
        norm = f"{m.group(1)}{m.group(2)}:{m.group(3)}"
    try:
        value = datetime.fromisoformat(norm)
    except ValueError:
        raise SoqlError(f"invalid datetime: {text}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def at_keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.upper() in words

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise SoqlError("unexpected end of query")
        self.i += 1
        return tok

    def expect_keyword(self, word: str) -> None:
        tok = self.next()
        if tok.kind != "word" or tok.text.upper() != word:
            raise SoqlError(f"unexpected token: '{tok.text}' (expecting '{word}')")

    def expect_punct(self, char: str) -> None:
        tok = self.next()
        if tok.text != char:
            raise SoqlError(f"unexpected token: '{tok.text}' (expecting '{char}')")

    def field_ref(self) -> FieldRef:
        tok = self.next()
        if tok.kind != "word" or tok.text.upper() in _KEYWORDS:
            raise SoqlError(f"unexpected token: '{tok.text}'")
        return FieldRef(tuple(tok.text.split(".")))

    def query(self, nested: bool = False) -> Query:
        q = Query()
        self.expect_keyword("SELECT")
        while True:
            if self.peek() and self.peek().text == "(":  # type: ignore[union-attr]
                self.next()
                q.subqueries.append(self.query(nested=True))
                self.expect_punct(")")
            elif self.at_keyword("COUNT") and self.peek(1) and self.peek(1).text == "(":  # type: ignore[union-attr]
                self.next()
                self.next()
                if self.peek() and self.peek().text != ")":  # type: ignore[union-attr]
                    self.field_ref()
                self.expect_punct(")")
                q.count = True
            else:
                q.fields.append(self.field_ref())
            if self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                continue
            break
        self.expect_keyword("FROM")
        q.sobject = self.field_ref().text
        if self.at_keyword("WHERE"):
            self.next()
            q.where = self.condition()
        if self.at_keyword("ORDER"):
            self.next()
            self.expect_keyword("BY")
            q.order = self.order_items()
        if self.at_keyword("LIMIT"):
            self.next()
            q.limit = self.integer()
        if self.at_keyword("OFFSET"):
            self.next()
            q.offset = self.integer()
        if not nested and self.peek() is not None:
            raise SoqlError(f"unexpected token: '{self.peek().text}'")  # type: ignore[union-attr]
        return q

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "number" or not tok.text.isdigit():
            raise SoqlError(f"unexpected token: '{tok.text}' (expecting a number)")
        return int(tok.text)

    def order_items(self) -> list[OrderItem]:
        items = []
        while True:
            ref = self.field_ref()
            descending = False
            nulls_last: bool | None = None
            if self.at_keyword("ASC", "DESC"):
                descending = self.next().text.upper() == "DESC"
            if self.at_keyword("NULLS"):
                self.next()
                if not self.at_keyword("FIRST", "LAST"):
                    raise SoqlError("expecting FIRST or LAST after NULLS")
                nulls_last = self.next().text.upper() == "LAST"
            items.append(OrderItem(ref, descending, nulls_last))
            if self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                continue
            return items

    def condition(self) -> Condition:
        parts = [self.conjunction()]
        while self.at_keyword("OR"):
            self.next()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("OR", tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.unary()]
        while self.at_keyword("AND"):
            self.next()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else BoolOp("AND", tuple(parts))

    def unary(self) -> Condition:
        if self.at_keyword("NOT"):
            self.next()
            return Not(self.unary())
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.next()
            cond = self.condition()
            self.expect_punct(")")
            return cond
        return self.predicate()

    def predicate(self) -> Condition:
        ref = self.field_ref()
        if self.at_keyword("NOT"):
            self.next()
            self.expect_keyword("IN")
            return InList(ref, self.literal_list(), negate=True)
        if self.at_keyword("IN", "INCLUDES", "EXCLUDES"):
            op = self.next().text.upper()
            return InList(ref, self.literal_list(), op=op)
        if self.at_keyword("LIKE"):
            self.next()
            value = self.literal()
            if not isinstance(value, str):
                raise SoqlError("LIKE needs a string literal")
            return Compare(ref, "LIKE", value)
        tok = self.next()
        if tok.kind != "op":
            raise SoqlError(f"unexpected token: '{tok.text}'")
        op = "!=" if tok.text == "<>" else tok.text
        return Compare(ref, op, self.literal())

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.at_keyword("SELECT"):
            raise SoqlError("semi-join subqueries are not supported by the simulator")
        values = [self.literal()]
        while self.peek() and self.peek().text == ",":  # type: ignore[union-attr]
            self.next()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        tok = self.next()
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "number":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "datetime":
            return parse_datetime(tok.text)
        if tok.kind == "date":
            return date.fromisoformat(tok.text)
        if tok.kind == "word":
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                return word == "TRUE"
            if word == "NULL":
                return None
            name, _, n = word.partition(":")
            if name in _DATE_LITERALS:
                if name.endswith("_N_DAYS") and not n:
                    raise SoqlError(f"date literal {name} needs :n")
                return DateLiteral(name, int(n) if n else None)
        raise SoqlError(f"unexpected token: '{tok.text}'")


def parse(text: str) -> Query:
    """Parse one SOQL statement (raises SoqlError with a Salesforce-like message)."""
    if not text.strip():
        raise SoqlError("empty query")
    return _Parser(text).query()


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE: `%` any run, `_` one character, backslash escapes either; case-insensitive."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)
