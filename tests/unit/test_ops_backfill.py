"""Backfill bookkeeping: where a run starts, which records it skips, what it checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.ops.backfill import Cursor, RunOptions, odata_datetime, stamp_key, start_point, wait_for_room
from shared.store.watermarks import Watermark

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_a_first_run_starts_at_since():
    assert start_point(T0, Watermark(None), restart=False) == (T0, Watermark(None))


def test_a_later_run_resumes_from_a_checkpoint_past_since():
    mark = Watermark(T0 + timedelta(hours=1), frozenset({"a@x"}))
    assert start_point(T0, mark, restart=False) == (mark.value, mark)


def test_an_earlier_since_than_the_checkpoint_still_resumes_but_restart_ignores_the_checkpoint():
    mark = Watermark(T0, frozenset())
    assert start_point(T0 - timedelta(days=30), mark, restart=False)[0] == T0
    assert start_point(T0 - timedelta(days=30), mark, restart=True) == (
        T0 - timedelta(days=30),
        Watermark(None),
    )


def test_a_checkpoint_older_than_since_is_not_resumed():
    assert start_point(T0, Watermark(T0 - timedelta(days=1)), restart=False) == (T0, Watermark(None))


def test_naive_since_is_utc():
    assert start_point(datetime(2025, 3, 1, 12, 0), Watermark(None), restart=False)[0] == T0


def test_the_cursor_skips_records_already_enqueued_at_the_checkpoint_instant_only():
    cursor = Cursor(Watermark(T0, frozenset({stamp_key("a", T0)})))
    assert [cursor.offer("a", T0), cursor.offer("b", T0), cursor.offer("a", T0 + timedelta(seconds=1))] == [
        False, True, True,
    ]  # fmt: skip


def test_the_cursor_skips_records_older_than_the_checkpoint_that_a_coarse_query_returns():
    cursor = Cursor(Watermark(T0, frozenset()))
    assert cursor.offer("a", T0 - timedelta(milliseconds=300)) is False
    assert cursor.offer("b", T0) is True


def test_the_checkpoint_is_the_last_instant_with_every_id_seen_at_it():
    cursor = Cursor(Watermark(None))
    for record, stamp in (("a", T0), ("b", T0 + timedelta(seconds=1)), ("c", T0 + timedelta(seconds=1))):
        cursor.offer(record, stamp)
    value, seen = cursor.checkpoint()
    assert value == T0 + timedelta(seconds=1)
    assert seen == {stamp_key("b", value), stamp_key("c", value)}


def test_odata_datetimes_are_utc_with_a_z():
    assert (
        odata_datetime(datetime(2025, 3, 1, 13, 0, tzinfo=UTC).astimezone()) == "2025-03-01T13:00:00.000000Z"
    )


def _options(depths: list[int], max_queued: int, sleeps: list[float]) -> RunOptions:
    readings = iter(depths)
    return RunOptions(
        since=T0, until=T0, max_queued=max_queued, queue_depth=lambda _settings: next(readings),
        sleep=sleeps.append,
    )  # fmt: skip


def test_a_batch_waits_until_the_queue_has_room_for_it():
    sleeps: list[float] = []
    wait_for_room(None, _options([1200, 900, 800], 1000, sleeps), 200)  # type: ignore[arg-type]
    assert len(sleeps) == 2


def test_a_batch_larger_than_the_limit_waits_for_an_empty_queue_not_forever():
    sleeps: list[float] = []
    wait_for_room(None, _options([5, 0], 100, sleeps), 200)  # type: ignore[arg-type]
    assert len(sleeps) == 1


def test_no_limit_never_reads_the_queue():
    sleeps: list[float] = []
    wait_for_room(None, _options([], 0, sleeps), 200)  # type: ignore[arg-type]
    assert sleeps == []
