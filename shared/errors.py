"""One error root for the whole app, split by what the caller does next.

CosellSyncError            every error we raise on purpose
├── ConfigError            fix settings or permissions; never retried
├── TransientError         retry later (carries retry_after seconds when the provider said)
├── PermanentError         this record cannot sync as it is: audit it, mark ✖, move on
│   └── ValidationError    pre-flight validation found problems (one message each)
└── ConflictError          an ETag race: re-read both sides and merge again
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"(?i)((?:access|refresh)_token|client_secret|password|assertion|code)=([^&\s]+)"),
    re.compile(r'(?i)"((?:access|refresh)_token|client_secret|password|assertion)"\s*:\s*"[^"]*"'),
    re.compile(r"(?i)(AccountKey=)[^;]+"),
]


def redact(text: str) -> str:
    """Remove bearer tokens, secrets in form/JSON bodies and storage keys from text meant for logs."""
    text = _SECRET_PATTERNS[0].sub(r"\1[redacted]", text)
    text = _SECRET_PATTERNS[1].sub(r"\1=[redacted]", text)
    text = _SECRET_PATTERNS[2].sub(r'"\1": "[redacted]"', text)
    return _SECRET_PATTERNS[3].sub(r"\1[redacted]", text)


class CosellSyncError(Exception):
    """Base error; the string form starts with the provider request id so logs trace to it."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        record_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.message = redact(message)
        self.provider = provider
        self.status = status
        self.request_id = request_id
        self.record_id = record_id
        self.code = code

    def __str__(self) -> str:
        parts = []
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        if self.provider:
            parts.append(f"{self.provider}{f' {self.status}' if self.status else ''}:")
        parts.append(self.message)
        if self.record_id:
            parts.append(f"(record {self.record_id})")
        return " ".join(parts)


class ConfigError(CosellSyncError):
    """Settings, credentials or permissions are wrong; retrying will not help."""


class TransientError(CosellSyncError):
    """Throttling, timeouts, 5xx: try again, after `retry_after` seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentError(CosellSyncError):
    """The provider refused this record for a reason the record must fix."""


class ValidationError(PermanentError):
    """Pre-flight validation failed; `problems` holds one human-readable line per problem."""

    def __init__(self, problems: Sequence[str], **kw: object) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), **kw)  # type: ignore[arg-type]


class ConflictError(CosellSyncError):
    """Optimistic concurrency lost (HTTP 412 or a table ETag mismatch): re-read and merge again."""
