"""The three chaos faults of issue #18 in small (full size: `make bench`, bench/chaos_faults.py):
storage killed and restarted mid-traffic, the Partner Center refresh token revoked and restored,
403 on some referral reads. Each: nothing lost, no duplicate, both sides equal, nothing left
poisoned after replay."""

from __future__ import annotations

from typing import Any

import pytest

from bench.chaos_faults import FaultConfig, run_fault

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SMALL = FaultConfig(pairs=8, edit_rate=20.0, storage_down_seconds=3.0, quiet_seconds=3.0, timeout_s=150.0)


def _clean(result: dict[str, Any], *, token_warning: bool = False) -> None:
    after = result["after_replay"]
    assert after["missing"] == 0, after["examples"]["missing"]
    assert after["duplicates"] == 0, after["examples"]["duplicates"]
    assert after["unequal_pairs"] == 0, after["examples"]["unequal"]
    assert after["lost_updates"] == 0, after["examples"]["lost_updates"]
    assert result["poison_left"] == 0
    if token_warning:  # the token store remembers the failed renewal until the next one succeeds
        reasons = result["status_after_reasons"]
        assert all("renewal failed" in r for r in reasons), reasons
    else:
        assert result["status_after_exit_code"] == 0, result["status_after_reasons"]
    assert result["ok"], result


def test_storage_killed_and_restarted_mid_traffic_loses_nothing() -> None:
    _clean(run_fault("storage", SMALL))


def test_a_revoked_refresh_token_fails_status_naming_it_and_replay_restores_everything() -> None:
    result = run_fault("token", SMALL)
    during = result["during"]
    assert during["status_exit_code"] == 1
    assert during["status_health"]["verdict"] == "failing"
    assert during["status_health"]["config_error"]["cause"] == "partner-center credentials"
    assert result["poisoned"] > 0 and result["replayed"] == result["poisoned"]
    _clean(result, token_warning=True)


def test_403_on_some_referral_reads_then_replay_restores_everything() -> None:
    result = run_fault("forbidden", SMALL)
    assert result["during"]["forbidden"] > 0
    _clean(result)
