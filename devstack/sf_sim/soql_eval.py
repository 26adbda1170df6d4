"""`SoqlEvaluator`: runs a parsed SOQL `Query` against the record store — field paths through
lookups, typed WHERE literals, index-assisted candidates, ORDER BY, LIMIT/OFFSET and child
subqueries — and projects rows to the REST JSON shape."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

from devstack.sf_sim import ids
from devstack.sf_sim.record_json import Record, attributes, json_value
from devstack.sf_sim.schema import FieldDef, ObjectDef
from devstack.sf_sim.schema_view import SchemaView
from devstack.sf_sim.sf_errors import SfError
from devstack.sf_sim.soql import (
    BoolOp,
    Compare,
    Condition,
    DateLiteral,
    FieldRef,
    InList,
    Not,
    Query,
    like_to_regex,
)
from devstack.sf_sim.storage import RecordStore, lookup_fields, lookup_key

Predicate = Callable[[Record], bool]
ChildPlan = tuple[str, ObjectDef, Query, str]


class SoqlEvaluator:
    def __init__(self, view: SchemaView, store: RecordStore, api_version: str) -> None:
        self.view = view
        self.store = store
        self.api_version = api_version

    def run(self, query: Query, *, include_deleted: bool) -> tuple[list[Record], int]:
        obj = self.view.sobject(query.sobject)
        _check_restrictions(obj, query)
        for ref in query.fields:
            self.resolve_path(obj, ref.path)
        predicate = self.compile(obj, query.where) if query.where else None
        rows = [
            r
            for r in self._candidates(obj, query.where, include_deleted)
            if predicate is None or predicate(r)
        ]
        if query.count:
            return [], len(rows)
        self._sort(obj, rows, query)
        rows = rows[query.offset or 0 :]
        if query.limit is not None:
            rows = rows[: query.limit]
        plans = [self._child_plan(obj, sub) for sub in query.subqueries]
        groups = [self._group_children(plan, rows) for plan in plans]
        out = []
        for rec in rows:
            row = self._project(obj, rec, query.fields)
            for plan, grouped in zip(plans, groups, strict=True):
                row[plan[0]] = self._child_rows(plan, grouped.get(ids.key(rec["Id"]), []))
            out.append(row)
        return out, len(out)

    def _child_rows(self, plan: ChildPlan, kids: list[Record]) -> dict[str, Any] | None:
        _name, child_obj, sub, _fk = plan
        self._sort(child_obj, kids, sub)
        kids = kids[sub.offset or 0 :][: sub.limit if sub.limit is not None else None]
        if not kids:
            return None
        records = [self._project(child_obj, k, sub.fields) for k in kids]
        return {"totalSize": len(kids), "done": True, "records": records}

    # ------------------------------------------------------------------ candidates
    def _candidates(self, obj: ObjectDef, where: Condition | None, include_deleted: bool) -> Iterable[Record]:
        """Records that may match: an index hit for an equality (alone or in a top-level AND), else
        all of them. The WHERE predicate is still applied to whatever this returns."""
        table = self.store.records[obj.name.lower()]
        if include_deleted:
            return itertools.chain(table.values(), self.store.recycle_bin[obj.name.lower()].values())
        parts = where.parts if isinstance(where, BoolOp) and where.op == "AND" else (where,)
        hits = [h for h in (self._index_hit(obj, p) for p in parts) if h is not None]
        if hits:
            smallest = min(hits, key=len)
            return [table[k] for k in smallest if k in table]
        return list(table.values())

    def _index_hit(self, obj: ObjectDef, condition: Condition | None) -> set[str] | None:
        if isinstance(condition, InList) and condition.op == "IN" and not condition.negate:
            hits: set[str] = set()
            for value in condition.values:
                if not isinstance(value, str):
                    return None
                one = self._index_hit(obj, Compare(condition.field, "=", value))
                if one is None:
                    return None
                hits |= one
            return hits
        if not (isinstance(condition, Compare) and condition.op == "=" and isinstance(condition.value, str)):
            return None
        path = [p.lower() for p in condition.field.path]
        if len(path) != 1:
            return None
        if path == ["id"]:
            return {ids.key(condition.value)}
        fdef = obj.fields.get(path[0])
        if fdef is None:
            return None
        if fdef.external_id:
            return self.store.by_index(obj, fdef, condition.value)
        index = self.store.lookup_index.get((obj.name.lower(), fdef.name.lower()))
        if index is not None or fdef in lookup_fields(obj):
            return set((index or {}).get(lookup_key(fdef, condition.value), ()))
        return None

    # ------------------------------------------------------------------ subqueries
    def _child_plan(self, obj: ObjectDef, sub: Query) -> ChildPlan:
        rel = obj.children.get(sub.sobject.lower())
        if rel is None or not self.view.object_visible(self.view.schema[rel.child.lower()]):
            raise SfError(
                400,
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name.",
            )
        child = self.view.schema[rel.child.lower()]
        for ref in sub.fields:
            self.resolve_path(child, ref.path)
        return rel.name, child, sub, rel.field

    def _group_children(self, plan: ChildPlan, parents: list[Record]) -> dict[str, list[Record]]:
        _name, child, sub, fk = plan
        wanted = {ids.key(p["Id"]) for p in parents}
        predicate = self.compile(child, sub.where) if sub.where else None
        grouped: dict[str, list[Record]] = {}
        table = self.store.records[child.name.lower()]
        index = self.store.lookup_index.get((child.name.lower(), fk.lower()))
        if index is not None and len(wanted) < len(table):
            # Few parents (e.g. one opportunity with its contact roles): look the children up.
            keys = {k for parent in wanted for k in index.get(parent, ())}
            candidates: Iterable[Record] = [table[k] for k in keys if k in table]
        else:
            candidates = table.values()
        for rec in candidates:
            parent = rec.get(fk)
            if parent and ids.key(parent) in wanted and (predicate is None or predicate(rec)):
                grouped.setdefault(ids.key(parent), []).append(rec)
        return grouped

    # ------------------------------------------------------------------ field paths
    def resolve_path(self, obj: ObjectDef, path: tuple[str, ...]) -> FieldDef:
        current = obj
        for part in path[:-1]:
            fdef = self.view.relationship(current, part, visible_only=True)
            if fdef is None:
                if part.lower() == current.name.lower() and len(path) > 1:
                    continue  # "Opportunity.Name" on Opportunity
                raise SfError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{part}' in field path. If you are attempting to use a "
                    "custom relationship, be sure to append the '__r' after the custom relationship name.",
                )
            current = self.view.schema[(fdef.reference_to or "").lower()]
        return self.view.field_def(current, path[-1], for_query=True)

    def _parent(self, fdef: FieldDef, target: Any) -> tuple[str, Record] | None:
        """The record a lookup points at (LinkedEntityId is polymorphic)."""
        if not target:
            return None
        if fdef.name == "LinkedEntityId":
            return self.store.find_any(target)
        parent = self.store.find(fdef.reference_to or "", target)
        return (str(fdef.reference_to).lower(), parent) if parent else None

    def value(self, obj: ObjectDef, rec: Record | None, path: tuple[str, ...]) -> Any:
        current_obj, current = obj, rec
        for part in path[:-1]:
            if current is None:
                return None
            fdef = self.view.relationship(current_obj, part)
            if fdef is None:  # "Opportunity.Name" on Opportunity
                continue
            found = self._parent(fdef, current.get(fdef.name))
            if found is None:
                return None
            current_obj, current = self.view.schema[found[0]], found[1]
        if current is None:
            return None
        return current.get(current_obj.fields[path[-1].lower()].name)

    # ------------------------------------------------------------------ WHERE
    def compile(self, obj: ObjectDef, cond: Condition) -> Predicate:
        if isinstance(cond, BoolOp):
            parts = [self.compile(obj, p) for p in cond.parts]
            if cond.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self.compile(obj, cond.part)
            return lambda r: not inner(r)
        fdef = self.resolve_path(obj, cond.field.path)
        if isinstance(cond, InList):
            return self._compile_in(obj, fdef, cond)
        return self._compile_compare(obj, fdef, cond)

    def _compile_in(self, obj: ObjectDef, fdef: FieldDef, cond: InList) -> Predicate:
        path = cond.field.path
        is_id = fdef.type in ("id", "reference")
        values = [check_literal(fdef, v) for v in cond.values]
        if cond.op in ("INCLUDES", "EXCLUDES"):
            wanted = [set(str(v).split(";")) for v in values]

            def includes(r: Record) -> bool:
                have = set((self.value(obj, r, path) or "").split(";"))
                return any(w <= have for w in wanted)

            return includes if cond.op == "INCLUDES" else (lambda r: not includes(r))
        norm = {_fold(v, is_id) for v in values}
        if cond.negate:
            return lambda r: _fold(self.value(obj, r, path), is_id) not in norm
        return lambda r: _fold(self.value(obj, r, path), is_id) in norm

    def _compile_compare(self, obj: ObjectDef, fdef: FieldDef, cond: Compare) -> Predicate:
        path = cond.field.path
        value = check_literal(fdef, cond.value)
        if cond.op == "LIKE":
            regex = like_to_regex(str(value))
            return lambda r: bool(regex.match(str(self.value(obj, r, path) or "")))
        if isinstance(value, DateLiteral):
            return self._compile_date_literal(obj, path, cond.op, value)
        op, is_id = cond.op, fdef.type in ("id", "reference")
        target = _fold(value, is_id)

        def compare(r: Record) -> bool:
            have = _fold(self.value(obj, r, path), is_id)
            if op == "=":
                return bool(have == target)
            if op == "!=":
                return bool(have != target)
            if have is None or target is None:
                return False
            return bool(_ORDER_OPS[op](have, target))

        return compare

    def _compile_date_literal(
        self, obj: ObjectDef, path: tuple[str, ...], op: str, literal: DateLiteral
    ) -> Predicate:
        start, end = literal.bounds((datetime.now(UTC) + self.store.clock_offset).date())

        def day(r: Record) -> date | None:
            value = self.value(obj, r, path)
            return value.date() if isinstance(value, datetime) else value

        checks: dict[str, Callable[[date], bool]] = {
            "=": lambda d: start <= d < end,
            "!=": lambda d: not start <= d < end,
            "<": lambda d: d < start,
            "<=": lambda d: d < end,
            ">": lambda d: d >= end,
            ">=": lambda d: d >= start,
        }
        check = checks[op]
        return lambda r: (d := day(r)) is not None and check(d)

    # ------------------------------------------------------------------ ORDER BY and projection
    def _sort(self, obj: ObjectDef, rows: list[Record], query: Query) -> None:
        for item in reversed(query.order):
            self.resolve_path(obj, item.field.path)
            nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
            path = item.field.path
            present = [r for r in rows if self.value(obj, r, path) is not None]
            missing = [r for r in rows if self.value(obj, r, path) is None]
            present.sort(key=lambda r: _sort_key(self.value(obj, r, path)), reverse=item.descending)
            rows[:] = present + missing if nulls_last else missing + present

    def _project(self, obj: ObjectDef, rec: Record, refs: list[FieldRef]) -> Record:
        row: Record = {"attributes": attributes(self.api_version, obj.name, rec["Id"])}
        for ref in refs:
            self._place(obj, rec, row, ref.path)
        return row

    def _place(self, obj: ObjectDef, rec: Record, row: Record, path: tuple[str, ...]) -> None:
        if len(path) == 1:
            fdef = obj.fields[path[0].lower()]
            row[fdef.name] = json_value(self.api_version, obj, fdef, rec)
            return
        parent_ref = self.view.relationship(obj, path[0])
        if parent_ref is None:  # "Opportunity.Name" on Opportunity itself
            self._place(obj, rec, row, path[1:])
            return
        key = parent_ref.relationship_name or path[0]
        found = self._parent(parent_ref, rec.get(parent_ref.name))
        if found is None:
            row.setdefault(key, None)
            return
        parent_obj = self.view.schema[found[0]]
        nested = row.get(key) or {"attributes": attributes(self.api_version, parent_obj.name, found[1]["Id"])}
        row[key] = nested
        self._place(parent_obj, found[1], nested, path[1:])


def _check_restrictions(obj: ObjectDef, query: Query) -> None:
    if obj.name == "ContentDocumentLink" and not _filters_on(
        query.where, {"linkedentityid", "contentdocumentid"}
    ):
        raise SfError(
            400,
            "MALFORMED_QUERY",
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
            "ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN "
            "operator.",
        )


def _filters_on(cond: Condition | None, names: set[str]) -> bool:
    if cond is None:
        return False
    if isinstance(cond, BoolOp):
        return any(_filters_on(p, names) for p in cond.parts)
    if isinstance(cond, Not):
        return False
    return cond.field.path[-1].lower() in names


_DATE_KINDS = {"date": date, "datetime": datetime}


def _typed_literal_error(fdef: FieldDef, kind: str) -> SfError:
    return SfError(
        400,
        "INVALID_FIELD",
        f"value of filter criterion for field '{fdef.name}' must be of type {kind} and should not "
        "be enclosed in quotes",
    )


def check_literal(fdef: FieldDef, value: Any) -> Any:
    """SOQL is typed: dates/datetimes unquoted and matching the field, booleans bare."""
    if value is None or isinstance(value, DateLiteral):
        return value
    if fdef.type in _DATE_KINDS:
        wanted = _DATE_KINDS[fdef.type]
        ok = isinstance(value, wanted) and (wanted is datetime or not isinstance(value, datetime))
        if not ok:
            raise _typed_literal_error(fdef, "dateTime" if fdef.type == "datetime" else "date")
    elif fdef.type == "boolean" and not isinstance(value, bool):
        raise _typed_literal_error(fdef, "boolean")
    elif fdef.type in ("double", "currency", "percent", "int") and not isinstance(value, int | float):
        raise SfError(
            400, "INVALID_FIELD", f"value of filter criterion for field '{fdef.name}' must be a number"
        )
    elif fdef.type in ("id", "reference") and isinstance(value, str):
        return value[:15]
    return value


def _fold(value: Any, is_id: bool = False) -> Any:
    """Comparison form: text case-insensitive, ids by their 15-character key."""
    if isinstance(value, str):
        return value[:15] if is_id else value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return (0, value.lower())
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, datetime):
        return (2, value.timestamp())
    if isinstance(value, date):
        return (3, value.toordinal())
    return (4, value)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
