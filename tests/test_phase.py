"""The phase-transition study: the n = 2 closed form against independent
computations and against the solver, the fits and their intervals, the
adaptive sampler, rows streamed to rows.jsonl and resumed runs, the new
curves' methods and cross-checks (seconds in all)."""
import json
import math
import pathlib
from fractions import Fraction

import numpy as np
import pytest

from benchmarks import harness as H
from benchmarks import papers as P
from benchmarks import phase
from benchmarks import phasefit as F

# ---------------------------------------------------------------- n = 2: closed form


def _polytope_probability(m):
    """P(all cyclic adjacent spacing pairs <= 1/2) for m uniform spacings, as the
    volume of that polytope over the simplex's (scipy: halfspace intersection +
    convex hull), i.e. without the inclusion-exclusion of the proof."""
    from scipy.optimize import linprog
    from scipy.spatial import ConvexHull, HalfspaceIntersection
    d = m - 1                                   # coordinates g_1..g_{m-1}; g_m = 1 - sum

    def gap(j):
        j %= m
        if j < d:
            a = np.zeros(d)
            a[j] = 1.0
            return a, 0.0
        return -np.ones(d), 1.0
    H_ = [np.r_[-np.eye(d)[i], 0.0] for i in range(d)] + [np.r_[np.ones(d), -1.0]]
    for j in range(m):
        (a1, b1), (a2, b2) = gap(j), gap(j + 1)
        H_.append(np.r_[a1 + a2, b1 + b2 - 0.5])
    H_ = np.array(H_)
    A, b = H_[:, :-1], -H_[:, -1]
    res = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[A, np.linalg.norm(A, axis=1)], b_ub=b,
                  bounds=[(None, None)] * d + [(0, None)])
    if res.x[-1] <= 1e-12:
        return 0.0
    hull = ConvexHull(HalfspaceIntersection(H_, res.x[:-1]).intersections)
    return hull.volume * math.factorial(d)


@pytest.mark.parametrize("m", range(4, 10))
def test_closed_form_n2_is_the_polytope_volume(m):
    assert _polytope_probability(m) == pytest.approx(float(P.p_injective_n2(m)), abs=1e-9)


def test_closed_form_n2_values_and_wendel():
    assert [P.p_injective_n2(m) for m in (1, 2, 3, 4)] == [0, 0, 0, 0]
    assert P.p_injective_n2(7) == Fraction(29, 64)
    for m in range(4, 30):
        wendel = Fraction(m, 2 ** (m - 1))     # P(all rows in one half-plane), n = 2
        assert 1 - P.p_injective_n2(m) == (m - 2) * wendel
        assert P.p_injective_n2(m) <= P.p_injective_n2(m + 1)


def test_closed_form_n2_monte_carlo():
    """The half-plane criterion on random layers, against the formula, with a
    tolerance of 4.5 binomial standard deviations per m."""
    rng = np.random.default_rng(20261126)
    T = 20000
    for m in range(3, 13):
        freq = P.semicircle_injective(rng.standard_normal((T, m, 2))).mean()
        p = float(P.p_injective_n2(m))
        assert abs(freq - p) <= 4.5 * math.sqrt(max(p * (1 - p), 1 / T) / T), (m, freq, p)


def test_semicircle_criterion_rejects_degenerate_rows():
    with pytest.raises(ValueError):
        P.semicircle_injective(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError):
        P.semicircle_injective(np.array([[0.0, 0.0], [1.0, 0.0]]))


def test_solver_frequencies_at_n2_match_the_closed_form():
    """Every n = 2 phase layer: the solver's verified verdict equals the
    half-plane criterion, and the frequencies per m pass a binomial test
    against the closed form (two-sided p >= 0.001 at each m)."""
    from scipy.stats import binomtest
    curve = phase.parse_curve("gauss")
    seeds = 40
    for m in range(5, 11):
        k = 0
        for seed in range(seeds):
            row = H.run_task(phase.make_task(curve, 2, m, seed, "tree", 20.0))
            assert row["verdict"] in H.DECIDED and row["verified"] is True, row
            W, _ = H.make_layer({"family": "phase", "n": 2, "m": m, "seed": seed})
            assert (row["verdict"] == "injective") == P.semicircle_injective(W), (m, seed)
            k += row["verdict"] == "injective"
        p = float(P.p_injective_n2(m))
        assert binomtest(k, seeds, p).pvalue >= 1e-3, (m, k, seeds, p)


# ---------------------------------------------------------------- fits


def test_fit_recovers_a_logistic_and_probit_curve():
    c = np.arange(3.0, 8.01, 0.25)
    N = np.full(c.size, 4000)
    for link in F.LINKS:
        k = np.round(N * F.link_cdf((c - 5.3) / 0.4, link))
        f = F.fit_transition(c, k, N, link)
        assert f.c50 == pytest.approx(5.3, abs=2e-3) and f.scale == pytest.approx(0.4, rel=1e-2)
        assert f.width == pytest.approx(F.WIDTH_FACTOR[link] * f.scale)
        assert f.p(5.3) == pytest.approx(0.5, abs=1e-3)
    assert F.fit_transition([3, 4], [0, 0], [5, 5]).c50 is None       # no transition


def test_bootstrap_interval_covers_the_truth_and_shrinks():
    rng = np.random.default_rng(3)
    c = np.arange(3.0, 7.01, 0.5)
    p = F.link_cdf((c - 5.0) / 0.5)
    cover, widths = 0, {}
    for N in (20, 320):
        for t in range(40):
            k = rng.binomial(N, p)
            b = F.bootstrap_transition(c, k, np.full(c.size, N), n_resamples=400, seed=t)
            cover += b["c50_ci"][0] <= 5.0 <= b["c50_ci"][1]
            widths.setdefault(N, []).append(b["c50_ci"][1] - b["c50_ci"][0])
    assert cover >= 70                     # 95 % nominal over 80 intervals
    # 16 times the layers: intervals about 4 times narrower
    assert 3.0 < np.median(widths[20]) / np.median(widths[320]) < 5.5


def test_extrapolation_recovers_both_forms_and_tests_a_reference():
    ns = np.arange(3, 11)
    rng = np.random.default_rng(0)
    y = 6.7 - 5.0 / ns - 2.0 / ns ** 2
    boot = y[None, :] + 0.02 * rng.standard_normal((100, ns.size))
    ci = [[v - 0.04, v + 0.04] for v in y]
    e = F.extrapolate(ns, y, ci, boot, "poly", reference=6.698)
    assert e["params"]["c_inf"] == pytest.approx(6.7, abs=1e-6)
    assert e["ci"]["c_inf"][0] < 6.7 < e["ci"]["c_inf"][1] and e["reference_in_ci"] is True
    far = F.extrapolate(ns, y, ci, boot, "poly", reference=9.0)
    assert far["reference_in_ci"] is False
    with pytest.raises(ValueError):
        F.extrapolate(ns[:3], y[:3], ci[:3], form="power")


# ---------------------------------------------------------------- adaptive sampling


def test_plan_round_samples_the_transition_band_and_stops_at_the_target():
    n = 4
    rng = np.random.default_rng(1)
    counts = {}
    for m in range(8, 41, 2):
        N = 6
        counts[m] = [int(rng.binomial(N, F.link_cdf((m / n - 5.0) / 0.3))), N, 0]
    alloc, st = phase.plan_round(counts, n, 0.1, (8, 40), 2000, resamples=300)
    assert st["stop"] is None and alloc
    fit = F.fit_transition([m / n for m in counts], [v[0] for v in counts.values()],
                           [v[1] for v in counts.values()])
    for m in alloc:                        # new layers only where 0.05 <= P <= 0.95 (or at c50)
        p = float(fit.p(m / n))
        assert 0.05 <= p <= 0.95 or abs(m - fit.c50 * n) < 1
    assert 24 <= sum(alloc.values()) <= 240
    # plenty of data: the target is met, nothing more is asked for
    big = {m: [int(round(400 * F.link_cdf((m / n - 5.0) / 0.3))), 400, 0]
           for m in range(8, 41)}
    alloc, st = phase.plan_round(big, n, 0.1, (8, 40), 100000, resamples=300)
    assert alloc == {} and st["stop"] == "target reached"
    alloc, st = phase.plan_round(counts, n, 0.1, (8, 40), 50, resamples=300)
    assert alloc == {} and st["stop"] == "layer cap reached"


def _tiny_cfg(**extra):
    ex = {"phase_ns": [2], "phase_c_step": 1.0, "phase_c_max": 7.0, "phase_seeds": 4,
          "phase_ci": 0.6, "phase_max_layers": 60}
    ex.update(extra)
    return H.Config(quick=True, time_limit=20.0, extra=ex)


def test_adaptive_ladder_adds_rounds_in_the_band_and_counts_unknowns():
    lads = H.phase_ladders(_tiny_cfg())
    assert len(lads) == 1 and lads[0].key == ("papers", "gauss", 2)
    rows = H.run_ladders(lads, H.SerialExecutor(), progress=False)
    assert H.mark_agreement(rows) == []
    tree = [r for r in rows if r["method"] == "tree"]
    assert all(r["verified"] is True for r in tree)
    assert len(lads[0].rungs) >= 2                         # at least one adaptive round
    first = {t["m"] for t in lads[0].rungs[0]}
    assert first == {4, 6, 8, 10, 12, 14}
    assert 8 <= len(tree) <= 60 + 2 * 24
    keys = [(r["m"], r["seed"]) for r in tree]
    assert len(keys) == len(set(keys))                     # consecutive fresh seeds per m
    # every tree row is a point of the summary; unknowns counted, never dropped
    rows.append(dict(tree[0], seed=999, verdict="unknown", instance="x"))
    s = phase.summarise(rows, resamples=200)
    rec = s["c50"]["2"]
    assert rec["unknown"] == 1 and rec["layers"] == len(tree) + 1
    assert rec["verified"] == rec["decided"] == len(tree)
    assert "verified: yes" in phase.table_text(s)
    # a decided row whose proof was not re-checked is counted and shown
    rows.append(dict(tree[0], seed=998, verified=False, instance="y"))
    s2 = phase.summarise(rows, resamples=200)
    assert s2["c50"]["2"]["verified"] == s2["c50"]["2"]["decided"] - 1
    assert "NO (1 not verified)" in phase.table_text(s2)
    rows.pop()
    assert rec["ci"][0] < rec["estimate"] < rec["ci"][1]
    assert set(s["c50"]) == {"2"} and json.dumps(s, default=H.json_default)


def test_report_writes_summary_plots_and_rows_and_rereads_them(tmp_path):
    rows = H.run_ladders(H.phase_ladders(_tiny_cfg()), H.SerialExecutor(), progress=False)
    with open(tmp_path / H.ROWS_FILE, "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    assert phase.main([str(tmp_path), "--out", str(tmp_path / "a"), "--resamples", "100"]) == 0
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert s["c50"]["2"]["layers"] == sum(r["method"] == "tree" for r in rows)
    assert {"phase_transition.png", "phase_c50_vs_n.png"} <= set(s["plots"])
    # the compressed rows give the same summary
    again = phase.report(tmp_path / "a" / "rows.jsonl.gz", tmp_path / "b", resamples=100)
    assert again["c50"] == s["c50"]
    assert phase.main([str(tmp_path / "missing"), "--out", str(tmp_path / "c")]) == 2
    assert (tmp_path / "a" / "table.txt").read_text().strip() == phase.table_text(s)
    # --readme fills the table block (and only it); a file without the block is bad input
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- phase-table -->\nold\n<!-- /phase-table -->\n\nrest\n")
    assert phase.main([str(tmp_path), "--out", str(tmp_path / "d"), "--resamples", "100",
                       "--readme", str(readme)]) == 0
    d = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert phase.readme_table(readme) == phase.markdown_table(d)
    assert readme.read_text().startswith("# x\n") and readme.read_text().endswith("\nrest\n")
    assert "| 2 |" in phase.readme_table(readme) and "old" not in readme.read_text()
    # an n whose interval misses the target is marked as such in both tables
    d["curves"]["gauss"]["2"]["target_met"] = False
    assert "target ±0.1 not met" in phase.markdown_table(d)
    assert "(target not met)" in phase.table_text(d)
    d["curves"]["gauss"]["2"]["target_met"] = True
    assert "not met" not in phase.markdown_table(d) + phase.table_text(d)
    (tmp_path / "plain.md").write_text("no block\n")
    assert phase.main([str(tmp_path), "--out", str(tmp_path / "e"), "--resamples", "100",
                       "--readme", str(tmp_path / "plain.md")]) == 2


def test_readme_quotes_the_committed_summary():
    """The README's c50 table is the committed summary's, and the README, the
    notebook and the committed directory agree on where the results are."""
    root = pathlib.Path(__file__).resolve().parents[1]
    summary = json.loads((root / phase.RESULTS / "summary.json").read_text())
    assert phase.readme_table(root / "README.md") == phase.markdown_table(summary)
    assert str(phase.RESULTS) in (root / "README.md").read_text()
    assert (root / phase.RESULTS / "rows.jsonl.gz").exists()
    nb = (root / "notebooks" / "phase_transition.ipynb").read_text()
    assert "phase.RESULTS" in nb and str(phase.RESULTS) in nb
    # every n of the table has its counts: decided + unknown = layers, all verified
    for n, rec in summary["c50"].items():
        assert rec["layers"] == rec["decided"] + rec["unknown"], n
        assert rec["verified"] == rec["decided"], n


def test_rows_stream_and_a_killed_run_resumes(tmp_path):
    """Rows reach rows.jsonl as they finish; an interrupted run resumed with
    resume=True reuses them (no solve twice) and ends with the rows of an
    uninterrupted run."""
    calls = []

    def counting(W, b, time_limit):
        from solver import check_layer
        calls.append(1)
        return check_layer(W, b, method="tree", time_limit=time_limit)
    H.register_method("counting", counting)

    def plan():                # the decider under another label, to count its solves
        curve = dict(phase.parse_curve("gauss"), decider="counting")
        return [phase.AdaptiveLadder(curve, 2, phase.settings(_tiny_cfg()), 20.0)]

    class Interrupted(H.SerialExecutor):
        def wait(self, fs):
            if len(calls) >= 7:
                raise KeyboardInterrupt
            return super().wait(fs)
    try:
        full, _ = H.run_benchmark(tmp_path / "full", ladders=plan(), workers=1, progress=False,
                                  plots=False, verbose=False, cfg=H.Config(quick=True))
        n_full = len(calls)
        calls.clear()
        out = tmp_path / "killed"
        stream = H.RowStream(out / H.ROWS_FILE)
        status = {}
        H.run_ladders(plan(), Interrupted(), progress=False, status=status, stream=stream)
        stream.close()
        assert status["stopped_by"] == "interrupt"
        stored = H.load_rows(out / H.ROWS_FILE)
        assert len([r for r in stored if r["method"] == "counting"]) == 7
        with open(out / H.ROWS_FILE, "a") as fh:
            fh.write('{"suite": "papers", "torn')          # killed while writing a line
        calls.clear()
        resumed, code = H.run_benchmark(out, ladders=plan(), workers=1, progress=False,
                                        plots=False, verbose=False, resume=True,
                                        cfg=H.Config(quick=True))
    finally:
        H.CUSTOM_METHODS.clear()
    assert code == 0
    assert len(calls) == n_full - 7                        # nothing solved twice
    assert resumed["config"]["rows_reused"] == len(stored)
    assert H.comparable(resumed["rows"]) == H.comparable(full["rows"])
    assert len(H.load_rows(out / H.ROWS_FILE)) == len(full["rows"])


def test_new_curves_use_the_same_matrices_and_are_verified():
    bias = phase.parse_curve("bias:0.5")
    nonneg = phase.parse_curve("nonneg")
    W0, b0 = H.make_layer({"family": "phase", "n": 3, "m": 9, "seed": 2})
    W1, b1 = H.make_layer({"family": "phasebias", "n": 3, "m": 9, "seed": 2, "s": 0.5})
    W2, b2 = H.make_layer({"family": "phasenonneg", "n": 3, "m": 9, "seed": 2})
    assert np.array_equal(W0, W1) and np.array_equal(W0, W2)
    assert not b0.any() and not b2.any() and b1.any()
    assert 0.1 < np.std(b1) < 1.5
    verdicts = set()
    for curve, ms in ((bias, (6, 12, 24)), (nonneg, (3, 6, 12))):
        for m in ms:
            for seed in range(3):
                t = phase.make_task(curve, 3, m, seed, curve["decider"], 20.0)
                row = H.run_task(t)
                assert row["verdict"] in H.DECIDED and row["verified"] is True, row
                verdicts.add((curve["name"], row["verdict"]))
                if curve is bias:
                    assert row["bias_scale"] == 0.5 and row["instance"].endswith("_bias0.5")
    assert len(verdicts) == 4                              # both verdicts on both curves
    with pytest.raises(ValueError):
        phase.parse_curve("bias:-1")


def test_orthant_witness_check_rejects_points_outside():
    W = np.array([[1.0, -1.0]])
    ok, _ = H.check_orthant_witness(W, np.zeros(1), {"x1": ["0", "0"], "x2": ["1", "1"]})
    assert ok
    ok, why = H.check_orthant_witness(W, np.zeros(1), {"x1": ["-1", "0"], "x2": ["0", "1"]})
    assert not ok and "orthant" in why


def test_cross_checks_flag_violated_implications():
    def row(fam, verdict, method="tree", **kw):
        return {"family": fam, "n": 3, "m": 9, "seed": 0, "method": method,
                "verdict": verdict, **kw}
    ok = [row("phase", "injective"), row("phasenonneg", "injective", "nonneg"),
          row("phasebias", "not_injective", bias_scale=1.0)]
    assert phase.problems({"cross_checks": phase.cross_checks(ok)}) == []
    bad = [row("phase", "not_injective"), row("phasebias", "injective", bias_scale=1.0)]
    probs = phase.problems({"cross_checks": phase.cross_checks(bad)})
    assert len(probs) == 1 and probs[0]["curves"] == "gauss|bias:1"
    # the bias scale is irrelevant: verdicts of b and 4 b must agree
    bad = [row("phasebias", "injective", bias_scale=0.25), row("phasebias", "not_injective",
                                                               bias_scale=1.0)]
    probs = phase.problems({"cross_checks": phase.cross_checks(bad)})
    assert len(probs) == 1 and probs[0]["curves"] == "bias:0.25|bias:1"
    bad = [row("phase", "injective"), row("phasenonneg", "not_injective", "nonneg")]
    assert len(phase.problems({"cross_checks": phase.cross_checks(bad)})) == 1


def test_cli_rejects_a_bad_curve(capsys):
    from benchmarks.cli import main
    assert main(["--suite", "papers", "--phase-curve", "sideways", "--out", "unused"]) == 2
    assert "phase curve" in capsys.readouterr().err


def test_bias_scale_is_irrelevant_to_injectivity():
    """(W, t b) is injective iff (W, b) is (x -> t x): the bias:S curves coincide."""
    verdicts = {}
    for s in (0.3, 1.0, 8.0):
        curve = phase.parse_curve(f"bias:{s}")
        for m in (9, 12, 15, 18):
            for seed in range(3):
                row = H.run_task(phase.make_task(curve, 3, m, seed, "tree", 20.0))
                assert row["verified"] is True
                verdicts.setdefault((m, seed), set()).add(row["verdict"])
    assert all(len(v) == 1 for v in verdicts.values())
    assert {v for vs in verdicts.values() for v in vs} == {"injective", "not_injective"}


def test_adaptive_sweep_on_dask_equals_the_serial_sweep(tmp_path):
    """--dask: the same adaptive rounds and rows as in process, streamed by the driver."""
    distributed = pytest.importorskip("distributed")
    serial = H.run_ladders(H.phase_ladders(_tiny_cfg()), H.SerialExecutor(), progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results, code = H.run_benchmark(tmp_path, ladders=H.phase_ladders(_tiny_cfg()),
                                        client=client, progress=False, plots=False,
                                        verbose=False, cfg=H.Config(quick=True))
    assert code == 0
    H.mark_agreement(serial)
    assert H.comparable(results["rows"]) == H.comparable(serial)
    assert len(H.load_rows(tmp_path / H.ROWS_FILE)) == len(serial)


def test_goodness_of_fit_accepts_the_model_and_rejects_a_plateau():
    c = np.arange(3.0, 8.01, 0.5)
    N = np.full(c.size, 200)
    rng = np.random.default_rng(5)
    k = rng.binomial(N, F.link_cdf((c - 5.5) / 0.5))
    assert F.goodness_of_fit(c, k, N, n_sim=500)["pvalue"] > 0.01
    plateau = np.where(c < 5, 0.0, np.where(c < 6.5, 0.5, 1.0))     # not a logistic curve
    k = rng.binomial(N, plateau)
    assert F.goodness_of_fit(c, k, N, n_sim=500)["pvalue"] < 0.01
    t = F.pearson_test([0, 3], [10, 10], [0.0, 0.3])
    assert t["cells"] == 1 and 0 < t["pvalue"] <= 1
    assert F.pearson_test([1, 3], [10, 10], [0.0, 0.3])["pvalue"] == 0.0   # impossible count


def test_bias_sandwich_bounds():
    def rec(e, lo, hi):
        return {"estimate": e, "ci": [lo, hi]}
    curves = {"gauss": {"3": rec(4.5, 4.4, 4.6), "4": rec(4.9, 4.8, 5.0)},
              "bias:1": {"3": rec(5.0, 4.9, 5.1), "4": rec(4.0, 3.9, 4.1)}}
    bb = phase.bias_bounds(curves)["bias:1"]
    assert bb[0]["n"] == 3 and bb[0]["upper"] == pytest.approx(4.9 * 4 / 3) and bb[0]["consistent"]
    assert bb[1]["upper"] is None and not bb[1]["consistent"]       # below c50_gauss(4)


def test_plan_round_keeps_sampling_until_the_band_holds_enough_layers():
    n = 4
    big = {m: [int(round(40 * F.link_cdf((m / n - 5.0) / 0.3))), 40, 0] for m in range(8, 41)}
    alloc, st = phase.plan_round(big, n, 0.5, (8, 40), 100000, resamples=300)
    assert alloc == {} and st["stop"] == "target reached"
    alloc, st = phase.plan_round(big, n, 0.5, (8, 40), 100000, resamples=300, min_band=2000)
    assert st["stop"] is None and sum(alloc.values()) >= min(240, 2000 - st["band_layers"])
