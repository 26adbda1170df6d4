"""Putting a message on a queue, with the request written here ("Put Message",
https://learn.microsoft.com/rest/api/storageservices/put-message) and sent through the queue client's
own pipeline (`own_requests`).

`QueueClient.send_message` also parses the service's XML answer into models we never read (the new
message's id and pop receipt): about a third of the call's CPU, measured in a backfill's profile. The
body is the same: `<QueueMessage><MessageText>` holding the text, base64 of its UTF-8 when the queue's
consumer expects that (the Functions queue trigger's default, `TextBase64EncodePolicy`'s encoding).
Errors are the SDK's (`own_requests.refusal`): 404 ResourceNotFoundError (QueueNotFound), and so on."""

from __future__ import annotations

import base64 as b64
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from azure.core.rest import HttpRequest
from azure.storage.queue import QueueClient

from shared.store import own_requests


def send(
    client: QueueClient, text: str, *, visibility_timeout: int | None = None, base64: bool = True
) -> None:
    """Put `text` on the client's queue, visible after `visibility_timeout` seconds (None: now)."""
    content = b64.b64encode(text.encode()).decode() if base64 else text
    body = (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f"<QueueMessage><MessageText>{escape(content)}</MessageText></QueueMessage>"
    )
    parts = urlsplit(client.url)  # a SAS from a connection string stays in the query
    query = "&".join(
        q for q in (parts.query, f"visibilitytimeout={visibility_timeout}" if visibility_timeout else "") if q
    )
    url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/messages" + (f"?{query}" if query else "")
    request = HttpRequest(
        "POST",
        url,
        headers={"x-ms-version": client.api_version, "Content-Type": "application/xml; charset=utf-8"},
        content=body.encode(),
    )
    response = own_requests.send(client, request)  # its XML answer is not parsed: the status suffices
    if response.status_code != 201:
        code = response.headers.get("x-ms-error-code") or ""
        raise own_requests.refusal(response, code, response.text()[:500])
