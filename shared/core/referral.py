"""The Partner Center referral resource as pydantic models, camelCase on the wire.

Every model keeps unknown fields (`extra="allow"`), so a referral read, changed and written back
does not lose properties this code does not know about. Enumerated values stay plain strings:
Partner Center adds values without notice, and a sync must not fail on them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer
from pydantic.alias_generators import to_camel


class ReferralStatus:
    NONE = "None"
    NEW = "New"
    ACTIVE = "Active"
    CLOSED = "Closed"


class ReferralSubstatus:
    NONE = "None"
    PENDING = "Pending"
    RECEIVED = "Received"
    ACCEPTED = "Accepted"
    WON = "Won"
    LOST = "Lost"
    DECLINED = "Declined"
    EXPIRED = "Expired"


class ReferralType:
    INDEPENDENT = "Independent"
    SHARED = "Shared"


class ReferralQualification:
    NONE = "None"
    DIRECT = "Direct"
    MARKETING_QUALIFIED = "MarketingQualified"
    SALES_QUALIFIED = "SalesQualified"


MICROSOFT_ORGANIZATION_ID = "msft"
"""`inviteContext.invitedBy.organizationId` of referrals sent by Microsoft."""


class WireModel(BaseModel):
    """Base: camelCase aliases, construction by either name, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body Partner Center expects: wire names, no nulls, JSON-safe values."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Address(WireModel):
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, description="ISO 3166 alpha-2")
    region: str | None = None


class Member(WireModel):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    title: str | None = None


class CustomerProfile(WireModel):
    name: str | None = None
    address: Address | None = None
    size: str | None = None
    team: list[Member] = Field(default_factory=list)


class Consent(WireModel):
    # The doubled "To" is Partner Center's own spelling.
    consent_to_to_share_info_with_others: bool | None = None
    consent_to_contact: bool | None = None
    consent_to_microsoft_to_contact_specific_partners: bool | None = None
    consent_to_share_referral_with_microsoft_sellers: bool | None = None


class Solution(WireModel):
    id: str
    name: str | None = None
    type: str | None = "Name"
    publisher_name: str | None = None
    solution_type: str | None = None


class Requirements(WireModel):
    solutions: list[Solution] = Field(default_factory=list)


class ReferralDetails(WireModel):
    notes: str | None = None
    deal_value: Decimal | None = None
    currency: str | None = None
    closing_date_time: datetime | None = None
    requirements: Requirements | None = None

    @field_serializer("deal_value", when_used="json-unless-none")
    def _number_on_the_wire(self, value: Decimal) -> int | float:
        # pydantic writes Decimal as a JSON string; Partner Center returns and expects a number.
        return int(value) if value == value.to_integral_value() else float(value)


class Organization(WireModel):
    organization_id: str | None = None
    organization_name: str | None = None


class InviteContext(WireModel):
    notes: str | None = None
    assistance_request_code: str | None = None
    invited_by: Organization | None = None


class TrackingInfo(WireModel):
    microsoft_msx_id: str | None = None


class Referral(WireModel):
    """One referral (lead or co-sell opportunity) as Partner Center returns it."""

    id: str | None = None
    engagement_id: str | None = None
    name: str | None = None
    external_reference_id: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    status: str | None = None
    substatus: str | None = None
    status_reason: str | None = None
    type: str | None = None
    qualification: str | None = None
    direction: str | None = None
    customer_profile: CustomerProfile | None = None
    consent: Consent | None = None
    details: ReferralDetails | None = None
    team: list[Member] = Field(default_factory=list)
    invite_context: InviteContext | None = None
    tracking_info: TrackingInfo | None = None
    e_tag: str | None = None
    created_date_time: datetime | None = None
    updated_date_time: datetime | None = None
    links: dict[str, Any] | None = None

    @property
    def is_from_microsoft(self) -> bool:
        """Sent by a Microsoft seller or Microsoft marketing (not by a partner)."""
        invited_by = self.invite_context.invited_by if self.invite_context else None
        return bool(invited_by and invited_by.organization_id == MICROSOFT_ORGANIZATION_ID)

    @property
    def is_visible_to_microsoft(self) -> bool:
        return bool(self.consent and self.consent.consent_to_share_referral_with_microsoft_sellers)
