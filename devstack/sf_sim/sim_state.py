"""`SimState`: what the HTTP routes share — the org, credentials, sessions, faults, counters,
limits and open query cursors' page sizes."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

from starlette.requests import Request

from devstack.sf_sim.credentials import SimCredentials
from devstack.sf_sim.faults import FaultPlan
from devstack.sf_sim.org import Org
from devstack.sf_sim.profiles import OrgProfile, resolve_profile


@dataclass
class SimState:
    """Everything the routes share: the org, credentials, sessions, faults, counters and limits."""

    org: Org
    credentials: SimCredentials
    instance_url: str
    faults: FaultPlan = field(default_factory=FaultPlan)
    counters: Counter[str] = field(default_factory=Counter)
    sessions: set[str] = field(default_factory=set)
    api_used: int = 0
    api_max: int = 100_000
    page_size: int = 2000
    token_lifetime: float | None = None
    session_issued: dict[str, float] = field(default_factory=dict)
    page_sizes: dict[str, int] = field(default_factory=dict)  # query locator -> its batch size
    base_profile: OrgProfile = field(default_factory=lambda: resolve_profile(None))  # what /reset restores

    def new_session(self) -> str:
        token = f"{self.credentials.org_id[:15]}!AQ{secrets.token_urlsafe(40)}"
        self.sessions.add(token)
        self.session_issued[token] = time.monotonic()
        return token

    def session_valid(self, token: str) -> bool:
        if token not in self.sessions:
            return False
        if (
            self.token_lifetime is not None
            and time.monotonic() - self.session_issued[token] > self.token_lifetime
        ):
            self.sessions.discard(token)
            return False
        return True

    def limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}


def sim_state(request: Request) -> SimState:
    """The state of the simulator serving `request` (set by `http_app.build_app`)."""
    state: SimState = request.app.state.sim
    return state
