"""A connection string holding a shared access signature instead of the account key: the requests the
app writes itself (single entities, insert transactions, queue messages) are authorised as the SDK's
own are (the Table client's SAS policy; the Queue client's URL query)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import AccountSasPermissions, ResourceTypes, TableServiceClient, generate_account_sas
from azure.storage.queue import AccountSasPermissions as QueuePermissions
from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue import ResourceTypes as QueueResourceTypes
from azure.storage.queue import generate_account_sas as generate_queue_sas

from shared.store import entity_requests, insert_batches, queue_requests
from shared.store.storage_clients import transport_options

pytestmark = pytest.mark.integration


def _parts(connection: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in connection.split(";") if part)


def test_table_requests_with_a_sas_connection_string(azurite):
    parts = _parts(azurite.connection_string)
    sas = generate_account_sas(
        AzureNamedKeyCredential(parts["AccountName"], parts["AccountKey"]),
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, add=True, create=True, update=True, list=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    service = TableServiceClient.from_connection_string(
        f"TableEndpoint={parts['TableEndpoint']};SharedAccessSignature={sas}", **transport_options()
    )
    name = f"Sas{uuid.uuid4().hex[:8]}"
    client = service.create_table_if_not_exists(name)
    etag = entity_requests.insert(client, {"PartitionKey": "p", "RowKey": "r", "V": "ü"})
    assert entity_requests.get(client, "p", "r") == ({"PartitionKey": "p", "RowKey": "r", "V": "ü"}, etag)
    insert_batches.insert_all(client, [{"PartitionKey": "b", "RowKey": str(n)} for n in range(3)])
    assert len(list(client.query_entities("PartitionKey eq 'b'"))) == 3


def test_queue_requests_with_a_sas_connection_string(azurite):
    parts = _parts(azurite.connection_string)
    sas = generate_queue_sas(
        parts["AccountName"], parts["AccountKey"],
        resource_types=QueueResourceTypes(service=True, container=True, object=True),
        permission=QueuePermissions(read=True, write=True, add=True, create=True, process=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    service = QueueServiceClient.from_connection_string(
        f"QueueEndpoint={parts['QueueEndpoint']};SharedAccessSignature={sas}", **transport_options()
    )
    name = f"sas-{uuid.uuid4().hex[:8]}"
    client = service.get_queue_client(
        name, message_encode_policy=TextBase64EncodePolicy(), message_decode_policy=TextBase64DecodePolicy()
    )
    client.create_queue()
    try:
        queue_requests.send(client, "sent with a SAS ✔", visibility_timeout=None)
        queue_requests.send(client, "and a delay", visibility_timeout=1)  # a parameter after the SAS
        assert [m.content for m in client.receive_messages(max_messages=2)] == ["sent with a SAS ✔"]
        time.sleep(1.5)
        assert [m.content for m in client.receive_messages(max_messages=2)] == ["and a delay"]
    finally:
        client.delete_queue()
