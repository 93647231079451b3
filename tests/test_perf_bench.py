"""The performance suite's own machinery (the measurements are not tests)."""
import pathlib

import numpy as np

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
