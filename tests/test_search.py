"""The sign tree (circuit pool, chains), its parallel and distributed forms,
checkpoints, the thin-wedge probe, and the limits they keep."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import descendants, wait_until_dead

from solver import check_layer
from solver.bruteforce import decide_bruteforce
from solver.certificates import check_certificate
from solver.distributed import parallel_search
from solver.errors import InputError
from solver.exact import check_layer_witness
from solver.search import SignTree, sign_tree_search
from solver.wedge import near_antiparallel_pairs, probe_wedges


def gauss(n, m, seed):
    return np.random.default_rng([n, m, seed]).standard_normal((m, n)), np.zeros(m)


def rounded_construction(n, seed, extra=2):
    """[B; -D B] with D B rounded (pairs antiparallel only up to rounding)
    plus ``extra * n`` Gaussian rows, shuffled."""
    rng = np.random.default_rng([n, seed])
    B = rng.standard_normal((n, n))
    D = rng.uniform(0.5, 2.0, n)
    W = np.vstack([B, -D[:, None] * B, rng.standard_normal((extra * n, n))])
    return W[rng.permutation(len(W))], np.zeros(len(W))


def assert_proved(W, b, out):
    if out.verdict == "injective":
        ok, why = check_certificate(W, b, out.certificate)
        assert ok, why
    elif out.verdict == "not_injective":
        assert check_layer_witness(W, b, *out.witness)[0]


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(0, 10**6), st.booleans())
def test_tree_agrees_with_exact_bruteforce(n, seed, bias):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(n + 1, 4 * n + 3))
    W = rng.standard_normal((m, n))
    if rng.random() < 0.3:                       # coincident rows, both orientations
        W[-1] = -2.0 * W[0]
    b = rng.standard_normal(m) * 0.5 if bias else np.zeros(m)
    out = sign_tree_search(W, b, time_limit=60)
    assert out.verdict == decide_bruteforce(W, b)[0]
    assert_proved(W, b, out)


def test_pool_reuses_circuits(monkeypatch):
    # the pool serves the branching (negative chains, rank n - 1 nodes); the
    # transversal leaves, which replace most of it, are switched off here
    monkeypatch.setattr(SignTree, "TRANSVERSAL_MAX_D", 0)
    W, b = gauss(6, 36, 0)
    out = sign_tree_search(W, b)
    assert out.verdict == "injective"
    assert out.stats.pool_hits > out.stats.lps      # most nodes need no LP
    assert check_certificate(W, b, out.certificate)[0]


def test_parallel_certificate_does_not_depend_on_workers():
    W, b = gauss(6, 36, 0)
    a = parallel_search(W, b, workers=2, min_tasks=16)
    c = parallel_search(W, b, workers=3, min_tasks=16)
    d = parallel_search(W, b, workers=1, min_tasks=16)
    assert a.verdict == "injective"
    assert json.dumps(a.certificate) == json.dumps(c.certificate) == json.dumps(d.certificate)
    assert check_certificate(W, b, a.certificate)[0]


def test_parallel_finds_witnesses():
    W, b = gauss(5, 15, 1)
    out = parallel_search(W, b, workers=2, min_tasks=8)
    assert out.verdict == decide_bruteforce(W, b)[0] == "not_injective"
    assert_proved(W, b, out)


def test_checkpoint_resumes_with_finished_subtrees(tmp_path):
    W, b = gauss(6, 36, 0)
    ck = tmp_path / "proof.jsonl"
    full = parallel_search(W, b, workers=1, min_tasks=16, checkpoint=str(ck))
    lines = ck.read_text().splitlines()
    header, records = json.loads(lines[0]), [json.loads(x) for x in lines[1:]]
    assert "header" in header and len(records) == header["header"]["tasks"]
    # an interrupted run: only the first half of the subtrees were written
    half = tmp_path / "half.jsonl"
    half.write_text("\n".join(lines[: 1 + len(records) // 2]) + "\n")
    times = {}
    resumed = parallel_search(W, b, workers=1, min_tasks=16, checkpoint=str(half), task_times=times)
    assert json.dumps(resumed.certificate) == json.dumps(full.certificate)
    assert len(times) == len(records) - len(records) // 2        # only the rest was solved
    # a checkpoint of another layer is refused, never mixed in
    W2, b2 = gauss(6, 36, 1)
    with pytest.raises(InputError, match="another layer"):
        parallel_search(W2, b2, workers=1, min_tasks=16, checkpoint=str(ck))


def test_dask_local_gives_the_same_certificate():
    pytest.importorskip("distributed")
    W, b = gauss(5, 30, 0)
    local = check_layer(W, b, workers=2)
    dask = check_layer(W, b, workers=2, dask="local")
    assert local.verdict.value == dask.verdict.value == "injective"
    assert json.dumps(local.certificate) == json.dumps(dask.certificate)


def test_dask_worker_killed_mid_run_loses_nothing():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster
    from solver.distributed import run_frontier
    from solver.search import frontier, splice
    W, b = gauss(6, 36, 0)
    fr = frontier(W, b, min_tasks=32)
    ref = splice(W, b, fr, run_frontier(W, b, fr, None, workers=1))
    times = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        import threading
        victim = next(iter(cluster.workers.values()))
        killed = []
        def kill_mid_run():                 # once the first subtrees are in
            while len(times) < 2:
                time.sleep(0.01)
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)
        threading.Thread(target=kill_mid_run, daemon=True).start()
        got = splice(W, b, fr, run_frontier(W, b, fr, None, client=client, task_times=times))
    assert killed and len(times) == len(fr.tasks)
    assert json.dumps(got) == json.dumps(ref)


def test_wedge_probe_finds_rounding_wedges():
    found = 0
    for seed in range(3):
        W, b = rounded_construction(10, seed)
        assert len(near_antiparallel_pairs(W, b)) == 10
        w = probe_wedges(W, b)
        if w is not None:
            assert check_layer_witness(W, b, *w)[0]
            found += 1
    assert found >= 2


def test_wedge_probe_finds_points_in_several_wedges(monkeypatch):
    # n = 6: in these layers no single wedge has every other row negative, so
    # one-wedge LPs find nothing; inside two or more wedges at once, too few
    # rows are active, and the search MILP finds that point (the witness is
    # checked exactly against the binary64 weights).
    import solver.wedge as wedge
    for seed in (3, 4):
        W, b = rounded_construction(6, seed)
        monkeypatch.setattr(wedge, "MILP_ROUNDS", 0)
        assert probe_wedges(W, b) is None
        monkeypatch.undo()
        w = probe_wedges(W, b)
        assert w is not None and check_layer_witness(W, b, *w)[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(0, 10**6))
def test_wedge_probe_never_claims_too_much(n, seed):
    W, b = rounded_construction(n, seed, extra=1)
    w = probe_wedges(W, b)
    truth = decide_bruteforce(W, b)[0]
    if w is not None:
        assert truth == "not_injective" and check_layer_witness(W, b, *w)[0]
    # exactly antiparallel pairs have no wedge
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    W2 = np.vstack([B, -0.5 * B, rng.standard_normal((n, n))])
    assert near_antiparallel_pairs(W2, np.zeros(3 * n)) == []


def test_time_limit_is_kept_with_exact_lps():
    # rounded pairs make the float LPs unreliable, so the search needs the
    # exact simplex; the limit must hold inside it. Six extra rows per pair
    # close the wedges that the probe would find (two per pair leave one).
    W, b = rounded_construction(24, 0, extra=6)
    t = time.monotonic()
    r = check_layer(W, b, time_limit=2.0)
    assert time.monotonic() - t < 2.0 * 1.1 + 0.5
    assert r.verdict.value in ("unknown", "not_injective")
    assert r.stats["exact_lps"] >= 1


HARD = """
import numpy as np, sys
from solver import check_layer
W = np.random.default_rng(0).standard_normal((96, 12))
print("started", flush=True)
check_layer(W, time_limit=600, workers=2)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_workers_die_with_a_killed_parent():
    p = subprocess.Popen([sys.executable, "-c", HARD], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    deadline = time.time() + 60
    while len(descendants(p.pid)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    kids = descendants(p.pid)
    assert len(kids) >= 2, "the workers did not start"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    alive = wait_until_dead(kids, 10)
    assert not alive, f"workers {alive} outlived their parent"


def test_progress_reports_counters_and_is_silent_when_off(capsys):
    import io
    from solver.progress import Progress
    buf = io.StringIO()
    bar = Progress(True, time_limit=60, desc="sign tree", file=buf)
    W, b = gauss(5, 30, 0)
    out = sign_tree_search(W, b, progress=bar)
    bar.update(force=True)
    bar.close()
    assert out.verdict == "injective"
    text = buf.getvalue()
    assert "sign tree" in text and "nodes=" in text and "closed=" in text
    # off: nothing printed anywhere
    check_layer(W, b, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("options", [dict(method="tree"), dict(method="tree", workers=2),
                                     dict(method="bruteforce"), dict(method="enumerate"),
                                     dict(method="milp", backend="highs")],
                         ids=["tree", "tree-2-workers", "bruteforce", "enumerate", "milp-highs"])
def test_every_method_keeps_a_tiny_limit_on_a_large_layer(options, frozen_heap):
    """A 3000 x 30 Gaussian layer (minutes to hours for any method) keeps
    1.1 x its limit plus start-up. Start-up is what no limit governs: the
    same call with ``time_limit=0`` (validation, the exact set-up of the sign
    tree, about 0.5 s here and 1.5 s with both cores busy), measured right
    before and right after, the larger kept, since the load of the machine
    scales it. (A fixed 1 s slack failed under load: the MILP's build, its
    engine's import and the tree's set-up then ran past the limit.)"""
    W = np.random.default_rng(1).standard_normal((3000, 30))
    if "backend" in options:
        from solver.backends import get_backend
        get_backend(options["backend"])          # imports are start-up of the process

    def timed(limit):
        t = time.monotonic()
        r = check_layer(W, time_limit=limit, **options)
        return r, time.monotonic() - t

    limit = 1.5
    before = timed(0.0)[1]
    r, elapsed = timed(limit)
    startup = max(before, timed(0.0)[1])
    assert r.verdict.value == "unknown"
    assert elapsed <= 1.1 * limit + startup, \
        f"{options}: {elapsed:.2f} s for a {limit} s limit (start-up {startup:.2f} s)"


def test_subtrees_split_is_part_of_the_certificate_not_the_workers(tmp_path):
    """--subtrees K: every split proves the same layer with a certificate the
    checker accepts; the split, not the worker count, fixes the certificate;
    finer splits mean more tasks."""
    from solver.cli import main
    W, b = gauss(7, 42, 0)
    certs = {}
    for k, workers in ((4, 1), (64, 1), (64, 2)):
        r = check_layer(W, b, subtrees=k, workers=workers)
        assert r.verdict.value == "injective" and check_certificate(W, b, r.certificate)[0]
        certs[k, workers] = json.dumps(r.certificate)
    assert certs[64, 1] == certs[64, 2]
    tt4, tt64 = {}, {}
    parallel_search(W, b, workers=1, min_tasks=4, task_times=tt4)
    parallel_search(W, b, workers=1, min_tasks=64, task_times=tt64)
    # (transversal leaves close most nodes above rank 3 here: 30 tasks, not 64)
    assert len(tt64) > len(tt4) >= 4
    path = tmp_path / "l.npz"
    np.savez(path, W=W, b=b)
    cert = tmp_path / "c.json"
    assert main(["check", str(path), "--subtrees", "32", "--certificate", str(cert)]) == 0
    assert main(["verify", str(path), str(cert)]) == 0
    assert main(["check", str(path), "--subtrees", "0"]) == 2
    net = tmp_path / "net.npz"
    np.savez(net, W0=W, b0=b, W1=np.eye(len(W)), b1=np.zeros(len(W)))
    assert main(["check", str(net), "--subtrees", "8"]) == 2


FORKED = """
import time
from solver.parallel import ForkExecutor
ex = ForkExecutor()
fut = ex.submit(time.sleep, 600)
print(fut._proc.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_a_forked_checker_child_dies_with_a_killed_parent():
    p = subprocess.Popen([sys.executable, "-c", FORKED], stdout=subprocess.PIPE, text=True)
    kid = int(p.stdout.readline())
    time.sleep(0.5)                      # let it arm its parent-death signal
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not wait_until_dead([kid], 10), "the forked child outlived its parent"


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 6), st.integers(0, 10**6))
def test_span_from_basis_is_every_dot_product_modulo_p(n, k, seed):
    # vectorised in int64 (the Python-int sum took 0.5-1.6 s on wide layers):
    # the same residues as the exact dot products, for rows and basis vectors
    # of any size and sign
    import random
    from solver.certificates.checker import PRIME
    from solver.treestate import Span
    rnd = random.Random(seed)
    def big():
        return rnd.choice([-1, 1]) * rnd.getrandbits(rnd.choice([1, 31, 62, 300]))
    G = [[big() for _ in range(n + 1)] for _ in range(rnd.randint(0, 12))]
    K = [[big() for _ in range(n)] for _ in range(min(k, n))]
    D = Span.from_basis(K, n, G).D
    assert D.shape == (len(G), len(K))
    assert D.tolist() == [[sum(a * c for a, c in zip(g, kv)) % PRIME for kv in K] for g in G]


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 5), st.integers(0, 10**6))
def test_modular_span_has_exact_ranks_and_outside_rows(n, seed):
    # integer rows, some dependent, some divisible by the checker's prime (zero
    # modulo p but not zero): the span kept modulo p must report exact ranks,
    # and after the exact fallback exactly the rows outside the span
    from solver import exact
    from solver.certificates import checker
    from solver.search import SignTree
    rng = np.random.default_rng(seed)
    m = 3 * n
    W = rng.integers(-3, 4, (m, n)).astype(float)
    W[rng.integers(m)] = 0.0
    W[rng.integers(m)] *= checker.PRIME
    W[rng.integers(m)] = W[rng.integers(m)] + W[rng.integers(m)]
    T = SignTree(W, np.zeros(m))
    G = [g[:n] for g in T.G]
    span, S = T._span_of([]), []
    for j in rng.permutation(m).tolist():
        child = span.add(j, T.G)
        if child is not None:
            span, S = child, S + [j]
        assert span.rank == exact.rank([G[i] for i in S + [j]]) == len(S)
        out = span.outside()
        allrows = (1 << m) - 1
        out |= span.outside_exact(allrows & ~out, T.G)
        r = span.rank
        want = [exact.rank([G[i] for i in S] + [G[i]]) > r for i in range(m)]
        assert [bool(out >> i & 1) for i in range(m)] == want
        K = span.exact_basis(T.G)
        assert len(K) == n - r and all(exact.dot(G[i], k) == 0 for i in S for k in K)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10**6))
def test_dual_sign_lp_answers_the_primal_question(n, seed):
    # the dual form (PersistentGordanLP) and the primal form (PersistentSignLP)
    # of the strict-system LP, one persistent model each, over a sequence of
    # systems: same feasibility (checked exactly), and each answer is what it
    # says: a strictly feasible point, or multipliers y >= 0 with sum y g = 0
    from solver import exactlp, lp
    rng = np.random.default_rng(seed)
    m = int(rng.integers(n + 1, 4 * n + 4))
    W = rng.standard_normal((m, n))
    b = rng.standard_normal(m) * (rng.random() < 0.5)
    S = lp.SignSystems(W, b)
    primal, dual = lp.PersistentSignLP(S.F), lp.PersistentGordanLP(S.F)
    for _ in range(6):
        rows = rng.permutation(m)[:int(rng.integers(1, m + 1))].tolist()
        signed = [(i, int(rng.choice([-1, 1]))) for i in rows]
        weights = [float(rng.choice([1.0, 2.0])) for _ in signed]
        G = np.array([-s * S.F[i] for i, s in signed])
        Gi = [[-s * c for c in S.G[i]] for i, s in signed]
        truth = exactlp.strict_feasibility(Gi)[0] == "feasible"
        for engine in (primal, dual):
            feas, z, y = engine.solve(signed, weights)
            assert feas is not None and feas == truth
            if feas:
                assert (G @ z).max() < 0 and z[-1] > 0
            else:
                assert y.min() >= -1e-9 and y.max() > 0
                resid = G.T @ y[:-1] - y[-1] * np.eye(n + 1)[-1]
                assert np.abs(resid).max() <= 1e-7 * max(1.0, y.max())
