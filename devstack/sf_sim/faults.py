"""Fault injection: Salesforce errors, 5xx and latency on chosen endpoint kinds, a fixed number of
times or on a seeded random fraction of calls."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

# errorCode -> (HTTP status, message) as Salesforce sends them
KNOWN_FAULTS: dict[str, tuple[int, str]] = {
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "UNABLE_TO_LOCK_ROW": (400, "unable to obtain exclusive access to this record or 1 records"),
    "SERVER_UNAVAILABLE": (503, "Server temporarily unavailable, please retry"),
    "UNKNOWN_EXCEPTION": (
        500,
        "An unexpected error occurred. Please include this ErrorId if you contact support",
    ),
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    "QUERY_TIMEOUT": (400, "Your query request was running for too long."),
    "API_DISABLED_FOR_ORG": (403, "API is not enabled for this Organization or Partner"),
}


@dataclass
class Fault:
    """One rule. `code` "LATENCY" only delays; `endpoints` empty means every REST endpoint kind
    (the OAuth token endpoint only when "token" is named)."""

    code: str
    status: int = 0
    message: str = ""
    endpoints: frozenset[str] = frozenset()
    times: int | None = 1
    probability: float | None = None
    latency: float = 0.0
    html: bool = False  # a 503 from the load balancer comes as HTML, not JSON

    def __post_init__(self) -> None:
        known = KNOWN_FAULTS.get(self.code)
        if known:
            self.status = self.status or known[0]
            self.message = self.message or known[1]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            code=str(data["code"]).upper(),
            status=int(data.get("status") or 0),
            message=str(data.get("message") or ""),
            endpoints=frozenset(data.get("endpoints") or ()),
            times=data.get("times", 1 if data.get("probability") is None else None),
            probability=data.get("probability"),
            latency=float(data.get("latency") or 0.0),
            html=bool(data.get("html", False)),
        )


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault, seed: int | None = None) -> None:
        with self.lock:
            if seed is not None:
                self.rng = random.Random(seed)
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def pick(self, endpoint: str) -> tuple[float, Fault | None]:
        """(latency to add, error fault to answer with) for one call."""
        delay = 0.0
        with self.lock:
            for fault in list(self.faults):
                if fault.endpoints and endpoint not in fault.endpoints:
                    continue
                if not fault.endpoints and endpoint == "token":
                    continue  # the token endpoint is only faulted when named explicitly
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                elif fault.probability is not None and self.rng.random() >= fault.probability:
                    continue
                if fault.code == "LATENCY":
                    delay += fault.latency
                    continue
                return delay + fault.latency, fault
        return delay, None
