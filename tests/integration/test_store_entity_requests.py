"""Single-entity requests written by `entity_requests`, on Azurite: what they write reads back as the
SDK's own writes of the same entity read back (and the other way round), keys that need quoting
address the right entity, ETags chain, and each refusal is the SDK's exception."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from shared.store import entity_requests, tables
from shared.store.storage_transport import StorageTransport

pytestmark = pytest.mark.integration

_PROPERTIES = {
    "Text": 'Zürich – 東京 \U0001f600 "quoted" it\'s',
    "Empty": "",
    "Flag": True,
    "Count": -(2**31),
    "Ratio": 0.1,
    "Whole": 3.0,
    "When": datetime(2026, 11, 29, 14, 5, 6, 123456, tzinfo=UTC),
    "Offset": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-7))),
    "Inf": float("inf"),
}
# Any key Table Storage allows (not / \ # ? or control characters: "Understanding the Table service
# data model"), including what needs quoting in an entity's address.
_KEYS = ["plain", "it's", "a b+c%20d", "ümlaut", "x'y''z", "a&b=c;d", "(paren),comma", "2026-11-29T00:00:00Z"]


@pytest.fixture
def client(settings):
    return tables.table(settings, settings.links_table)


def _sdk_view(entity: Any) -> dict[str, Any]:
    return {k: (v.astimezone(UTC) if isinstance(v, datetime) else v) for k, v in dict(entity).items()}


@pytest.mark.parametrize("key", _KEYS)
def test_what_it_writes_reads_back_as_the_sdk_reads_its_own_and_the_other_way_round(client, key):
    ours = {"PartitionKey": key, "RowKey": "ours", **_PROPERTIES}
    theirs = {"PartitionKey": key, "RowKey": "sdk", **_PROPERTIES}
    etag = entity_requests.insert(client, ours)
    client.create_entity(theirs)

    got, got_etag = entity_requests.get(client, key, "ours")
    sdk_ours = client.get_entity(key, "ours")
    assert got_etag == etag == sdk_ours.metadata["etag"]
    assert _sdk_view(sdk_ours) == {**_sdk_view(client.get_entity(key, "sdk")), "RowKey": "ours"}
    their_props, _ = entity_requests.get(client, key, "sdk")
    assert their_props == {**got, "RowKey": "sdk"}
    assert got["When"] == _PROPERTIES["When"] and got["Offset"] == _PROPERTIES["Offset"]
    assert got["Whole"] == 3.0 and isinstance(got["Whole"], float) and got["Inf"] == float("inf")
    assert "Timestamp" not in got


def test_etags_chain_and_a_stale_one_is_refused(client):
    key = uuid.uuid4().hex
    first = entity_requests.insert(client, {"PartitionKey": key, "RowKey": "r", "A": "1", "B": "kept"})
    second = entity_requests.merge(client, {"PartitionKey": key, "RowKey": "r", "A": "2"}, first)
    assert entity_requests.get(client, key, "r")[0] == {
        "PartitionKey": key,
        "RowKey": "r",
        "A": "2",
        "B": "kept",
    }
    third = entity_requests.replace(client, {"PartitionKey": key, "RowKey": "r", "C": "only"}, second)
    assert entity_requests.get(client, key, "r") == ({"PartitionKey": key, "RowKey": "r", "C": "only"}, third)

    for write in (entity_requests.merge, entity_requests.replace):
        with pytest.raises(ResourceModifiedError):
            write(client, {"PartitionKey": key, "RowKey": "r", "D": "late"}, second)
    assert entity_requests.get(client, key, "r")[1] == third


def test_refusals_are_the_sdks_exceptions(client, settings):
    key = uuid.uuid4().hex
    entity_requests.insert(client, {"PartitionKey": key, "RowKey": "r"})
    with pytest.raises(ResourceExistsError):
        entity_requests.insert(client, {"PartitionKey": key, "RowKey": "r"})
    with pytest.raises(ResourceNotFoundError) as missing_entity:
        entity_requests.get(client, key, "nothing here")
    assert not tables.is_missing_table(missing_entity.value)
    with pytest.raises(ResourceNotFoundError):  # an If-Match write to an entity that is gone
        entity_requests.replace(client, {"PartitionKey": key, "RowKey": "gone"}, "W/\"datetime'2026'\"")

    client.delete_table()
    with pytest.raises(ResourceNotFoundError) as missing_table:
        entity_requests.get(client, key, "r")
    assert tables.is_missing_table(missing_table.value)
    etag = tables.call(
        settings,
        settings.links_table,
        lambda c: entity_requests.insert(c, {"PartitionKey": key, "RowKey": "r"}),
    )
    assert entity_requests.get(client, key, "r")[1] == etag


def test_each_request_carries_its_own_client_request_id(client, monkeypatch):
    sent: list[str] = []
    real = StorageTransport.send

    def spy(self: StorageTransport, request: Any, **kwargs: Any) -> Any:
        sent.append(request.headers["x-ms-client-request-id"])
        return real(self, request, **kwargs)

    monkeypatch.setattr(StorageTransport, "send", spy)
    key = uuid.uuid4().hex
    etag = entity_requests.insert(client, {"PartitionKey": key, "RowKey": "r"})
    entity_requests.merge(client, {"PartitionKey": key, "RowKey": "r", "A": "1"}, etag)
    entity_requests.get(client, key, "r")
    assert len(sent) == 3 and len(set(sent)) == 3
    assert len({s.rsplit("-", 1)[0] for s in sent}) == 1  # one process prefix, a counter after it
