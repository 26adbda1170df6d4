"""Insert transactions with a body written by `insert_batches`, on Azurite: rows read back exactly as
the SDK's own inserts of the same entities read back; a refused change set writes nothing; a missing
table is reported as one (so `tables.call` creates it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.store import insert_batches, tables
from shared.store.insert_batches import TransactionRefused, insert_all

pytestmark = pytest.mark.integration

_AWKWARD = {
    "Text": 'Zürich – 東京 \U0001f600 "quoted" back\\slash',
    "Lines": "first\r\n--batch_1234\r\nContent-Type: multipart/mixed\r\n\r\nHTTP/1.1 500 Oops",
    "Empty": "",
    "Flag": True,
    "Off": False,
    "Small": -7,
    "Int32Edge": 2**31 - 1,
    "Int32Low": -(2**31),
    "Ratio": 0.1,
    "Whole": 3.0,
    "When": datetime(2026, 11, 29, 14, 5, 6, 123456, tzinfo=UTC),
    "Offset": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "Nothing": None,
}


def _read(client: Any, partition: str, row: str) -> dict[str, Any]:
    entity = client.get_entity(partition, row)
    return {
        k: (v.astimezone(UTC) if isinstance(v, datetime) else v) for k, v in entity.items() if k != "RowKey"
    }


def test_rows_read_back_as_the_sdks_own_inserts_of_the_same_entities(settings):
    client = tables.table(settings, settings.audit_table)
    partition = uuid.uuid4().hex
    client.create_entity({"PartitionKey": partition, "RowKey": "sdk", **_AWKWARD})
    insert_all(client, [{"PartitionKey": partition, "RowKey": f"ours{n}", **_AWKWARD} for n in range(3)])

    expected = _read(client, partition, "sdk")
    for n in range(3):
        assert _read(client, partition, f"ours{n}") == expected
    assert expected["Int32Low"] == -(2**31) and expected["When"] == _AWKWARD["When"]
    assert "Nothing" not in expected


def test_a_hundred_rows_go_in_one_call(settings):
    client = tables.table(settings, settings.audit_table)
    partition = uuid.uuid4().hex
    insert_all(client, [{"PartitionKey": partition, "RowKey": f"{n:03d}", "N": n} for n in range(100)])
    rows = list(client.query_entities("PartitionKey eq @p", parameters={"p": partition}))
    assert sorted(r["N"] for r in rows) == list(range(100))


@pytest.mark.parametrize("clash", ["existing row", "same row twice"])
def test_a_refused_change_set_writes_nothing(settings, clash):
    client = tables.table(settings, settings.audit_table)
    partition = uuid.uuid4().hex
    client.create_entity({"PartitionKey": partition, "RowKey": "taken"})
    rows = [{"PartitionKey": partition, "RowKey": f"new{n}"} for n in range(5)]
    rows.insert(3, {"PartitionKey": partition, "RowKey": "taken" if clash == "existing row" else "new1"})

    with pytest.raises(TransactionRefused, match=r"409|400") as refused:
        insert_all(client, rows)

    assert refused.value.status_code == 202  # the batch itself was answered; its change set refused
    left = {r["RowKey"] for r in client.query_entities("PartitionKey eq @p", parameters={"p": partition})}
    assert left == {"taken"}


def test_a_missing_table_is_reported_as_one_and_tables_call_creates_it(settings):
    client = tables.table(settings, settings.audit_table)
    client.delete_table()
    row = {"PartitionKey": "p", "RowKey": "r", "V": "x"}

    with pytest.raises(ResourceNotFoundError) as missing:
        insert_all(client, [row])
    assert tables.is_missing_table(missing.value)

    tables.call(settings, settings.audit_table, lambda c: insert_all(c, [row]))
    assert client.get_entity("p", "r")["V"] == "x"


def test_what_it_does_not_write_is_refused_before_any_call(settings):
    client = tables.table(settings, settings.audit_table)
    with pytest.raises(ValueError, match="at most 100"):
        insert_all(client, [{"PartitionKey": "p", "RowKey": str(n)} for n in range(101)])
    with pytest.raises(ValueError, match="one partition"):
        insert_all(client, [{"PartitionKey": "a", "RowKey": "1"}, {"PartitionKey": "b", "RowKey": "1"}])
    with pytest.raises(TypeError, match="bytes"):
        insert_batches.odata_properties({"PartitionKey": "p", "RowKey": "r", "Raw": b"\x00"})
    with pytest.raises(TypeError, match="int"):  # as the SDK refuses it untyped
        insert_batches.odata_properties({"PartitionKey": "p", "RowKey": "r", "Big": 2**31})
    insert_all(client, [])  # nothing to write: no call
