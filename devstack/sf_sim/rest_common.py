"""Shared pieces of the REST routes: the JSON response, the parsed call a route handler gets, and
the handler result type."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from devstack.sf_sim.sf_errors import SfError

JSON_TYPE = "application/json;charset=UTF-8"
NOT_FOUND = "The requested resource does not exist"

Result = tuple[int, Any] | Response
"""A handler's answer: (status, JSON payload) or a ready Response."""


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)


@dataclass
class RestCall:
    """One REST request (or composite subrequest): path segments after `/services/data/vNN.0/`."""

    method: str
    parts: list[str]
    query_params: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    api_version: float

    def object_body(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise SfError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        return self.body

    def header(self, name: str) -> str:
        """A request header, case-insensitively."""
        wanted = name.lower()
        return next((str(v) for k, v in self.headers.items() if k.lower() == wanted), "")
