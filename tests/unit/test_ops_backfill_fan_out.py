"""The batch backfill's fan-out: a thread's contiguous share per task, results in the items' order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.ops.backfill_batch import _STORAGE_THREADS, _fan_out


@pytest.mark.parametrize(
    "count", [0, 1, _STORAGE_THREADS - 1, _STORAGE_THREADS, 7 * _STORAGE_THREADS + 3, 200]
)
def test_results_come_back_in_order_one_task_per_share(count: int) -> None:
    threads: set[int] = set()
    calls: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            threads.add(threading.get_ident())
            calls.append(item)
        return item * 10

    with ThreadPoolExecutor(_STORAGE_THREADS) as pool:
        tasks: list[object] = []
        submit = pool.submit

        def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            tasks.append(fn)
            return submit(fn, *args, **kwargs)

        pool.submit = counted  # type: ignore[method-assign,assignment]
        assert _fan_out(pool, work, list(range(count))) == [n * 10 for n in range(count)]
    assert sorted(calls) == list(range(count))  # each item once
    assert len(tasks) <= _STORAGE_THREADS  # a task per share, not per item
    assert len(threads) <= min(count, _STORAGE_THREADS)


def test_a_failing_item_raises_to_the_caller() -> None:
    def work(item: int) -> int:
        if item == 5:
            raise ValueError("refused")
        return item

    with ThreadPoolExecutor(_STORAGE_THREADS) as pool, pytest.raises(ValueError, match="refused"):
        _fan_out(pool, work, list(range(40)))
