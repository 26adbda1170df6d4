"""`RecordStore`: the org's tables (live records and the recycle bin), note bodies, query cursors,
equality indexes and the all-or-none journal. No validation here — see `coercion` and `write_rules`."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from devstack.sf_sim import ids
from devstack.sf_sim.record_json import Record
from devstack.sf_sim.schema import FieldDef, ObjectDef

_LOOKUP_FIELDS = {
    ("account", "name"),
    ("contact", "email"),
}
"""Non-reference fields the connector matches on (find-or-create of accounts and contacts)."""


def lookup_key(fdef: FieldDef, value: object) -> str:
    # Lookups compare ids on their 15-character form; text equality is case-insensitive in SOQL.
    return ids.key(str(value)) if fdef.type == "reference" else str(value).lower()


def _lower(value: object) -> str:
    return str(value).lower()


def unique_fields(obj: ObjectDef) -> list[FieldDef]:
    return [f for f in obj.fields.values() if f.external_id]


def lookup_fields(obj: ObjectDef) -> list[FieldDef]:
    return [
        f
        for f in obj.fields.values()
        if f.type == "reference" or (obj.name.lower(), f.name.lower()) in _LOOKUP_FIELDS
    ]


class RecordStore:
    """Records by lower-case object name and 15-character id key; guarded by `lock`."""

    def __init__(self, schema: dict[str, ObjectDef]) -> None:
        self.schema = schema
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.records: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
            self.recycle_bin: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
            self.ext_index: dict[tuple[str, str], dict[str, set[str]]] = {}
            # Equality lookups for lookups and the fields our client matches on, so that queries by
            # them stay fast with 10,000+ records (Salesforce indexes these too).
            self.lookup_index: dict[tuple[str, str], dict[str, set[str]]] = {}
            self.serial = itertools.count(1000)
            self.last_stamp = datetime(2000, 1, 1, tzinfo=UTC)
            self.locators: dict[str, list[Record]] = {}
            self.content: dict[str, bytes] = {}
            self._journal: dict[tuple[str, str, str], Any] | None = None
            self.clock_offset = timedelta(0)

    def stamp(self) -> datetime:
        """A strictly increasing millisecond timestamp (SystemModstamp of the next write)."""
        now = datetime.now(UTC) + self.clock_offset
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self.last_stamp:
            now = self.last_stamp + timedelta(milliseconds=1)
        self.last_stamp = now
        return now

    def new_id(self, obj: str) -> str:
        return ids.mint(self.schema[obj].key_prefix, next(self.serial))

    # ------------------------------------------------------------------ lookups
    def find(self, obj_name: str, record_id: str, *, include_deleted: bool = False) -> Record | None:
        obj = obj_name.lower()
        rec = self.records.get(obj, {}).get(ids.key(record_id))
        if rec is None and include_deleted:
            rec = self.recycle_bin.get(obj, {}).get(ids.key(record_id))
        return rec

    def find_any(self, record_id: str) -> tuple[str, Record] | None:
        for obj, table in self.records.items():
            rec = table.get(ids.key(record_id))
            if rec is not None and rec["Id"][:3] == record_id[:3]:
                return obj, rec
        return None

    def is_deleted(self, record_id: str) -> bool:
        return any(ids.key(record_id) in table for table in self.recycle_bin.values())

    def by_index(self, obj: ObjectDef, fdef: FieldDef, value: str) -> set[str]:
        """Keys of the records whose external-id `fdef` equals `value` (case-insensitive)."""
        return set(self.ext_index.get((obj.name.lower(), fdef.name.lower()), {}).get(value.lower(), ()))

    # ------------------------------------------------------------------ writes
    def put(self, obj: ObjectDef, record: Record, previous: Record | None) -> None:
        """Store `record` (new or a new version of `previous`), journalled and indexed."""
        key = ids.key(record["Id"])
        self.index(obj, record, previous)
        self.touch("records", obj.name.lower(), key)
        self.records[obj.name.lower()][key] = record

    def remove(self, obj: ObjectDef, record: Record) -> None:
        """Move a record to the recycle bin."""
        key = ids.key(record["Id"])
        self.touch("records", obj.name.lower(), key)
        self.touch("recycle_bin", obj.name.lower(), key)
        self.records[obj.name.lower()].pop(key, None)
        self.index(obj, None, record)
        gone = dict(record, IsDeleted=True, SystemModstamp=self.stamp())
        gone["LastModifiedDate"] = gone["SystemModstamp"]
        self.recycle_bin[obj.name.lower()][key] = gone

    def put_content(self, record_id: str, content: bytes) -> None:
        self.touch("content", "", ids.key(record_id))
        self.content[ids.key(record_id)] = content

    def index(self, obj: ObjectDef, new: Record | None, old: Record | None) -> None:
        for fdef in unique_fields(obj):
            index = self.ext_index.setdefault((obj.name.lower(), fdef.name.lower()), {})
            self._reindex(index, fdef, new, old, _lower)
        for fdef in lookup_fields(obj):
            index = self.lookup_index.setdefault((obj.name.lower(), fdef.name.lower()), {})
            self._reindex(index, fdef, new, old, partial(lookup_key, fdef))

    @staticmethod
    def _reindex(
        index: dict[str, set[str]],
        fdef: FieldDef,
        new: Record | None,
        old: Record | None,
        key: Callable[[object], str],
    ) -> None:
        if old and old.get(fdef.name):
            index.get(key(old[fdef.name]), set()).discard(ids.key(old["Id"]))
        if new and new.get(fdef.name):
            index.setdefault(key(new[fdef.name]), set()).add(ids.key(new["Id"]))

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """All-or-none writes (a composite or collection with allOrNone): what changes inside is
        journalled (the previous version of each touched record), and `rollback()` restores it.
        Costs what the writes touch, not the size of the org."""
        with self.lock:
            if self._journal is not None:  # nested (a collection inside a composite): one journal
                yield Transaction(self)
                return
            self._journal = {}
            try:
                yield Transaction(self)
            finally:
                self._journal = None

    def touch(self, store: str, obj: str, key: str) -> None:
        """Journal a record's version before it changes (inside a transaction)."""
        if self._journal is None or (store, obj, key) in self._journal:
            return
        if store == "content":
            self._journal[(store, obj, key)] = self.content.get(key)
            return
        previous = getattr(self, store)[obj].get(key)
        self._journal[(store, obj, key)] = dict(previous) if previous is not None else None

    def rollback(self) -> None:
        journal, self._journal = self._journal or {}, None
        for (store, obj, key), previous in reversed(list(journal.items())):
            if store == "content":
                if previous is None:
                    self.content.pop(key, None)
                else:
                    self.content[key] = previous
                continue
            table = getattr(self, store)[obj]
            current = table.pop(key, None)
            if previous is not None:
                table[key] = previous
            if store == "records":
                self.index(self.schema[obj], previous, current)
        self._journal = {}


class Transaction:
    """The handle `RecordStore.transaction()` yields."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def rollback(self) -> None:
        self.store.rollback()
