"""Reaching the simulator with production code paths unchanged: simple-salesforce hard-codes
`https://{host}/...`, so the adapter rewrites every https URL to the simulator's plain-http loopback
port while keeping path, query and the original Host header (`shared.salesforce.transport`, which
the app also uses with SF_LOOPBACK_PORT beside `make demo`)."""

from __future__ import annotations

import requests

from shared.salesforce import transport


def loopback_session(port: int, *, timeout: float = 30.0) -> requests.Session:
    """A requests.Session whose https traffic goes to the simulator on 127.0.0.1:`port`."""
    return transport.loopback_session(port, timeout, budget=None)
