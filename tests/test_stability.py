"""Stability (issue 11): sigma*, its certified bound, pairs, collapse, CLI.

Every figure is compared with an independent computation: exhaustive cell
enumeration (solver.enumeration) with a numpy SVD per cell, closed forms for
[B; -DB] and orthogonal constructions, exact rational LDL^T written here, exact
forward passes, and the trivial collapse of ReLU(x).
"""
import json
import math
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from solver.enumeration import enumerate_cells
from solver.network import make_network
from solver.pairs import exact_ratio2, sqrt_up
from solver.sigma_search import pd_exact, sigma_star
from solver.stability import stability
from conftest import INSTANCES


def run(*args):
    p = subprocess.run([sys.executable, "-m", "solver", *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def sigma_by_enumeration(W, b):
    """min over every open cell of sigma_min(W_P): the definition, by brute force."""
    E = enumerate_cells(W, b)
    assert E.complete
    best = math.inf
    n = W.shape[1]
    for c in E.cells:
        P = [i for i, s in enumerate(c.sign) if s > 0]
        s = np.linalg.svd(W[P], compute_uv=False)[-1] if len(P) >= n else 0.0
        best = min(best, s)
    return best


def ldl_positive_definite(M):
    """Independent exact check (Fractions, no pivoting): all LDL^T pivots > 0."""
    A = [[Fraction(v) for v in row] for row in M]
    n = len(A)
    for k in range(n):
        if A[k][k] <= 0:
            return False
        for i in range(k + 1, n):
            f = A[i][k] / A[k][k]
            for j in range(k, n):
                A[i][j] -= f * A[k][j]
    return True


def gram_minus(W, rows, t):
    Wq = [[Fraction(float(v)) for v in W[i]] for i in rows]
    n = W.shape[1]
    return [[sum((r[a] * r[c] for r in Wq), Fraction(0)) - (t * t if a == c else 0)
             for c in range(n)] for a in range(n)]


# --------------------------------------------------------------------------
# sigma* against enumeration
# --------------------------------------------------------------------------
@st.composite
def small_layers(draw):
    n = draw(st.integers(2, 3))
    m = draw(st.integers(n + 1, 3 * n + 3))
    seed = draw(st.integers(0, 10**6))
    rng = np.random.default_rng(seed)
    if draw(st.booleans()):
        W = rng.standard_normal((m, n))
    else:  # small integers: parallel rows, duplicates, zero rows
        W = rng.integers(-2, 3, size=(m, n)).astype(float)
    b = rng.standard_normal(m) if draw(st.booleans()) else np.zeros(m)
    return W, b


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_layers())
def test_sigma_star_equals_minimum_over_enumerated_cells(layer):
    W, b = layer
    out = sigma_star(W, b)
    ref = sigma_by_enumeration(W, b)
    if out.status == "zero":
        assert ref == 0.0 or ref < 1e-13 * np.linalg.norm(W)
        return
    assert out.status == "exact"
    assert ref > 0
    assert out.sigma == pytest.approx(ref, rel=1e-12)
    lo = float(out.lower)
    assert lo <= ref and lo >= ref * (1 - 1e-9)
    # the reported point is inside a cell whose positive rows are the reported ones
    vals = [sum(Fraction(float(w)) * x for w, x in zip(W[i], out.point)) + Fraction(float(b[i]))
            for i in range(len(W))]
    pos = [i for i, v in enumerate(vals) if v > 0]
    assert tuple(pos) == out.positive
    assert all(v != 0 for i, v in enumerate(vals) if np.any(W[i]))
    assert np.linalg.svd(W[pos], compute_uv=False)[-1] == pytest.approx(out.sigma, rel=1e-12)


def test_certified_bound_is_an_exact_proof_for_the_minimising_cell():
    rng = np.random.default_rng(8)
    W = rng.standard_normal((18, 3))
    out = sigma_star(W)
    assert out.status == "exact"
    t = out.lower
    # independent exact check (Fractions) that sigma_min(W_P) > t ...
    assert ldl_positive_definite(gram_minus(W, out.positive, t))
    # ... and that it is tight: t slightly above sigma* fails
    assert not ldl_positive_definite(gram_minus(W, out.positive, Fraction(out.sigma * (1 + 1e-7))))


def test_the_whole_sigma_proof_verifies_independently():
    """The search tree is a proof of sigma* >= t: its branching and Gordan
    leaves are what the independent certificate checker reads (converted
    bound leaf -> basis leaf), and each bound leaf's sigma_min(rows) > t is
    re-checked here with Fractions."""
    from solver.certificates import check_certificate
    from solver.stability import _certificate_from_tree
    W = np.random.default_rng(9).standard_normal((15, 3))
    out = sigma_star(W, keep_tree=True)
    assert out.status == "exact"
    cert = _certificate_from_tree(W, np.zeros(15), out.tree)
    assert check_certificate(W, np.zeros(15), cert)[0]
    t = out.lower
    stack, bound = [out.tree], 0
    while stack:
        node = stack.pop()
        if "branch" in node:
            stack += [node["pos"], node["neg"]]
        elif node["leaf"] == "bound":
            assert Fraction(node["t"]) == t
            assert ldl_positive_definite(gram_minus(W, node["rows"], t))
            bound += 1
    assert bound > 0


def _thin_cell_layer():
    """A 1-D layer whose middle cell (1/3, c) contains no binary64 number
    (``c`` is the double right after 1/3, and the double before it is below
    1/3), and whose sigma* is attained there: the cells, exactly, are
    ``x < 1/3`` (rows -300x + 100 and -x + c), ``1/3 < x < c`` (3x - 1 and
    -x + c: sigma = sqrt(10)) and ``x > c`` (3x - 1 and 1024 (x - c))."""
    c = np.nextafter(1 / 3, 1.0)
    assert Fraction(np.nextafter(c, 0.0)) < Fraction(1, 3) < Fraction(c)
    W = np.array([[3.0], [-300.0], [-1.0], [1024.0]])
    b = np.array([-1.0, 100.0, c, -1024 * c])
    return W, b, Fraction(c)


def test_sigma_star_settles_a_cell_that_no_double_meets():
    """The minimising cell is thinner than the spacing of binary64 numbers:
    its exact interior point (from the exact simplex) must be used as it is,
    not rounded to a double (which lies outside the cell)."""
    W, b, c = _thin_cell_layer()
    out = sigma_star(W, b)
    assert out.status == "exact", out.stats
    assert out.sigma == pytest.approx(math.sqrt(10), rel=1e-12)
    assert out.lower * out.lower <= 10 and float(out.lower) >= math.sqrt(10) * (1 - 1e-9)
    x, = out.point
    assert Fraction(1, 3) < x < c and out.positive == (0, 2)
    assert stability(W, b, time_limit=30).status == "exact"
    # rank-deficient thin cell (no row active in it): sigma* = 0, with its point
    W0, b0 = np.array([[-3.0], [1.0]]), np.array([1.0, -float(c)])
    out = sigma_star(W0, b0)
    assert out.status == "zero" and out.positive == ()
    assert Fraction(1, 3) < out.point[0] < c


def test_pd_exact_against_eigenvalues():
    import flint
    rng = np.random.default_rng(3)
    for _ in range(40):
        k = int(rng.integers(1, 5))
        A = rng.integers(-3, 4, size=(k, k))
        A = A @ A.T - int(rng.integers(0, 4)) * np.eye(k, dtype=int)
        ev = np.linalg.eigvalsh(A.astype(float))
        if abs(ev).min() < 1e-9:
            assert not pd_exact(flint.fmpz_mat(A.tolist())) or ev.min() > 0
            continue
        assert pd_exact(flint.fmpz_mat(A.tolist())) == (ev.min() > 0)


# --------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_B_minus_DB_closed_form(seed):
    """[B; -DB] with D a positive diagonal of powers of two (DB exact): at each
    generic x exactly one row of each pair is positive, every choice is a cell,
    so by monotonicity sigma* = sigma_min(diag(min(1, d)) B)."""
    rng = np.random.default_rng(seed)
    n = 3
    B = rng.standard_normal((n, n))
    d = 2.0 ** rng.integers(-2, 3, size=n)
    W = np.vstack([B, -d[:, None] * B])
    out = sigma_star(W)
    expect = np.linalg.svd(np.minimum(1.0, d)[:, None] * B, compute_uv=False)[-1]
    assert out.status == "exact"
    assert out.sigma == pytest.approx(expect, rel=1e-12)
    assert float(out.lower) <= expect


def test_B_minus_B_biased_closed_form():
    """[B; -B] with biases [c; -c]: each pair shares one affine hyperplane, so
    every cell has Gram B^T B: sigma* = sigma_min(B) whatever c is."""
    rng = np.random.default_rng(11)
    B = rng.standard_normal((3, 3))
    c = rng.standard_normal(3)
    out = sigma_star(np.vstack([B, -B]), np.concatenate([c, -c]))
    assert out.sigma == pytest.approx(np.linalg.svd(B, compute_uv=False)[-1], rel=1e-12)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5), (0.25, 3.0)])
def test_orthogonal_construction(alpha, beta):
    """[alpha Q; -beta Q], Q orthogonal (exactly: a signed permutation):
    sigma* = min(alpha, beta)."""
    Q = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    r = stability(np.vstack([alpha * Q, -beta * Q]))
    assert r.verdict.value == "injective" and r.status == "exact"
    assert r.sigma == pytest.approx(min(alpha, beta), rel=1e-14)
    assert r.constant == pytest.approx(min(alpha, beta) / math.sqrt(12), rel=1e-14)


def test_inverse_lipschitz_of_B_minus_B_sits_between_the_bounds():
    """For [B; -B] the true inverse Lipschitz constant is sigma_min(B)/sqrt(2)
    (per coordinate (relu(a) - relu(c))^2 + (relu(-a) - relu(-c))^2 >= (a - c)^2 / 2,
    equality at c = -a). Every proved lower bound must be below it, every
    upper bound above it."""
    rng = np.random.default_rng(5)
    B = rng.standard_normal((2, 2))
    r = stability(np.vstack([B, -B]), n_random=30)
    L = np.linalg.svd(B, compute_uv=False)[-1] / math.sqrt(2)
    assert r.constant_lower <= r.constant_sharp <= L * (1 + 1e-12)
    assert r.upper >= L * (1 - 1e-12)
    assert r.upper <= L * (1 + 1e-6)     # the search finds the optimal pair here


@pytest.mark.parametrize("seed", [0, 1])
def test_inverse_lipschitz_closed_form_n1(seed):
    """n = 1, W a column with entries a_i of both signs: A = sum_{a>0} a^2,
    B = sum_{a<0} a^2. Same-sign pairs have ratio^2 A or B, pairs x0 < 0 < x1
    have (A x1^2 + B x0^2) / (x1 - x0)^2 >= AB / (A + B) (equality at
    x1 / -x0 = B / A). So L = sqrt(AB / (A + B)) and sigma* = sqrt(min(A, B))."""
    rng = np.random.default_rng(seed)
    a = np.concatenate([np.abs(rng.standard_normal(3)), -np.abs(rng.standard_normal(2))])
    A, B = float(np.sum(a[a > 0] ** 2)), float(np.sum(a[a < 0] ** 2))
    r = stability(a[:, None])
    L = math.sqrt(A * B / (A + B))
    assert r.sigma == pytest.approx(math.sqrt(min(A, B)), rel=1e-12)
    assert r.hyperplanes == 1
    assert r.constant_sharp <= L <= r.upper <= L * (1 + 1e-6)


# --------------------------------------------------------------------------
# the pair
# --------------------------------------------------------------------------
def test_reported_pair_attains_upper_exactly():
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((20, 3)), rng.standard_normal(20)
    r = stability(W, b)
    assert r.verdict.value == "injective" and r.status == "exact"
    doc = r.to_json()
    x1 = [Fraction(s) for s in doc["pair"]["x1"]]
    x2 = [Fraction(s) for s in doc["pair"]["x2"]]
    r2 = exact_ratio2(make_network([W], [b]), x1, x2)
    assert r2 == Fraction(doc["upper_squared"])
    u = doc["upper"]
    assert Fraction(u) ** 2 >= r2 > Fraction(math.nextafter(u, 0)) ** 2
    # two points of the minimising cell have ratio sigma*: upper <= sigma*
    assert u <= r.sigma * (1 + 1e-9)
    assert sqrt_up(r2) == u


def test_not_injective_layer_has_zero_constant_and_a_witness_pair():
    W = np.array([[1.0, 0.5], [0.25, 1.0], [-1.0, -1.0]])
    r = stability(W, box=2.0)
    assert r.verdict.value == "not_injective"
    assert r.sigma == 0.0 and r.sigma_lower == 0 and r.upper == 0.0
    net = make_network([W])
    assert net.check_witness(r.pair.x1, r.pair.x2)[0]
    assert r.collapse is not None and r.collapse.box == 2.0


# --------------------------------------------------------------------------
# collapse
# --------------------------------------------------------------------------
def test_collapse_of_relu_identity_is_R():
    """ReLU(x) on [-R, R]^2: equal outputs need every differing coordinate <= 0
    in both points, so the largest ||z1 - z2||_inf is R."""
    from solver.collapse import collapse
    c = collapse(make_network([np.eye(2)]), box=3.0)
    assert c.value == 3 and c.optimal
    assert make_network([np.eye(2)]).check_witness(c.z1, c.z2)[0]


def test_collapse_of_a_rounding_wedge_is_tiny():
    """A [B; -DB] layer with DB rounded: not injective only in wedges of relative
    width ~1e-16, so every colliding pair in the box is ~1e-16 R apart."""
    from solver.io import load_layer
    W, b = load_layer(INSTANCES / "construct_n3_m10_0.npz")
    r = stability(W, b, box=5.0)
    assert r.verdict.value == "not_injective"
    assert r.collapse.value is not None and 0 < r.collapse.value < 1e-12
    assert not r.collapse.optimal      # far below the MILP's tolerance: not claimed


def test_check_json_gains_collapse_with_box(tmp_npz):
    path = tmp_npz(W=np.array([[1.0, 0.5], [0.25, 1.0], [-1.0, -1.0]]))
    code, out, err = run("check", path, "--box", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "not_injective"
    c = doc["collapse"]
    z1 = [Fraction(s) for s in c["z1"]]
    z2 = [Fraction(s) for s in c["z2"]]
    assert make_network([np.array([[1.0, 0.5], [0.25, 1.0], [-1.0, -1.0]])]).check_witness(z1, z2)[0]
    assert max(abs(a - b) for a, b in zip(z1, z2)) == Fraction(c["value_exact"])
    assert all(abs(v) <= 2 for v in z1 + z2)
    code, out, _ = run("check", path, "--json")
    assert "collapse" not in json.loads(out)


def test_fast_exact_forward_matches_fractions():
    """exact.layer_preactivations (integer arithmetic) against the plain
    Fraction definition, on floats with mixed exponents."""
    from solver import exact
    rng = np.random.default_rng(4)
    W = rng.standard_normal((7, 5)) * 10.0 ** rng.integers(-8, 8, size=(7, 5))
    b = rng.standard_normal(7) * 1e-3
    x = [Fraction(int(v), int(q)) for v, q in zip(rng.integers(-50, 50, 5), rng.integers(1, 99, 5))]
    ref = [sum((Fraction(float(w)) * xj for w, xj in zip(row, x)), Fraction(0)) + Fraction(float(bi))
           for row, bi in zip(W, b)]
    assert exact.layer_preactivations(W, b, x) == ref


def test_region_of_pattern_matches_the_composed_maps():
    """networks.region_of_pattern (flint matrices): on the region of z's own
    pattern, the output map reproduces the exact forward pass at z, and z
    satisfies every row (<= 0); leaky and identity layers included."""
    from solver.collapse import _pattern
    from solver.networks import region_of_pattern
    rng = np.random.default_rng(6)
    net = make_network([rng.standard_normal((6, 3)), rng.standard_normal((5, 6)),
                        rng.standard_normal((4, 5))],
                       [rng.standard_normal(6), rng.standard_normal(5), None],
                       ["relu", "leaky_relu:0.25", "identity"])
    for _ in range(5):
        z = [Fraction(int(v), 7) for v in rng.integers(-20, 20, 3)]
        r = region_of_pattern(net, _pattern(net, z), "all", 10.0)
        out = [sum((a * c for a, c in zip(row, z)), Fraction(0)) + dd for row, dd in zip(r.M, r.d)]
        assert out == net.forward_exact(z)
        assert all(sum(a * c for a, c in zip(row[:3], z)) + row[3] <= 0 for row in r.rows)


# --------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------
def test_network_constant_is_the_product_of_layer_constants():
    B = np.array([[2.0, 1.0], [0.0, 1.0]])
    W0 = np.vstack([B, -B])                     # injective on R^2
    W1 = np.vstack([np.eye(4), -np.eye(4)])     # injective
    net = make_network([W0, W1])
    r = stability(net)
    assert r.verdict.value == "injective" and r.kind == "network"
    c0, c1 = r.layers[0].constant, r.layers[1].constant
    assert r.constant == pytest.approx(c0 * c1, rel=1e-14)
    assert r.constant_lower <= r.constant
    assert r.layers[0].sigma == pytest.approx(np.linalg.svd(B, compute_uv=False)[-1], rel=1e-12)
    # the found pair is an upper bound on the network's constant: above the product
    assert r.upper >= r.constant_lower


def test_later_layer_constant_uses_the_nonnegative_orthant():
    """ReLU(I z) is not injective on R^4 but is on z >= 0 (Remark 1), where
    every cell meeting the open orthant has all 4 rows active: sigma* = 1."""
    B = np.array([[2.0, 1.0], [0.0, 1.0]])
    r = stability(make_network([np.vstack([B, -B]), np.eye(4)]))
    assert r.verdict.value == "injective" and r.status == "bound"
    assert r.layers[1].stats["domain"] == "nonneg"
    assert r.layers[1].sigma == pytest.approx(1.0, rel=1e-14)
    assert r.constant == pytest.approx(r.layers[0].constant / math.sqrt(8), rel=1e-14)


# --------------------------------------------------------------------------
# limits and the CLI
# --------------------------------------------------------------------------
def test_tiny_time_limit_gives_unknown_with_bounds():
    rng = np.random.default_rng(107)
    W = rng.standard_normal((42, 7))
    stability(W, time_limit=0.1)         # start-up: imports of the phases
    t0 = time.monotonic()
    r = stability(W, time_limit=1.0)
    elapsed = time.monotonic() - t0
    assert elapsed <= 1.1                 # the limit, kept within 10 %
    assert r.status == "unknown"
    assert r.constant is None
    if r.sigma is not None:             # an upper bound on sigma*, from a real cell
        assert r.sigma > 0 and r.sigma_lower is not None and float(r.sigma_lower) <= r.sigma


def test_cli_json_fields(tmp_npz):
    path = tmp_npz(W=np.vstack([np.eye(2), -np.eye(2)]))
    code, out, err = run("stability", path, "--json")
    assert code == 0, err
    doc = json.loads(out)
    for key in ("verdict", "sigma", "sigma_lower", "constant", "upper", "x", "active",
                "collapse", "seconds"):
        assert key in doc
    assert doc["verdict"] == "injective" and doc["collapse"] is None
    assert all(isinstance(s, str) for s in doc["x"])
    code, out, err = run("stability", path)
    assert code == 0 and "sigma*:" in out and "constant:" in out


@pytest.mark.parametrize("args", [
    ("stability", "no_such_file.npz"),
    ("stability", INSTANCES / "cross_n2.npz", "--box", "-1"),
    ("stability", INSTANCES / "cross_n2.npz", "--time-limit", "abc"),
    ("stability", INSTANCES / "cross_n2.npz", "--box", "nan"),
])
def test_cli_bad_input_one_line_exit_2(args):
    code, out, err = run(*args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("reluinj: error:")


def test_cli_nan_weights(tmp_npz):
    path = tmp_npz(W=np.array([[1.0, np.nan], [0.0, 1.0]]))
    code, _, err = run("stability", path)
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("scale", ["2.0 ** 600", "1e200", "2.0 ** -600", "1e-300", "1e-160"])
def test_stability_at_extreme_scales(tmp_path, scale):
    """[I; -I] in R^2 times s has sigma* = s exactly (every cell's active rows
    are +-e1, +-e2), and Theorem 4's constant s / sqrt(2m) = s / sqrt(8).
    Far from unit scale the search once overflowed (1e200: internal error)
    or never ended (1e-160: an ulp-by-ulp square root from a subnormal);
    run as a command with a timeout so that a hang fails instead of stalling."""
    s = eval(scale)
    p = tmp_path / "cross.npz"
    np.savez(p, W=np.vstack([np.eye(2), -np.eye(2)]) * s)
    r = subprocess.run([sys.executable, "-m", "solver", "stability", str(p), "--json",
                        "--time-limit", "20"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "injective" and d["status"] == "exact"
    lower = Fraction(d["sigma_lower_exact"])
    assert (1 - Fraction(1, 10 ** 6)) * Fraction(s) <= lower <= Fraction(s)
    # any pair's ratio lies between Theorem 4's bound s/sqrt(8) and ||W||_2 = s
    r2 = Fraction(d["pair"]["ratio_squared"])
    assert Fraction(s) ** 2 / 8 <= r2 <= Fraction(s) ** 2
    assert math.isclose(d["constant"], s / math.sqrt(8), rel_tol=1e-9)
    assert d["constant_lower"] <= s / math.sqrt(8)


def test_sigma_star_keeps_its_limit_on_a_large_layer(frozen_heap):
    """The seeding's Gram matrices of 2000 sampled points were one einsum
    (11.8 s on 1500 x 48 at a 0.5 s limit); now formed in chunks between
    clock checks. A layer too large to hold its m n^2 Gram entries is not
    searched at all, and says so."""
    W = np.random.default_rng(0).standard_normal((1500, 48))
    t = time.monotonic()
    out = sigma_star(W, np.zeros(1500), time_limit=1.0)
    assert time.monotonic() - t < 2.0 and out.status == "unknown"
    big = np.ones((4000, 120))                      # m n^2 = 5.8e7 floats
    t = time.monotonic()
    out = sigma_star(big, np.zeros(4000), time_limit=60)
    assert time.monotonic() - t < 1.0
    assert out.status == "unknown" and out.stats["reason"].startswith("not searched")


def test_network_stability_with_a_layer_at_an_extreme_scale():
    """sigma_star itself works at any scale (it rescaled only inside
    layer_stability, so a network with a 1e200 layer ended in an internal
    error): [I; -I] * s then the identity has layer constants s and 1."""
    for s in (1e200, 1e-160):
        net = make_network([np.vstack([np.eye(2), -np.eye(2)]) * s, np.eye(4)],
                           activations=["relu", "identity"])
        r = stability(net, time_limit=30)
        first = r.layers[0]
        assert first.status == "exact"
        assert (1 - Fraction(1, 10 ** 6)) * Fraction(s) <= first.sigma_lower <= Fraction(s)
        assert r.status == "bound" and r.constant_lower <= s / math.sqrt(8)
