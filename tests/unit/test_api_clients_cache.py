"""The composition root's per-Settings caches: keyed by identity, never handing one Settings's
client to another that happens to get the same id after the first was garbage-collected."""

from __future__ import annotations

from shared.api_clients import _PerSettings
from tests.unit.builders import a_settings


def test_a_settings_reusing_a_dead_ones_id_gets_its_own_client() -> None:
    cache: _PerSettings[str] = _PerSettings()
    first, second = a_settings(), a_settings()
    cache._items[id(second)] = (first, "first's client")  # as if `first` had lived at that address

    assert cache.get(second, lambda s: "second's client") == "second's client"
    assert cache.get(second, lambda s: "built again") == "second's client"  # then cached
