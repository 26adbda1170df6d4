"""The poll's window and deduplication arithmetic (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.core.poll_window import PollPlan, parse_stamp, plan, row_key, window_start

T0 = datetime(2030, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)


def row(rid: str, stamp: datetime) -> dict[str, str]:
    return {
        "Id": rid,
        "SystemModstamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000",
    }


def test_salesforce_stamps_parse_to_utc():
    assert parse_stamp("2030-01-01T12:00:00.500+0000") == T0


def test_first_poll_looks_back_later_polls_overlap():
    assert window_start(None, T0, overlap_seconds=120, lookback_hours=24) == T0 - timedelta(hours=24)
    assert window_start(
        T0, T0 + timedelta(hours=1), overlap_seconds=120, lookback_hours=24
    ) == T0 - timedelta(seconds=120)


def test_rows_already_seen_are_skipped_and_new_saves_are_not():
    seen = frozenset({row_key("006A", T0)})
    late = T0 - timedelta(seconds=30)
    result = plan(
        [row("006L", late), row("006A", T0), row("006B", T0 + timedelta(milliseconds=1))],
        T0,
        seen,
        overlap_seconds=120,
    )
    assert result.to_enqueue == {"006L": late, "006B": T0 + timedelta(milliseconds=1)}
    assert result.watermark == T0 + timedelta(milliseconds=1)
    assert row_key("006L", late) in result.seen and row_key("006A", T0) in result.seen


def test_duplicates_within_a_poll_keep_the_latest_save():
    result = plan(
        [row("006A", T0), row("006A", T0 + timedelta(seconds=1))], None, frozenset(), overlap_seconds=0
    )
    assert result.to_enqueue == {"006A": T0 + timedelta(seconds=1)}


def test_keys_older_than_the_overlap_are_forgotten_and_the_mark_never_regresses():
    old = row_key("006O", T0 - timedelta(hours=1))
    result = plan([row("006L", T0 - timedelta(seconds=10))], T0, frozenset({old}), overlap_seconds=60)
    assert result.watermark == T0
    assert old not in result.seen


def test_nothing_at_all():
    assert plan([], None, frozenset(), overlap_seconds=60).watermark is None


def _poll(rows: list[dict[str, str]], mark: PollPlan | None, *, budget: int) -> PollPlan:
    """One poll: the query returns the rows at or after the window's start (whole seconds)."""
    watermark = mark.watermark if mark else None
    start = window_start(watermark, T0 + timedelta(hours=1), overlap_seconds=30, lookback_hours=24)
    if mark is not None and mark.seen_from is not None:
        start = max(start, mark.seen_from)
    start = start.replace(microsecond=0)
    fetched = [r for r in rows if parse_stamp(r["SystemModstamp"]) >= start]
    return plan(
        fetched, watermark, mark.seen if mark else frozenset(), overlap_seconds=30,
        seen_from=mark.seen_from if mark else None, max_seen_chars=budget,
    )  # fmt: skip


def test_a_burst_bigger_than_the_remembered_keys_is_not_enqueued_again_by_every_later_poll():
    # 200 saves over 20 seconds inside the 30 s overlap; the keys of only ~10 fit in the budget.
    rows = [row(f"006{n:04d}", T0 + timedelta(milliseconds=100 * n)) for n in range(200)]
    first = _poll(rows, None, budget=300)
    assert len(first.to_enqueue) == 200
    assert first.seen_from is not None and len(first.seen) < 200
    assert len(str(sorted(first.seen))) < 300 + 4 * len(first.seen)
    later = first
    for _ in range(3):  # the stream stays quiet: the mark does not move, nothing is enqueued again
        later = _poll(rows, later, budget=300)
        assert later.to_enqueue == {}
        assert later.watermark == first.watermark
    news = [*rows, row("006NEW", T0 + timedelta(seconds=40))]
    assert list(_poll(news, later, budget=300).to_enqueue) == ["006NEW"]


def test_without_a_burst_no_window_start_is_kept():
    rows = [row("006A", T0), row("006B", T0 + timedelta(seconds=1))]
    result = _poll(rows, None, budget=30_000)
    assert result.seen_from is None and len(result.seen) == 2
