"""The performance suite's own machinery (the measurements are not tests)."""
import pathlib

import numpy as np
import pytest

from benchmarks.perf import list_schedule, rounded_construction, run_perf, solve_baseline

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_list_schedule():
    assert list_schedule([3, 3, 3, 3], 2) == 6
    assert list_schedule([5, 1, 1, 1, 1, 1], 2) == 5
    assert list_schedule([1] * 10, 128) == 1
    d = list(np.random.default_rng(0).uniform(0, 1, 50))
    for p in (1, 2, 8):       # Graham: at most total/p + max
        assert sum(d) / p - 1e-12 <= list_schedule(d, p) <= sum(d) / p + max(d)


def test_baseline_runs_an_other_checkout_and_is_verified_here():
    W = np.random.default_rng(1).standard_normal((12, 3))
    out = solve_baseline(ROOT, W, np.zeros(12), time_limit=30)
    assert out["verdict"] in ("injective", "not_injective") and out["verified"] is True


def test_perf_targets_part_streams_verified_rows(tmp_path):
    rows = run_perf(tmp_path, parts=("targets",), seeds=range(1), time_limit=30,
                    targets=[("gauss", 6, 4, 1), ("gauss", 6, 4, 2)], peer=False)
    assert len(rows) == 2 and all(r["verified"] for r in rows)
    assert (tmp_path / "perf_rows.jsonl").read_text().count("\n") == 2
    assert "target" in (tmp_path / "perf_summary.txt").read_text()
    W, b = rounded_construction(5, 0)
    assert W.shape == (20, 5)


def test_reach_is_the_largest_n_whose_extrapolated_time_fits():
    from benchmarks.perf import reach
    # 10 s at n = 5, x3 per n: 30 s at 6, 90 s at 7, 270 s at 8
    assert reach(10.0, 5, 1.0, budget=90.0, growth=3.0) == 7
    assert reach(10.0, 5, 1.0, budget=89.9, growth=3.0) == 6
    assert reach(10.0, 5, 3.0, budget=90.0, growth=3.0) == 8      # a 3x speedup buys one n
    assert reach(100.0, 5, 1.0, budget=50.0) is None               # not even n0 fits


def test_scaling_plot_from_rows(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks.perf import list_schedule, plot_scaling
    durations = [3.0, 1.0, 1.0, 1.0]
    rows = [{"part": "scaling", "n": 8, "ratio": 6, "workers": w, "measured": False,
             "subtree_seconds": 6.0, "makespan": list_schedule(durations, w),
             "speedup": 6.0 / list_schedule(durations, w)} for w in (1, 2, 8)]
    assert [r["makespan"] for r in rows] == [6.0, 3.0, 3.0]          # the 3 s subtree bounds it
    assert plot_scaling(rows, tmp_path / "s.png").stat().st_size > 1000
