"""`PartnerCenterSimControl`: a small httpx wrapper over the simulator's `/_sim` control API."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import httpx


class PartnerCenterSimControl:
    """Drives a simulator at `origin` (e.g. `http://127.0.0.1:8123`), in-thread or a process."""

    def __init__(self, origin: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=origin.rstrip("/") + "/_sim", timeout=timeout)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    # state
    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def reset(self) -> None:
        self._call("POST", "/reset")

    def referrals(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/referrals"))

    def referral(self, referral_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/referrals/{referral_id}"))

    def seed(self, count: int, overrides: dict[str, Any] | None = None) -> int:
        return int(self._call("POST", "/seed", {"count": count, "overrides": overrides})["seeded"])

    # counters
    def counters(self) -> dict[str, int]:
        return dict(self._call("GET", "/counters"))

    def reset_counters(self) -> dict[str, int]:
        """Clear the counters; returns their values just before."""
        return dict(self._call("DELETE", "/counters"))

    # Microsoft seller actions
    def send_referral(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """A co-sell referral from a Microsoft seller (New/Pending) plus Microsoft's side."""
        return dict(self._call("POST", "/seller/referrals", overrides or {}))

    def send_marketplace_lead(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "/seller/leads", overrides or {}))

    def accept(self, referral_id: str, microsoft_msx_id: str | None = None) -> dict[str, Any]:
        body = {"microsoftMsxId": microsoft_msx_id} if microsoft_msx_id else {}
        return dict(self._call("POST", f"/seller/referrals/{referral_id}/accept", body))

    def add_note(self, referral_id: str, note: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/seller/referrals/{referral_id}/notes", {"note": note}))

    def open_related(self, referral_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"/seller/referrals/{referral_id}/related", overrides or {}))

    def update_as_microsoft(self, referral_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._call("POST", f"/seller/referrals/{referral_id}/patch", operations))

    # faults
    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace all faults, e.g. `set_faults(seed=1, api=[{"status": 429, "count": 2,
        "retry_after": 0.1}], webhooks={"drop_count": 1})`."""
        return dict(self._call("PUT", "/faults", faults))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # webhooks and tokens
    def register_webhook(self, url: str, events: list[str]) -> None:
        self._call("PUT", "/webhooks/registration", {"WebhookUrl": url, "WebhookEvents": events})

    def webhooks(self) -> dict[str, Any]:
        return dict(self._call("GET", "/webhooks"))

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.webhooks()["deliveries"])

    def flush_webhooks(self) -> int:
        return int(self._call("POST", "/webhooks/flush")["released"])

    def set_signing(self, enabled: bool) -> None:
        self._call("PUT", "/webhooks/signing", {"enabled": enabled})

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until no delivery is pending (held re-ordered events count as pending)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.webhooks()
            if state["pending"] == 0:
                return list(state["deliveries"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{state['pending']} webhook deliveries still pending")
            time.sleep(0.02)

    def revoke_tokens(self) -> int:
        return int(self._call("POST", "/tokens/revoke")["revoked"])

    # tenant behaviours (issue #15)
    def identity(self) -> dict[str, Any]:
        """Options, clock, redemption counts by outcome, latest refresh token."""
        return dict(self._call("GET", "/identity"))

    def configure_identity(self, **options: Any) -> dict[str, Any]:
        """Change some of `single_tenant`, `rotate_refresh_tokens`, `refresh_token_lifetime_seconds`,
        `rotated_token_grace_seconds`."""
        return dict(self._call("PUT", "/identity", options))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return dict(self._call("POST", "/identity/clock", {"advance_seconds": seconds}))

    def revoke_refresh_tokens(self, refresh_token: str | None = None) -> int:
        """Revoke one refresh token, or all of them (AADSTS50173 on their next use)."""
        body = {"refresh_token": refresh_token} if refresh_token else {}
        return int(self._call("POST", "/identity/refresh-tokens/revoke", body)["revoked"])

    def set_filter_modes(self, modes: dict[str, str]) -> dict[str, str]:
        """`$filter` property -> `honour` / `ignore` / `refuse` (`*`: every other property)."""
        return dict(self._call("PUT", "/filter-modes", modes))

    def set_read_faults(
        self, referrals: dict[str, int] | None = None, related_referrals: int | None = None
    ) -> dict[str, Any]:
        body = {"referrals": referrals or {}, "related_referrals": related_referrals}
        return dict(self._call("PUT", "/read-faults", body))

    def set_read_fault(self, referral_id: str, status: int | None) -> dict[str, Any]:
        """GET of this referral answers `status` (403 or 404); None clears it."""
        if status is None:
            return dict(self._call("DELETE", f"/referrals/{referral_id}/read-fault"))
        return dict(self._call("PUT", f"/referrals/{referral_id}/read-fault", {"status": status}))

    def set_status(self, referral_id: str, status: str, substatus: str | None = None) -> dict[str, Any]:
        """Any status, also one the API does not document (e.g. `Archived`), as the service sets it."""
        body: dict[str, Any] = {"status": status}
        if substatus is not None:
            body["substatus"] = substatus
        return dict(self._call("POST", f"/referrals/{referral_id}/status", body))

    def certificate(self) -> dict[str, Any]:
        """Signer, announced URL, and PEMs (root CA = the test trust anchor, `root_pem_path`)."""
        return dict(self._call("GET", "/webhooks/certificate"))

    def set_certificate(self, **options: Any) -> dict[str, Any]:
        """`signer` ("microsoft" | "evil"), `host`, `port`, `path`, `query` of the announced URL."""
        return dict(self._call("PUT", "/webhooks/certificate", options))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PartnerCenterSimControl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
