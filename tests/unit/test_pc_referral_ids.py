"""Referral ids are GUIDs before any URL is built, and path segments are quoted (issue #15)."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import load_settings
from shared.core.referral_ids import (
    InvalidReferralId,
    is_referral_id,
    path_segment,
    referral_id_problem,
    require_referral_id,
)
from shared.errors import PermanentError
from shared.partner_center.referral_client import PartnerCenterClient

GUID = "5dd4dc44-2c1a-4e16-8478-f783ebe815de"


class StaticTokens:
    def token(self, resource: str) -> str:
        return "t"

    def invalidate(self, resource: str) -> None:
        pass


@pytest.mark.parametrize("value", [GUID, GUID.upper()])
def test_guids_are_referral_ids(value):
    assert is_referral_id(value) and require_referral_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "..", ".", "../engagements", f"{GUID}/..", f"{GUID}?x=1", f"{GUID}#", f" {GUID}", f"{GUID}\n",
     "%2e%2e", "{" + GUID + "}", GUID.replace("-", ""), None, 42],
)  # fmt: skip
def test_anything_else_is_refused_with_a_reason(value):
    assert referral_id_problem(value)
    with pytest.raises(InvalidReferralId):
        require_referral_id(value)


def test_path_segments_are_quoted():
    assert path_segment("..") == "%2E%2E"
    assert path_segment("a/b?c#d") == "a%2Fb%3Fc%23d"
    assert path_segment(GUID) == GUID


@given(st.text(max_size=60))
def test_no_text_but_a_guid_reaches_a_url(value):
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": value})

    transport = httpx.MockTransport(answer)
    settings = load_settings(pc_api_base_url="https://pc.example/v1.0/engagements")
    with PartnerCenterClient(settings, transport=transport, token_provider=StaticTokens()) as client:
        if is_referral_id(value):
            client.get_referral(value)
            assert sent[0].url.path == f"/v1.0/engagements/referrals/{value}"
        else:
            with pytest.raises(PermanentError) as raised:
                client.get_referral(value)
            assert raised.value.code == "InvalidReferralId"
            with pytest.raises(PermanentError):
                client.update_request(value, [], etag=None)
            assert sent == []
