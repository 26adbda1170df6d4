"""A smoke of the benchmark's own arithmetic (the benchmark itself runs in `make bench`)."""

from __future__ import annotations

from bench.backfill import peak_rate, summarise


def test_peak_rate_over_one_second_windows() -> None:
    samples = [(0.0, 0), (0.5, 5), (1.0, 10), (1.5, 40), (2.0, 45), (3.0, 50)]
    assert peak_rate(samples) == 35.0  # 1.0 s -> 2.0 s: 35 calls


def test_summary_takes_the_median_run_and_the_spread() -> None:
    def run(rate: float) -> dict[str, object]:
        return {
            "records_per_s": rate, "pc_total_calls_per_record": 1.0, "sf_total_calls_per_record": 2.0,
            "app_cpu_ms_per_record": 10.0, "function_cpu_ms_per_record": 9.0, "floor_cpu_ms": 2.5,
            "peak_rss_mb": 100.0,
            "pc_calls_per_record": {}, "sf_calls_per_record": {},
        }  # fmt: skip

    summary = summarise([run(50.0), run(70.0), run(60.0)])
    assert summary["records_per_s"] == 60.0
    assert summary["spread"]["records_per_s"] == {"median": 60.0, "min": 50.0, "max": 70.0}
    assert summary["cpu_ratio_to_floor"] == 4.0
    assert summary["function_cpu_ratio_to_floor"] == 3.6
    assert summary["cpu_ratio_by_run"] == [4.0, 4.0, 4.0]
    assert len(summary["runs"]) == 3
