"""Sending the Storage requests the app writes itself (`entity_requests`, `insert_batches`,
`queue_requests`) through an SDK client's own pipeline: its credential, retry policy and transport.

The pipeline is the generated client's (`client._client`, a private attribute of TableClient and
QueueClient; its `send_request` is the generated client's public method, which the SDK's own
transactions use). The SDK versions are pinned; the store's integration tests fail if an upgrade
moves it. stream=True leaves the answer to the caller: the pipeline would otherwise decode every JSON
answer, and refuse a multipart one.

Each request carries a client request id (`x-ms-client-request-id`, which Storage logs beside its own
request id) unique per process by a counter: azure-core's default is `uuid.uuid1()`, which on Linux
takes libuuid's clock lock, ~5 % of a Table write's CPU (py-spy)."""

from __future__ import annotations

import itertools
import uuid

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest, HttpResponse
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

_PROCESS = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)
_ERRORS: dict[int, type[HttpResponseError]] = {
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    412: ResourceModifiedError,
}


def next_id() -> str:
    return f"{_PROCESS}-{next(_COUNTER):x}"


def send(client: TableClient | QueueClient, request: HttpRequest) -> HttpResponse:
    """`request` through the client's pipeline; the answer read whole, whatever its status."""
    response = client._client.send_request(request, stream=True, request_id=next_id())
    response.read()
    return response


def refusal(response: HttpResponse, code: str, message: str) -> HttpResponseError:
    """The SDK's exception for an answer the service refused: 404 ResourceNotFoundError, 409
    ResourceExistsError, 412 ResourceModifiedError, anything else HttpResponseError; the service's
    error code leads the message (`tables.is_missing_table` looks for TableNotFound there)."""
    error = _ERRORS.get(response.status_code, HttpResponseError)
    return error(message=f"{code}: {message}" if code else message, response=response)
