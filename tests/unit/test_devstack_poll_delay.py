"""The local host waits between queue receives as the Functions host's queue listener does."""

from __future__ import annotations

import random

import pytest

from devstack.poll_delay import PollDelay


def test_waits_grow_from_the_minimum_with_jitter_up_to_the_maximum_and_stay_there():
    delay = PollDelay(2.0, rng=random.Random(7))
    waits = [delay.next_wait() for _ in range(9)]
    assert waits[0] == pytest.approx(0.1)  # the first empty receive: the minimum
    for n, wait in enumerate(waits[1:6], start=1):  # minimum + 0.8..1.2 x 2^(n-1) x minimum
        assert 0.1 + 0.08 * 2 ** (n - 1) <= wait <= 0.1 + 0.12 * 2 ** (n - 1)
    assert waits[6:] == [2.0, 2.0, 2.0]


def test_a_found_message_brings_the_next_wait_back_to_the_minimum():
    delay = PollDelay(2.0, rng=random.Random(1))
    for _ in range(8):
        delay.next_wait()
    delay.found_messages()
    assert delay.next_wait() == pytest.approx(0.1)
    assert 0.18 <= delay.next_wait() <= 0.22  # and grows again


def test_a_maximum_below_the_minimum_wins():
    delay = PollDelay(0.05)
    assert [delay.next_wait() for _ in range(3)] == [0.05, 0.05, 0.05]
