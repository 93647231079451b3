"""Networks: layerwise (Corollary 1), first-layer witnesses, the exact
end-to-end decision, the non-negative orthant (Remark 1), leaky ReLU, bad
models, the real decoder, the CLI glue.

The references here are written independently of solver.networks: a float
LP brute force over pairs of activation regions (every sign pattern of every
layer), and a hyperplane enumeration with the orthant constraints.
"""
import argparse
import itertools
import json
import time
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linprog

from solver import check_certificate, check_layer
from solver.errors import InputError
from solver import exact
from solver.exact import check_layer_witness
from solver.network import make_network
from solver.network_io import load_network
from solver.network_cli import format_network_result, run_check_network
from solver.networks import (check_layer_nonneg, check_network, check_nonneg_certificate,
                             decide_bijective_layer)

from conftest import DECODER

# ---------------------------------------------------------------------------
# independent references (float LPs, small instances only)
# ---------------------------------------------------------------------------


def _interior(cons, n, bnds):
    if not cons:
        return True
    A = np.array([np.append(-g, 1.0) for g, c in cons])
    b = np.array([c for g, c in cons])
    r = linprog(np.append(np.zeros(n), -1.0), A_ub=A, b_ub=b, bounds=bnds + [(None, 1.0)],
                method="highs")
    return r.status == 0 and -r.fun > 1e-7


def brute_regions(net, bnds):
    """Open activation regions, every sign vector of every layer tried:
    list of (constraints [(g, c): g.z + c >= 0], output map M, d)."""
    n = net.n_in
    states = [([], np.eye(n), np.zeros(n))]
    for L in net.layers:
        new = []
        for cons, M, d in states:
            P, p = L.W @ M, L.W @ d + L.b
            name = str(L.activation)     # text form, parsed here independently
            if name == "identity":
                new.append((cons, P, p))
                continue
            slope = 0.0 if name == "relu" else float(name.split(":")[1])
            const = [not np.any(P[i]) for i in range(P.shape[0])]   # sign fixed by p[i]
            for s in itertools.product((1.0, -1.0), repeat=P.shape[0]):
                if any(cst and si != (1.0 if p[i] > 0 else -1.0)
                       for i, (cst, si) in enumerate(zip(const, s))):
                    continue
                c2 = cons + [(si * P[i], si * p[i]) for i, si in enumerate(s) if not const[i]]
                if _interior(c2, n, bnds):
                    f = np.where(np.array(s) > 0, 1.0, slope)
                    new.append((c2, f[:, None] * P, f * p))
        states = new
    return states


def brute_injective(net, box=None, nonneg=False):
    """True iff no pair z1 != z2 (in the closures of two regions) has equal
    outputs: one LP per pair of regions, coordinate and sign."""
    n = net.n_in
    lo = 0.0 if nonneg else (None if box is None else -box)
    bnds = [(lo, box)] * n
    regs = brute_regions(net, bnds)
    for (c1, M1, d1), (c2, M2, d2) in itertools.combinations_with_replacement(regs, 2):
        A = [np.concatenate([-g, np.zeros(n)]) for g, _ in c1] + \
            [np.concatenate([np.zeros(n), -g]) for g, _ in c2]
        b = [c for _, c in c1] + [c for _, c in c2]
        for k, s in itertools.product(range(n), (1, -1)):
            dv = np.zeros(2 * n)
            dv[k], dv[n + k] = s, -s
            r = linprog(-dv, A_ub=np.array(A + [dv]), b_ub=np.array(b + [1.0]),
                        A_eq=np.hstack([M1, -M2]), b_eq=d2 - d1, bounds=bnds * 2, method="highs")
            if r.status == 0 and -r.fun > 1e-6:
                return False
    return True


def brute_nonneg_layer(W, b):
    """ReLU(Wx+b) on x >= 0: not injective iff rank W < n or some hyperplane
    spanned by n-1 rows admits x > 0 with every row off it negative."""
    m, n = W.shape
    if np.linalg.matrix_rank(W) < n:
        return False
    for S in itertools.combinations(range(m), n - 1):
        if n > 1 and np.linalg.matrix_rank(W[list(S)]) < n - 1:
            continue
        v = np.linalg.svd(W[list(S)])[2][-1] if n > 1 else np.ones(1)
        off = [j for j in range(m) if abs(W[j] @ v) > 1e-9]
        # x > 0 and w_j.x + b_j < 0 on the off rows, with margin t
        A = [np.append(W[j], 1.0) for j in off] + [np.append(-np.eye(n)[j], 1.0) for j in range(n)]
        bb = [-b[j] for j in off] + [0.0] * n
        r = linprog(np.append(np.zeros(n), -1.0), A_ub=np.array(A), b_ub=np.array(bb),
                    bounds=[(None, None)] * n + [(None, 1.0)], method="highs")
        if r.status == 0 and -r.fun > 1e-9:
            return False
    return True


def exact_pm(n, rng):
    """First layer [B; -D B] with exact products (integer B, D powers of 2),
    shifted by an exact bias: injective (Corollary 2)."""
    while True:
        B = rng.integers(-3, 4, (n, n)).astype(float)
        if abs(np.linalg.det(B)) > 0.5:
            break
    dv = rng.choice([0.5, 1.0, 2.0], n)
    c = rng.integers(-2, 3, n) / 4
    return np.vstack([B, -np.diag(dv) @ B]), np.concatenate([c, -dv * c]), dv


def assert_witness(net, res, nonneg=False):
    assert res.verdict.value == "not_injective"
    z1, z2 = res.witness.x1, res.witness.x2
    assert z1 != z2
    ok, why = net.check_witness(z1, z2)
    assert ok, why
    assert net.forward_exact(z1) == net.forward_exact(z2)
    if nonneg:
        assert all(v >= 0 for v in z1 + z2)
    doc = res.to_json()
    assert all(isinstance(s, str) for s in doc["witness"]["z1"] + doc["witness"]["z2"])
    assert [Fraction(s) for s in doc["witness"]["z1"]] == list(z1)


# ---------------------------------------------------------------------------
# layerwise
# ---------------------------------------------------------------------------


def test_layerwise_injective_with_certificates():
    rng = np.random.default_rng(0)
    W1, b1, _ = exact_pm(3, rng)
    W2 = rng.standard_normal((40, 6))
    net = make_network([W1, W2], [b1, np.zeros(40)])
    res = check_network(net)
    assert res.verdict.value == "injective" and res.method == "layerwise"
    assert [L["verdict"] for L in res.layers] == ["injective", "injective"]
    for L, r in zip(net.layers, res.layer_results):
        cert = r.certificate
        ok = (check_certificate(L.W, L.b, cert)[0] if cert["format"] == "reluinj.certificate"
              else check_nonneg_certificate(L.W, L.b, cert)[0])
        assert ok
    doc = res.to_json()
    assert doc["witness"] is None and set(doc["layers"][0]) >= {"index", "shape", "activation",
                                                                "verdict", "method"}


def test_paper_example_relu_identity_relu():
    """ReLU(I ReLU(W z)): fails Corollary 1 on R^n, but the second layer is
    injective on x >= 0 (Remark 1), which is all it ever sees."""
    rng = np.random.default_rng(1)
    W1, b1, _ = exact_pm(2, rng)
    assert check_layer(np.eye(4)).verdict.value == "not_injective"
    res = check_network(make_network([W1, np.eye(4)], [b1, None]))
    assert res.verdict.value == "injective"
    assert res.layers[1]["domain"] == "nonneg" and res.layers[1]["method"] == "orthant-sign-tree"


def test_first_layer_witness_is_a_network_witness():
    rng = np.random.default_rng(2)
    net = make_network([rng.standard_normal((3, 2)), rng.standard_normal((20, 3))])
    res = check_network(net)
    assert res.method == "first-layer"
    assert_witness(net, res)
    assert res.layers[1]["verdict"] == "skipped"
    full = check_network(net, report_all_layers=True)
    assert full.layers[1]["verdict"] != "skipped"


# ---------------------------------------------------------------------------
# leaky ReLU and identity layers
# ---------------------------------------------------------------------------


def test_leaky_layers_rank_criterion():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 3))
    r = decide_bijective_layer(W, np.zeros(3), "leaky_relu:0.1")
    assert r.verdict.value == "injective" and r.stats["rank"] == 3
    Wd = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])     # rank 1 < 3
    for act in ("leaky_relu:0.1", "identity"):
        for dom in ("all", "nonneg"):
            r = decide_bijective_layer(Wd, np.ones(2), act, domain=dom)
            assert r.verdict.value == "not_injective"
            if dom == "nonneg":
                assert all(v >= 0 for v in r.witness.x1 + r.witness.x2)
    net = make_network([W, rng.standard_normal((5, 3)), rng.standard_normal((5, 5))],
                       activations=["leaky_relu:0.1", "leaky_relu:0.01", "identity"])
    res = check_network(net)
    assert res.verdict.value == "injective"
    assert [L["method"] for L in res.layers] == ["rank", "rank", "rank"]
    bad = make_network([Wd, rng.standard_normal((6, 2))], activations=["leaky_relu:0.2", "relu"])
    assert_witness(bad, check_network(bad))


@pytest.mark.parametrize("seed", range(6))
def test_bijective_layer_verdict_is_the_exact_rank(seed):
    """The verdict (now through exact.full_column_rank's SVD shortcut) against
    the exact integer rank, on tall matrices with a planted dependency that
    floating point barely sees (a column plus 2^-40 of another, or exactly a
    combination) and on generic ones."""
    rng = np.random.default_rng(seed)
    m, n = 12, 4
    W = rng.standard_normal((m, n))
    if seed % 3 == 1:
        W[:, 3] = W[:, 0] - 0.5 * W[:, 1]                       # exactly rank n - 1
    elif seed % 3 == 2:
        W[:, 3] = W[:, 0] + 2.0 ** -40 * W[:, 2]                 # full rank, barely
    exact_rank = exact.rank([list(g[:n]) for g in exact.integer_rows(W, np.zeros(m))[0]])
    r = decide_bijective_layer(W, np.zeros(m), "identity")
    assert (r.verdict.value == "injective") == (exact_rank == n)
    if exact_rank < n:
        assert_witness(make_network([W], activations=["identity"]), r)


def test_leaky_then_relu_end_to_end():
    """leaky(W1 z) is a bijection of R^2 when W1 is invertible, so the network
    is injective iff ReLU(W2 .) is injective on R^2 (the layer after a leaky
    layer is checked on R^n, not the orthant)."""
    W1 = np.array([[1.0, 1.0], [0.0, 1.0]])
    W2 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])   # not injective on R^2
    net = make_network([W1, W2], activations=["leaky_relu:0.5", "relu"])
    res = check_network(net)
    assert res.layers[1]["domain"] == "all"
    assert_witness(net, res)
    W2i = np.vstack([W2, -W2[:2]])                              # [I; -I; ...]: injective
    res = check_network(make_network([W1, W2i], activations=["leaky_relu:0.5", "relu"]))
    assert res.verdict.value == "injective" and res.method == "layerwise"


# ---------------------------------------------------------------------------
# end to end, cross-checked by brute force
# ---------------------------------------------------------------------------


def structured_net(rng, kind, n=2):
    """[B; -DB] then [[I, -D^-1]; [-I, D^-1]] (+ a random row, or - a row):
    the second layer has rank n < 2n, so layerwise fails, but it recovers
    +-(B z + c): the network is injective unless a row was dropped."""
    W1, b1, dv = exact_pm(n, rng)
    Di = np.diag(1.0 / dv)
    W2 = np.vstack([np.hstack([np.eye(n), -Di]), np.hstack([-np.eye(n), Di])])
    b2 = np.zeros(2 * n)
    if kind == "extra":
        W2 = np.vstack([W2, rng.standard_normal((1, 2 * n))])
        b2 = np.append(b2, rng.standard_normal())
    elif kind == "drop":
        k = int(rng.integers(2 * n))
        W2, b2 = np.delete(W2, k, 0), np.delete(b2, k)
    return make_network([W1, W2], [b1, b2])


@pytest.mark.parametrize("seed,kind", [(0, "plain"), (1, "extra"), (2, "drop"), (3, "extra"),
                                       (4, "drop"), (5, "random"), (6, "random"),
                                       (7, "random3")])
def test_end_to_end_against_brute_force(seed, kind):
    rng = np.random.default_rng(100 + seed)
    if kind.startswith("random"):
        W1, b1, _ = exact_pm(2, rng)
        h = 3 if kind == "random3" else 4
        net = make_network([W1, rng.standard_normal((h, 4)), rng.standard_normal((2, h))],
                           [b1, rng.standard_normal(h) * 0.3, np.zeros(2)],
                           ["relu", "relu", "identity"])
    else:
        net = structured_net(rng, kind)
    res = check_network(net, time_limit=60)
    ref = brute_injective(net)
    assert res.verdict.value == ("injective" if ref else "not_injective"), res.message
    if ref:
        assert res.method in ("layerwise", "regions")
    else:
        assert_witness(net, res)
    if res.method == "regions":
        assert res.layers[0]["verdict"] == "injective"


def test_box_semantics():
    """z -> ReLU(ReLU(z + 10) - ReLU(z - 5)) is z + 10 on [-10, 5] and
    constant outside: injective on [-1, 1], not on [-8, 8] or R."""
    net = make_network([np.array([[1.0], [1.0]]), np.array([[1.0, -1.0]])],
                       [np.array([10.0, -5.0]), np.zeros(1)])
    assert brute_injective(net, box=1.0) and not brute_injective(net, box=8.0)
    r = check_network(net, box=1.0)
    assert r.verdict.value == "injective_on_box" and r.box == 1.0
    assert "witness_outside_box" in r.stats          # the R^n witness is kept
    r8 = check_network(net, box=8.0)
    assert_witness(net, r8)
    assert all(abs(v) <= 8 for v in r8.witness.x1 + r8.witness.x2)
    assert_witness(net, check_network(net))


def test_homogeneous_witness_is_rescaled_into_the_box():
    rng = np.random.default_rng(4)
    net = make_network([rng.standard_normal((3, 2)), rng.standard_normal((8, 3))])
    r = check_network(net, box=1e-3)
    assert_witness(net, r)
    assert all(abs(v) <= Fraction(1e-3) for v in r.witness.x1 + r.witness.x2)   # binary64 box


# ---------------------------------------------------------------------------
# the non-negative orthant (Remark 1)
# ---------------------------------------------------------------------------


def test_nonneg_layer_against_brute_force():
    rng = np.random.default_rng(5)
    seen = set()
    for trial in range(60):
        n = int(rng.integers(1, 4))
        m = int(rng.integers(n, 3 * n + 2))
        W = rng.standard_normal((m, n))
        if trial % 3 == 0:
            W = np.round(W)
        b = rng.standard_normal(m) * (trial % 2)
        r = check_layer_nonneg(W, b)
        ref = brute_nonneg_layer(W, b)
        assert r.verdict.value == ("injective" if ref else "not_injective"), (W, b)
        if ref:
            assert check_nonneg_certificate(W, b, r.certificate)[0]
        else:
            x1, x2 = r.witness.x1, r.witness.x2
            assert all(v >= 0 for v in x1 + x2) and check_layer_witness(W, b, x1, x2)[0]
        seen.add((r.verdict.value, check_layer(W, b).verdict.value))
    # the orthant is a real restriction: some layers are injective only there
    assert ("injective", "not_injective") in seen


def test_nonneg_certificate_tampering():
    W = np.vstack([np.eye(2), [[1.0, -1.0]]])
    r = check_layer_nonneg(W, np.zeros(3))
    assert r.verdict.value == "injective"
    assert check_nonneg_certificate(W, np.zeros(3), r.certificate)[0]
    bad = json.loads(json.dumps(r.certificate))
    bad["tree"] = {"leaf": "basis", "rows": [0, 2]}
    assert not check_nonneg_certificate(W, np.zeros(3), bad)[0]
    assert not check_nonneg_certificate(W, np.ones(3), r.certificate)[0]   # another layer
    assert not check_nonneg_certificate(W, np.zeros(3), {"format": "x"})[0]


def test_domain_nonneg_for_one_layer(tmp_npz):
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    p = tmp_npz(W=W)
    assert check_network(p).verdict.value == "not_injective"           # on R^2
    res = check_network(p, domain="nonneg")
    assert res.verdict.value == "injective" and res.layers[0]["domain"] == "nonneg"
    W2 = np.array([[1.0, -1.0], [1.0, 1.0]])
    net = load_network(tmp_npz(name="w2.npz", W=W2))
    r2 = check_network(net, domain="nonneg")
    assert_witness(net, r2, nonneg=True)


def test_end_to_end_nonneg_domain():
    """A 2-layer net on z >= 0 against the brute force restricted to z >= 0."""
    rng = np.random.default_rng(6)
    W1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])   # injective on z >= 0, not on R^2
    W2 = np.vstack([np.eye(3)[:2], rng.standard_normal((1, 3))])
    net = make_network([W1, W2], [None, rng.standard_normal(3) * 0.3])
    res = check_network(net, domain="nonneg")
    ref = brute_injective(net, box=None, nonneg=True)
    assert res.verdict.value == ("injective" if ref else "not_injective")
    if not ref:
        assert_witness(net, res, nonneg=True)


# ---------------------------------------------------------------------------
# the MILP path (needs the solver.backends engines)
# ---------------------------------------------------------------------------


def test_milp_two_copy_search_finds_verified_witness():
    pytest.importorskip("solver.backends")
    try:
        from solver.backends import DEFAULT_BACKEND, get_backend
        get_backend(DEFAULT_BACKEND)
    except (ImportError, InputError):
        pytest.skip("solver.backends has no engines yet")
    rng = np.random.default_rng(102)
    net = structured_net(rng, "drop")
    res = check_network(net, method="milp", box=4.0, time_limit=30)
    assert_witness(net, res)
    assert res.method == "milp" and "milp" in res.stats
    assert all(abs(v) <= 4 for v in res.witness.x1 + res.witness.x2)
    # injective network: the MILP finds nothing, and that is never a proof
    good = structured_net(np.random.default_rng(100), "plain")
    res = check_network(good, method="milp", box=4.0, time_limit=30)
    assert res.verdict.value == "unknown" and "not a proof" in res.message
    # on z >= 0: the MILP box is [0, R]^n
    net = make_network([np.array([[1.0, 0], [0, 1], [1, 1]]), np.array([[1.0, 1, 1]])])
    res = check_network(net, domain="nonneg", method="milp", box=2.0, time_limit=30)
    assert_witness(net, res, nonneg=True)
    assert check_network(good, method="layerwise").verdict.value == "unknown"


# ---------------------------------------------------------------------------
# bad models and options
# ---------------------------------------------------------------------------


def test_bad_models(tmp_npz):
    with pytest.raises(InputError, match="columns"):
        make_network([np.ones((3, 2)), np.ones((2, 4))])
    with pytest.raises(InputError, match="NaN"):
        make_network([np.array([[1.0, np.nan]])])
    with pytest.raises(InputError, match="unknown activation"):
        make_network([np.ones((3, 2))], activations=["softsign"])
    with pytest.raises(InputError, match="columns"):
        load_network(tmp_npz(W0=np.ones((3, 2)), W1=np.ones((2, 4))))
    with pytest.raises(InputError, match="unknown activation"):
        load_network(tmp_npz(name="a.npz", W0=np.ones((3, 2)), W1=np.ones((2, 3)),
                             activations=np.array(["relu", "softplus"])))
    with pytest.raises(InputError, match="no such file"):
        check_network("/nonexistent/model.npz")
    net = make_network([np.ones((3, 2))])
    with pytest.raises(InputError, match="domain"):
        check_network(net, domain="positive")
    with pytest.raises(InputError, match="box"):
        check_network(net, box=-1)
    with pytest.raises(InputError, match="box"):
        check_network(net, box=float("nan"))


# ---------------------------------------------------------------------------
# the real model and the CLI glue
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not DECODER.exists(), reason="shared decoder not available")
def test_mnist_decoder_verdict_within_a_minute():
    net = load_network(DECODER)
    assert net.widths == [20, 60, 784]
    t = time.monotonic()
    res = check_network(net, time_limit=60)
    assert time.monotonic() - t < 60
    assert res.method == "first-layer"
    assert_witness(net, res)
    # the first layer's witness is a plain layer witness as well
    L = net.layers[0]
    assert check_layer_witness(L.W, L.b, res.witness.x1, res.witness.x2)[0]


def test_run_check_network(tmp_path, tmp_npz):
    rng = np.random.default_rng(8)
    W1, b1, _ = exact_pm(2, rng)
    p = tmp_npz(W0=W1, b0=b1, W1=np.eye(4))
    args = argparse.Namespace(time_limit=30.0, box=None, domain="all", backend=None,
                              certificate=str(tmp_path / "proof.json"))
    doc = run_check_network(p, args)
    assert doc["verdict"] == "injective" and doc["widths"] == [2, 4, 4]
    json.dumps(doc)
    proof = json.loads((tmp_path / "proof.json").read_text())
    assert proof["format"] == "reluinj.network_proof" and len(proof["layers"]) == 2
    assert check_certificate(W1, b1, proof["layers"][0]["proof"])[0]
    assert check_nonneg_certificate(np.eye(4), np.zeros(4), proof["layers"][1]["proof"])[0]
    assert [e["domain"] for e in proof["layers"]] == ["all", "nonneg"]
    text = format_network_result(doc)
    assert text.startswith("verdict: injective") and "layer 1" in text
    bad = run_check_network(tmp_npz(name="b.npz", W0=np.ones((3, 2)), W1=np.eye(3)))
    assert bad["verdict"] == "not_injective" and bad["witness"]["z1"]
