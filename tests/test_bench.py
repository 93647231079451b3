"""The benchmark harness on tiny suites (seconds): rows, agreement, loud
disagreements, local processes == Dask == in process, and the papers'
numbers (c* of Theorem 6, the 50 % point, the Figure 2 test)."""
import json
import math

import numpy as np
import pytest

from benchmarks import harness as H
from benchmarks import papers as P
from solver import Verdict
from solver.certificates import check_witness
from solver.result import LayerResult, Witness

REQUIRED = ("suite", "instance", "n", "m", "method", "verdict", "seconds", "agree",
            "cells", "nodes", "cert_bytes", "verified")


def tiny_ladders(methods=("tree", "bruteforce"), families=("gauss", "construct", "tilt", "int"),
                 ns=(2, 3), seeds=1, time_limit=20.0):
    cfg = H.Config(quick=True, time_limit=time_limit, seeds=seeds, max_n=max(ns),
                   families=list(families))
    lads = H.layer_ladders(cfg, list(methods))
    for ld in lads:
        ld.rungs = [r for r in ld.rungs if r[0]["n"] in ns]
    return [ld for ld in lads if ld.rungs]


def test_tiny_suite_rows_and_agreement(tmp_path):
    results, code = H.run_benchmark(tmp_path, ladders=tiny_ladders(), workers=1,
                                    progress=False, plots=True, verbose=False,
                                    cfg=H.Config(quick=True))
    assert code == 0, results["problems"]
    rows = results["rows"]
    assert rows and all(all(k in r for k in REQUIRED) for r in rows)
    assert all(r["agree"] is True for r in rows)
    assert {r["method"] for r in rows} == {"tree", "bruteforce"}
    for r in rows:
        assert r["verdict"] in ("injective", "not_injective")
        if r["method"] == "tree":
            assert r["verified"] is True and r["nodes"] is not None
            assert (r["cert_bytes"] or 0) > 0 if r["verdict"] == "injective" else True
    # both verdicts occur, and construct / tilt are what they are built to be
    assert {r["verdict"] for r in rows} == {"injective", "not_injective"}
    assert all(r["verdict"] == "injective" for r in rows if r["family"] == "construct")
    assert all(r["verdict"] == "not_injective" for r in rows if r["family"] == "tilt")
    data = json.loads((tmp_path / "results.json").read_text())
    assert list(data)[0] == "rows" and len(data["rows"]) == len(rows)
    assert (tmp_path / "time_vs_size.png").stat().st_size > 0
    assert (tmp_path / "agreement.png").exists()


def _liar(W, b, time_limit):
    """A fake method that claims the opposite of the truth, with no proof."""
    from solver import check_layer
    truth = check_layer(W, b, method="tree", time_limit=time_limit)
    m, n = W.shape
    if truth.verdict is Verdict.INJECTIVE:
        return LayerResult(Verdict.NOT_INJECTIVE, Witness.of(([0] * n, [1] + [0] * (n - 1))),
                           "liar", 0.0, "lie", m, n)
    return LayerResult(Verdict.INJECTIVE, None, "liar", 0.0, "lie", m, n, None, {})


def _liar_no_cert_check(W, b, time_limit):
    """Flips the verdict but is registered as a reference (no certificate
    needed), so only the cross-method comparison can catch it."""
    res = _liar(W, b, time_limit)
    if res.verdict is Verdict.NOT_INJECTIVE:  # keep only 'injective' lies
        return LayerResult(Verdict.UNKNOWN, None, "liar2", 0.0, "", res.m, res.n)
    return res


def test_disagreement_is_detected_and_loud(tmp_path, capsys):
    H.register_method("liar", _liar)
    H.register_method("liar2", _liar_no_cert_check, certifies=False)
    try:
        lads = tiny_ladders(methods=("tree", "liar", "liar2"), families=("gauss", "construct"),
                            ns=(2,))
        results, code = H.run_benchmark(tmp_path, ladders=lads, workers=1, progress=False,
                                        plots=False, cfg=H.Config(quick=True))
    finally:
        H.CUSTOM_METHODS.clear()
        H.NO_CERTIFICATE.discard("liar2")
    assert code == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "disagreement" in out
    rows = results["rows"]
    liar = [r for r in rows if r["method"] == "liar"]
    assert liar and all(r["agree"] is False and r["verified"] is False for r in liar)
    # liar2's claims pass as "reference" claims; the comparison still flags them
    lied = [r for r in rows if r["method"] == "liar2" and r["verdict"] == "injective"]
    assert lied and all(r["agree"] is False for r in lied)
    kinds = {p["kind"] for p in results["problems"]}
    assert {"disagreement", "verification failed"} <= kinds


def test_mark_agreement_unknowns_do_not_count():
    base = dict(suite="layers", family="gauss", n=2, m=4, verified=True, message="")
    rows = [dict(base, instance="a", method="x", verdict="injective"),
            dict(base, instance="a", method="y", verdict="unknown", verified=None),
            dict(base, instance="a", method="z", verdict="injective"),
            dict(base, instance="b", method="x", verdict="injective"),
            dict(base, instance="b", method="y", verdict="not_injective")]
    problems = H.mark_agreement(rows)
    assert [r["agree"] for r in rows] == [True, True, True, False, False]
    assert len(problems) == 1 and problems[0]["instance"] == "b"


def _available_methods():
    """tree and bruteforce, plus enumeration and one MILP path once they exist."""
    methods = ["tree", "bruteforce"]
    if H.enumeration_available():
        methods.append("enumerate")
    backends = H.available_backends()
    if backends:
        methods.append(f"milp[{'highs' if 'highs' in backends else backends[0]}]")
    return methods


def test_local_processes_and_dask_give_identical_rows():
    distributed = pytest.importorskip("distributed")
    lads = tiny_ladders(methods=_available_methods(), families=("gauss", "construct", "int"),
                        ns=(2, 3))
    serial = H.run_ladders(lads, H.SerialExecutor(), progress=False)
    ex = H.LocalExecutor(2)
    try:
        local = H.run_ladders(lads, ex, progress=False)
    finally:
        ex.close()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        results, code = H.run_benchmark(None, ladders=lads, client=client, progress=False,
                                        plots=False, verbose=False, cfg=H.Config(quick=True))
    assert code == 0
    dask_rows = results["rows"]
    for rows in (serial, local):
        H.mark_agreement(rows)
    assert H.comparable(local) == H.comparable(serial) == H.comparable(dask_rows)
    assert len(dask_rows) == sum(len(r) for ld in lads for r in ld.rungs)


def test_ladder_stops_after_a_rung_with_nothing_decided():
    lads = tiny_ladders(methods=("tree",), families=("gauss",), ns=(2, 3))
    for ld in lads:
        for rung in ld.rungs:
            for t in rung:
                t["time_limit"] = 0.0      # everything unknown
    rows = H.run_ladders(lads, H.SerialExecutor(), progress=False)
    assert rows and {r["n"] for r in rows} == {2}
    assert all(r["verdict"] == "unknown" for r in rows)
    assert H.mark_agreement(rows) == []


def test_critical_expansivity_theorem6():
    c = P.critical_expansivity()
    print(f"c* = {c:.6f}")
    assert abs(c - 3.4) < 0.01
    from scipy.special import erfc
    assert abs(0.5 * erfc(1 / math.sqrt(2 * c)) - 1 / c) < 1e-12
    # Lemma A's limit at c*: the positive rows number exactly n
    assert abs(c * P.asymptotic_positive_fraction(c) - 1) < 1e-9


def test_fifty_percent_point_and_unknowns():
    assert P.fifty_percent_point([2, 3, 4], [0.0, 0.4, 0.8]) == pytest.approx(3.25)
    assert P.fifty_percent_point([2, 3], [0.0, 0.2]) is None
    # non-monotone noise is pooled before interpolating
    assert P.fifty_percent_point([2, 3, 4, 5], [0.0, 0.6, 0.4, 1.0]) == pytest.approx(3.0)
    from benchmarks import phase
    rows = []
    for v in ["injective", "unknown", "unknown", "not_injective"]:
        rows.append({"family": "phase", "method": "tree", "n": 2, "m": 8, "seed": 0, "verdict": v})
    rec, _ = phase.curve_n_summary(rows, 2, "tree", resamples=50)
    assert rec["points"] == [{"m": 8, "c": 4.0, "injective": 1, "decided": 2, "unknown": 2}]
    assert rec["unknown"] == 2 and rec["layers"] == 4 and rec["decided"] == 2


def test_figure2_test_is_an_exact_one_sided_decision():
    refuted = 0
    for seed in range(6):
        W = np.random.default_rng(seed).standard_normal((6, 3))   # c = 2 < c*
        res = P.dss_at_minus_mean(W)
        assert res.verdict in (Verdict.NOT_INJECTIVE, Verdict.UNKNOWN)
        if res.verdict is Verdict.NOT_INJECTIVE:
            refuted += 1
            ok, why = check_witness(W, np.zeros(6), res.witness.to_json())
            assert ok, why
    assert refuted >= 3
    pts = P.figure2(ns=(5,), cs=[2.0, 6.0], trials=20)
    assert pts[0]["p_dss"] < pts[1]["p_dss"] and pts[1]["p_dss"] > 0.8


def test_layer_families_are_exact_constructions():
    spec = {"family": "construct", "n": 4, "m": 8, "seed": 0}
    W, b = H.make_layer(spec)
    assert np.array_equal(W, H.make_layer(spec)[0])          # deterministic
    # every row has an exactly antiparallel partner (D is a power of two)
    powers = 2.0 ** np.arange(-6, 7)
    for w in W:
        assert any(np.array_equal(u, -d * w) for u in W for d in powers)
    Wt, _ = H.make_layer({**spec, "family": "tilt", "eps": 1e-3})
    assert (np.abs(Wt - W).max(axis=1) > 0).sum() == 1      # one row moved
    Wi, bi = H.make_layer({"family": "intbias", "n": 3, "m": 12, "seed": 1})
    assert np.array_equal(Wi, np.round(Wi)) and np.abs(Wi).max() <= 4


def test_cli_subparser(tmp_path):
    import argparse
    from benchmarks.cli import add_bench_subparser, main
    p = argparse.ArgumentParser()
    add_bench_subparser(p.add_subparsers(dest="command"))
    a = p.parse_args(["bench", "--quick", "--suite", "layers", "--out", str(tmp_path)])
    assert a.quick and a.suite == ["layers"] and callable(a.func)
    code = main(["--suite", "layers", "--family", "construct", "--method", "tree",
                 "--max-n", "2", "--workers", "1", "--no-plots", "--no-progress",
                 "--out", str(tmp_path)])
    assert code == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert rows and {r["method"] for r in rows} == {"tree"}
    assert all(r["verdict"] == "injective" and r["verified"] is True for r in rows)


def test_inversion_cross_check_flags_a_beaten_optimality_claim():
    base = dict(suite="inversion", family="rand", n=2, m=16, target="noise", tol_abs=1e-6,
                verified=True, message="")
    rows = [dict(base, instance="i", method="mip[x]", verdict="nearest", optimal=True,
                 objective=0.5, residual=0.5),
            dict(base, instance="i", method="gradient-descent", verdict="nearest",
                 optimal=False, objective=0.1, residual=0.1),
            dict(base, instance="j", method="mip[x]", verdict="nearest", optimal=True,
                 objective=0.1, residual=0.1),
            dict(base, instance="j", method="gradient-descent", verdict="nearest",
                 optimal=False, objective=0.3, residual=0.3)]
    problems = H.mark_inversion_agreement(rows) + H.mark_agreement(rows)
    assert [r["agree"] for r in rows] == [False, False, True, True]
    assert len(problems) == 1 and problems[0]["instance"] == "i"


def test_inversion_suite_tiny():
    pytest.importorskip("solver.inversion")
    pytest.importorskip("solver.inversion_baselines")
    methods = ["enumeration", "gradient-descent", "layerwise-lp"]
    backends = H.available_backends()
    if backends:
        be = 'highs' if 'highs' in backends else backends[0]
        methods += [f"mip[{be}]", f"{H.NOPEEL}[{be}]"]
    rung = []
    for target in ("range", "noise"):
        spec = {"gen": "rand", "n0": 2, "widths": [5, 10], "seed": 0, "tseed": 0,
                "target": target}
        for meth in methods:
            rung.append({"kind": "inversion", "suite": "inversion", "family": "rand",
                         "instance": f"tiny_{target}", "n": 2, "m": 10, "seed": 0,
                         "ratio": None, "eps": None, "bias": True, "method": meth,
                         "target": target, "depth": 2, "time_limit": 20.0, "spec": spec})
    results, code = H.run_benchmark(None, ladders=[H.Ladder(("inv",), [rung], rule="all")],
                                    workers=1, progress=False, plots=False, verbose=False,
                                    cfg=H.Config(quick=True))
    rows = results["rows"]
    assert code == 0, results["problems"]
    assert {r["method"] for r in rows} == set(methods)
    assert all(r["agree"] and r["verified"] for r in rows)
    enum = [r for r in rows if r["method"] == "enumeration"]
    assert all(r["optimal"] for r in enum)
    # in range: the planted latent code is recovered by the global methods
    glob = [r for r in rows if r["method"] == "enumeration" or r["method"].startswith("mip")]
    assert all(r["verdict"] == "exact" for r in glob if r["target"] == "range")
    # off range: the MIP's optimum equals enumeration's (the harness cross-checks it)
    noise = {r["method"]: r["objective"] for r in glob if r["target"] == "noise"}
    assert max(noise.values()) - min(noise.values()) < 1e-5
    if backends:
        # the peeled path and today's whole-network MIP, paired per instance
        rat = results["summary"]["inversion_vs_nopeel"]
        assert {(t["generator"], t["target"]) for t in rat} == {("rand", "range"),
                                                                ("rand", "noise")}
        for t in rat:
            pair = [r for r in rows if r["target"] == t["target"] and
                    r["method"] in (t["old_method"], t["new_method"])]
            ratio = pair[0]["seconds"] / pair[1]["seconds"] \
                if pair[0]["method"] == t["old_method"] else pair[1]["seconds"] / pair[0]["seconds"]
            assert t["instances"] == 1 and t["median_ratio"] == pytest.approx(ratio)


def test_inversion_suite_has_issue15_generators_and_the_old_path():
    pytest.importorskip("solver.inversion")
    lads = H.inversion_ladders(H.Config(quick=True, backends=["scip"]))
    tasks = {(t["family"], t["method"], t["time_limit"]) for ld in lads for rung in ld.rungs
             for t in rung}
    fams = {f for f, _, _ in tasks}
    if H.VAE400.exists():
        assert {"vae400", "vae400id"} <= fams
        assert ("vae400id", f"{H.NOPEEL}[scip]", 60.0) in tasks   # the ratio pair
        assert ("vae400id", "mip[scip]", 60.0) in tasks
        assert not any(f == "vae400" and m.startswith(H.NOPEEL) for f, m, _ in tasks)
    if H.DCGAN.exists():
        assert ("dcgan", "mip[scip]", 60.0) in tasks
    only = H.inversion_ladders(H.Config(quick=True, families=["dcgan"], methods=["mip["]))
    assert {t["family"] for ld in only for rung in ld.rungs for t in rung} <= {"dcgan"}


def test_ratio_filter_keeps_only_the_named_expansivities():
    cfg = H.Config(quick=False, families=["gauss", "construct"], ratios=[6.0, 4.0])
    lads = H.layer_ladders(cfg, ["tree"])
    got = {(ld.key[1], ld.key[2]) for ld in lads}
    assert got == {("gauss", 6), ("gauss", 4), ("construct", 4)}
    for ld in lads:
        for rung in ld.rungs:
            assert all(t["m"] == round(t["ratio"] * t["n"]) for t in rung)


def test_budget_stops_new_rungs_but_keeps_finished_rows():
    lads = tiny_ladders(methods=("tree",), families=("gauss",), ns=(2, 3))
    assert all(len(ld.rungs) == 2 for ld in lads)
    status = {}
    rows = H.run_ladders(lads, H.SerialExecutor(), progress=False, budget=0.0, status=status)
    assert status["stopped_by"] == "budget"
    assert rows and {r["n"] for r in rows} == {2}           # only the first rung ran
    assert all(r["verdict"] in H.DECIDED for r in rows)
    full = H.run_ladders(lads, H.SerialExecutor(), progress=False, budget=None, status=status)
    assert status["stopped_by"] is None and {r["n"] for r in full} == {2, 3}


def test_interrupt_keeps_the_finished_rows():
    class InterruptedAfterOne(H.SerialExecutor):
        calls = 0

        def wait(self, fs):
            InterruptedAfterOne.calls += 1
            if InterruptedAfterOne.calls > 1:
                raise KeyboardInterrupt
            return set(list(fs)[:1])

    lads = tiny_ladders(methods=("tree",), families=("gauss",), ns=(2, 3))
    status = {}
    rows = H.run_ladders(lads, InterruptedAfterOne(), progress=False, status=status)
    assert status["stopped_by"] == "interrupt"
    assert len(rows) == 1 and rows[0]["verdict"] in H.DECIDED
