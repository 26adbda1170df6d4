"""The token endpoint behaves like the Microsoft identity platform: tenant-scoped v1 and v2
endpoints, /common refused for single-tenant apps, rotating refresh tokens with a lifetime, a
controllable clock, revocation, and redemption counts by outcome."""

from __future__ import annotations

import httpx
import pytest

from tests.simulators.partner_center.conftest import REFERRALS, WEBHOOKS, redeem

pytestmark = pytest.mark.integration

AAD_ERROR_FIELDS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"}


def aad_error(response: httpx.Response, status: int, error: str, code: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= AAD_ERROR_FIELDS
    assert body["error"] == error and body["error_codes"] == [code]
    assert str(body["error_description"]).startswith(f"AADSTS{code}:")
    assert "Trace ID:" in body["error_description"]
    return dict(body)


def test_v1_and_v2_endpoints_are_tenant_scoped(sim, control):
    assert sim.token_url.endswith(f"/{sim.credentials.tenant_id}/oauth2/token")
    v1 = redeem(sim)
    assert v1.status_code == 200 and v1.json()["resource"] == REFERRALS
    v2 = redeem(sim, sim.token_url_v2, scope=f"{WEBHOOKS}/.default offline_access")
    assert v2.status_code == 200
    assert v2.json()["scope"] == f"{WEBHOOKS}/user_impersonation"
    assert isinstance(v2.json()["expires_in"], int)
    by_domain = f"{sim.origin}/{sim.credentials.tenant_domain}/oauth2/token"
    assert redeem(sim, by_domain).status_code == 200


def test_unknown_tenant_and_bad_scope_are_refused(sim, control):
    aad_error(redeem(sim, f"{sim.origin}/other-tenant/oauth2/token"), 400, "invalid_request", 90002)
    aad_error(
        redeem(sim, sim.token_url_v2, scope="https://graph.microsoft.com/.default"),
        400,
        "invalid_scope",
        70011,
    )


def test_common_is_accepted_by_default_and_refused_for_a_single_tenant_app(sim, control):
    common = f"{sim.origin}/common/oauth2/token"
    assert redeem(sim, common).status_code == 200
    control.configure_identity(single_tenant=True)
    body = aad_error(redeem(sim, common), 400, "invalid_request", 50194)
    assert "/common endpoint is not supported" in str(body["error_description"])
    aad_error(
        redeem(sim, f"{sim.origin}/organizations/oauth2/v2.0/token", scope=f"{REFERRALS}/.default"),
        400,
        "invalid_request",
        50194,
    )
    assert redeem(sim).status_code == 200  # the tenant-scoped endpoint still works


def test_each_redemption_rotates_the_refresh_token_and_old_ones_stay_valid(sim, control):
    first = redeem(sim).json()["refresh_token"]
    second = redeem(sim, refresh_token=first).json()["refresh_token"]
    assert len({sim.credentials.refresh_token, first, second}) == 3
    assert control.identity()["latest_refresh_token"] == second
    # Microsoft does not revoke the old refresh token on rotation.
    assert redeem(sim).status_code == 200
    assert redeem(sim, refresh_token=first).status_code == 200


def test_a_grace_period_makes_superseded_tokens_fail_with_70008(sim, control):
    control.configure_identity(rotated_token_grace_seconds=60)
    first = redeem(sim).json()["refresh_token"]
    redeem(sim, refresh_token=first)
    control.advance_clock(61)
    aad_error(redeem(sim, refresh_token=first), 400, "invalid_grant", 70008)
    newest = control.identity()["latest_refresh_token"]
    assert redeem(sim, refresh_token=newest).status_code == 200


def test_rotation_can_be_switched_off(sim, control):
    control.configure_identity(rotate_refresh_tokens=False)
    assert redeem(sim).json()["refresh_token"] == sim.credentials.refresh_token


def test_refresh_tokens_expire_after_their_lifetime_even_if_used(sim, control):
    control.advance_clock(89 * 86400)
    fresh = redeem(sim)  # the stored token still works on day 89 ...
    assert fresh.status_code == 200
    control.advance_clock(2 * 86400)
    body = aad_error(redeem(sim), 400, "invalid_grant", 700082)  # ... but not after 90 days
    assert "inactive for 90.00:00:00" in str(body["error_description"])
    # The token issued on day 89 is still inside its own lifetime.
    assert redeem(sim, refresh_token=fresh.json()["refresh_token"]).status_code == 200


def test_lifetime_is_configurable(sim, control):
    control.configure_identity(refresh_token_lifetime_seconds=3600)
    control.advance_clock(3601)
    aad_error(redeem(sim), 400, "invalid_grant", 700082)


def test_clock_also_expires_access_tokens(sim, control):
    token = redeem(sim).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{sim.base_url}/referrals", headers=headers).status_code == 200
    control.advance_clock(3601)
    expired = httpx.get(f"{sim.base_url}/referrals", headers=headers)
    assert expired.status_code == 401 and "expired" in expired.json()["description"]


def test_revoking_one_or_all_refresh_tokens(sim, control):
    rotated = redeem(sim).json()["refresh_token"]
    assert control.revoke_refresh_tokens(rotated) == 1
    aad_error(redeem(sim, refresh_token=rotated), 400, "invalid_grant", 50173)
    assert redeem(sim).status_code == 200
    assert control.revoke_refresh_tokens() >= 3
    aad_error(redeem(sim), 400, "invalid_grant", 50173)
    control.reset()  # reset undoes revocations and returns to the constructor's options
    assert redeem(sim).status_code == 200


def test_unknown_refresh_token_keeps_the_earlier_answer(sim, control):
    aad_error(redeem(sim, refresh_token="made-up"), 400, "invalid_grant", 70000)


def test_redemptions_are_counted_by_outcome(sim, control):
    redeem(sim)
    redeem(sim)
    redeem(sim, refresh_token="made-up")
    redeem(sim, client_secret="wrong")
    control.revoke_refresh_tokens()
    redeem(sim)
    counts = control.identity()["redemptions"]
    assert counts == {
        "issued": 2,
        "invalid_grant:AADSTS70000": 1,
        "invalid_client:AADSTS7000215": 1,
        "invalid_grant:AADSTS50173": 1,
    }
    assert control.counters()["POST /token"] == 5


def test_error_descriptions_can_use_crlf_like_the_service(sim, control):
    assert "\r\n" not in redeem(sim, refresh_token="made-up").json()["error_description"]
    control.configure_identity(crlf_error_descriptions=True)
    description = redeem(sim, refresh_token="made-up").json()["error_description"]
    assert description.split("\r\n")[1].startswith("Trace ID: ")
