"""The referral state a link keeps (`PcState`): packed small and read back exactly, including what
links saved before the window was sized to the text hold."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.store.links import _MAX_PACKED, _pack, _unpack

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=12), kids, max_size=6),
    max_leaves=60,
)


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=20), _json, min_size=1, max_size=12))
def test_any_state_reads_back_exactly(state: dict[str, Any]):
    packed = _pack(state)
    assert packed == "" or _unpack(packed) == state


def test_sizes_across_every_window_read_back_and_big_ones_are_not_kept():
    for size in (1, 200, 511, 512, 513, 4096, 5000, 20_000, 40_000):
        state = {"notes": "".join(chr(33 + (n * 7919) % 90) for n in range(size))}
        packed = _pack(state)
        if len(base64.b64encode(zlib.compress(json.dumps(state).encode()))) <= _MAX_PACKED - 100:
            assert _unpack(packed) == state
        else:
            assert packed == ""  # read from Partner Center each time instead


def test_a_state_packed_the_old_way_still_reads():
    state = {"id": "r-1", "eTag": 'W/"1"', "details": {"notes": "Zürich " * 40}}
    old = base64.b64encode(zlib.compress(json.dumps(state, ensure_ascii=False).encode())).decode()
    assert _unpack(old) == state
