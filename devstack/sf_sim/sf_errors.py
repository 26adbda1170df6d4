"""`SfError`: a Salesforce API error (HTTP status, errorCode, message, fields) raised anywhere in the
simulator and turned into Salesforce's JSON error list by the HTTP layer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class SfError(Exception):
    """A Salesforce API error: HTTP status, errorCode, message and the fields involved.

    `extra` carries additional members of the error object (e.g. `duplicateResult`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Iterable[str] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.extra = extra or {}

    def body(self) -> list[dict[str, Any]]:
        return [{**self.extra, "message": self.message, "errorCode": self.code, "fields": self.fields}]

    def collection_error(self) -> dict[str, Any]:
        return {**self.extra, "statusCode": self.code, "message": self.message, "fields": self.fields}
