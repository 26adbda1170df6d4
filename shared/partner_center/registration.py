"""Partner Center webhook registration: one callback URL per partner tenant for a set of events.

Only one URL can receive a given event, so registering silently steals events from another tool
(Microsoft's own connector, another environment). `register` therefore refuses to replace a
different URL unless asked to overwrite.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ConfigError, PermanentError
from shared.partner_center.api_base import PartnerCenterApi

PROVIDER = "partner-center-webhooks"
REFERRAL_EVENTS = (
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
)
TEST_EVENT = "test-created"


class Registration(BaseModel):
    """A webhook registration as the API returns it (PascalCase on the wire)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    webhook_url: str = Field(alias="WebhookUrl")
    webhook_events: list[str] = Field(default_factory=list, alias="WebhookEvents")
    subscriber_id: str | None = Field(default=None, alias="SubscriberId")

    def to_wire(self) -> dict[str, Any]:
        return {"WebhookUrl": self.webhook_url, "WebhookEvents": list(self.webhook_events)}


class WebhookRegistrationClient(PartnerCenterApi):
    """Reads, creates or replaces the registration, and sends validation (test) events."""

    url_setting = "pc_webhook_api_base_url"
    url_path = "/registration"
    audience_setting = "pc_webhook_resource"
    provider = PROVIDER

    def get(self) -> Registration | None:
        """The current registration, or None when the tenant has none."""
        response = self._api.request("GET", self._url, template="/registration", accept=(404,))
        if response.status_code == 404 or not response.content:
            return None
        data = response.json()
        if not isinstance(data, dict) or not data.get("WebhookUrl"):
            return None
        return Registration.model_validate(data)

    def available_events(self) -> list[str]:
        response = self._api.request("GET", f"{self._url}/events", template="/registration/events")
        return [str(name) for name in response.json()]

    def register(
        self, url: str, events: Iterable[str] = REFERRAL_EVENTS, *, overwrite: bool = False
    ) -> Registration:
        """Make `url` receive `events`. Events already registered to the same URL are kept; a
        registration pointing elsewhere is replaced only with `overwrite=True`."""
        wanted = list(dict.fromkeys(events))
        current = self.get()
        if current is None:
            return self._send("POST", Registration(webhook_url=url, webhook_events=wanted))
        if current.webhook_url == url:
            merged = list(dict.fromkeys([*current.webhook_events, *wanted]))
            if set(merged) == set(current.webhook_events):
                return current
            return self._send("PUT", Registration(webhook_url=url, webhook_events=merged))
        if not overwrite:
            raise ConfigError(
                f"events {', '.join(current.webhook_events) or '(none)'} are registered to "
                f"{current.webhook_url}; another tool may own them. Register with overwrite to take them.",
                provider=PROVIDER,
            )
        return self._send("PUT", Registration(webhook_url=url, webhook_events=wanted))

    def delete(self) -> bool:
        """Delete the tenant's registration (`DELETE /webhooks/v1/registration`; the 2018 page lists only
        GET/POST/PUT, so the verb is the REST convention, checked by the caller reading back). True when
        Partner Center answered success, False when there was none (404)."""
        response = self._api.request("DELETE", self._url, template="/registration", accept=(404,))
        return response.status_code != 404

    def send_test_event(self) -> str:
        """Ask Partner Center to post a `test-created` event; returns its correlation id."""
        response = self._api.request(
            "POST",
            f"{self._url}/validationEvents",
            template="/registration/validationEvents",
            idempotent=False,
        )
        correlation_id = response.json().get("correlationId")
        if not correlation_id:
            raise PermanentError("validation event answer has no correlationId", provider=PROVIDER)
        return str(correlation_id)

    def test_event_status(self, correlation_id: str) -> dict[str, Any]:
        """Delivery status of a test event (`status`, `results[].responseCode`, ...)."""
        response = self._api.request(
            "GET",
            f"{self._url}/validationEvents/{correlation_id}",
            template="/registration/validationEvents/{id}",
        )
        data = response.json()
        return data if isinstance(data, dict) else {"raw": data}

    def _send(self, method: str, registration: Registration) -> Registration:
        response = self._api.request(
            method,
            self._url,
            template="/registration",
            json=registration.to_wire(),
            headers={"Content-Type": "application/json"},
        )
        return Registration.model_validate(response.json()) if response.content else registration
