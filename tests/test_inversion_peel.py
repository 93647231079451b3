"""Peeling the target's structure before the MIP (issue 15) and the inversion
messages of issue 13, section 5.

Every claim is checked against an independent computation: LP hulls for the
certified boxes, sampling for the enclosures, region enumeration with one LP
per region for uniqueness, exact rational arithmetic for witnesses.
"""
import argparse
import json
import pathlib

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from solver.activations import IDENTITY, RELU, SIGMOID, TANH, leaky_relu, parse_activation
from solver.inversion import (MIP_GAP, invert, pre_activation_network, region_affine,
                              region_constraints, residual_norm)
from solver.inversion_baselines import enumerate_regions
from solver.inversion_peel import (affine_enclosure, certified_box, forward_bounds, peel,
                                   preimage_box, range_lower_bound, reduced_affine,
                                   refine_latent_box, target_box)
from solver.network import DenseLayer, Network, make_network

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "models"
VAE400 = SHARED / "mnist_vae_decoder_20_400_784.npz"
ACTS = [RELU, IDENTITY, leaky_relu(0.2), leaky_relu(2.0), SIGMOID, TANH]


def gen(seed, widths, acts, scale=1.0):
    rng = np.random.default_rng(seed)
    Ws = [scale * rng.standard_normal((widths[k + 1], widths[k])) for k in range(len(widths) - 1)]
    bs = [0.3 * rng.standard_normal(widths[k + 1]) for k in range(len(widths) - 1)]
    return make_network(Ws, bs, acts)


# --------------------------------------------------------------------------
# interval preimages of the head
# --------------------------------------------------------------------------

@pytest.mark.parametrize("act", ACTS, ids=str)
def test_preimage_box_contains_every_preimage_and_is_tight(act):
    """Sampling: every y with act(y) in [v_lo, v_hi] lies in the box, and the
    box's finite ends map to within 1e-9 of the interval."""
    rng = np.random.default_rng(1)
    ys = np.linspace(-8, 8, 4001)
    fy = act.forward(ys)
    for _ in range(25):
        a, b = np.sort(rng.uniform(-1.5, 1.5, 2))
        lo, hi = preimage_box(act, np.array([a]), np.array([b]))
        inside = (fy >= a) & (fy <= b)
        if not inside.any():
            continue
        assert lo[0] <= ys[inside].min() and hi[0] >= ys[inside].max()
        if np.isfinite(lo[0]) and lo[0] > -8:
            assert act.forward(np.array([lo[0]]))[0] == pytest.approx(max(a, act.range[0]),
                                                                     abs=1e-9)
        if np.isfinite(hi[0]) and hi[0] < 8:
            assert act.forward(np.array([hi[0]]))[0] == pytest.approx(b, abs=1e-9)


def test_preimage_box_empty_and_one_sided():
    lo, hi = target_box(SIGMOID, np.array([-0.5, 0.0, 1.2, 0.5]), 0.1)
    assert lo[0] > hi[0]                       # sigmoid never reaches [-0.6, -0.4]
    assert lo[1] == -np.inf and hi[1] < 0      # [.., 0.1]: only an upper end
    assert lo[2] > hi[2]                       # beyond 1
    assert np.isfinite(lo[3]) and np.isfinite(hi[3])
    lo, hi = target_box(RELU, np.array([-0.5, 0.05, 1.0]), 0.1)
    assert lo[0] > hi[0] and lo[1] == -np.inf and lo[2] == pytest.approx(0.9)


def test_range_lower_bound_is_the_distance_to_the_reachable_range():
    x = np.array([-0.3, 0.5, 1.4])
    lb = range_lower_bound(SIGMOID, x, np.array([-2.0, -2.0, -2.0]), np.array([1.0, 1.0, 1.0]))
    s = SIGMOID.forward(np.array([-2.0, 1.0]))
    assert lb[0] == pytest.approx(s[0] + 0.3) and lb[1] == 0.0
    assert lb[2] == pytest.approx(1.4 - s[1])
    assert np.all(lb <= np.array([s[0] + 0.3, 0.0, 1.4 - s[1]]))


# --------------------------------------------------------------------------
# certified boxes and enclosures
# --------------------------------------------------------------------------

def lp_hull(W, b, tlo, thi, ulo, uhi):
    """Exact hull of {u in [ulo, uhi] : tlo <= W u + b <= thi} by 2n LPs."""
    n = W.shape[1]
    A = np.vstack([W, -W])
    r = np.concatenate([thi - b, b - tlo])
    out = []
    for j in range(n):
        c = np.zeros(n)
        c[j] = 1
        lo_ = linprog(c, A_ub=A, b_ub=r, bounds=list(zip(ulo, uhi)), method="highs").fun
        hi_ = -linprog(-c, A_ub=A, b_ub=r, bounds=list(zip(ulo, uhi)), method="highs").fun
        out.append((lo_, hi_))
    return np.array(out)


@pytest.mark.parametrize("seed", range(4))
def test_certified_box_contains_the_lp_hull(seed):
    rng = np.random.default_rng(seed)
    m, n = 30, 8
    W = rng.standard_normal((m, n))
    b = rng.standard_normal(m)
    u0 = rng.uniform(-1, 1, n)
    r = rng.uniform(1e-4, 1e-2, m)
    tlo, thi = W @ u0 + b - r, W @ u0 + b + r
    cb = certified_box(W, b, tlo, thi, np.full(n, 3.0))
    assert cb.certified_rank
    hull = lp_hull(W, b, tlo, thi, np.full(n, -3.0), np.full(n, 3.0))
    assert np.all(cb.center - cb.radius <= hull[:, 0] + 1e-12)
    assert np.all(cb.center + cb.radius >= hull[:, 1] - 1e-12)
    # and it is a useful enclosure: within a modest factor of the hull
    assert np.max(2 * cb.radius) <= 50 * np.max(hull[:, 1] - hull[:, 0])


def test_certified_box_refuses_rank_deficient_rows():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 5))   # rank 3 < 5
    tlo, thi = -np.ones(20), np.ones(20)
    cb = certified_box(W, np.zeros(20), tlo, thi, np.full(5, 2.0))
    assert not cb.certified_rank
    assert certified_box(W[:4], np.zeros(4), tlo[:4], thi[:4], np.full(5, 2.0)) is None


@pytest.mark.parametrize("seed", range(3))
def test_affine_enclosure_contains_the_preactivations(seed):
    net = gen(seed, (3, 10, 12, 6), [RELU, leaky_relu(0.3), SIGMOID])
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1, 1, 3)
    lo, hi = c - 0.2, c + 0.2
    enc = affine_enclosure(net, lo, hi)
    for z in rng.uniform(lo, hi, (200, 3)):
        h = z
        for k, L in enumerate(net.layers):
            y = L.W @ h + L.b
            base = enc.A[k] @ z + enc.c[k]
            assert np.all(y >= base + enc.elo[k] - 1e-12) and np.all(y <= base + enc.ehi[k] + 1e-12)
            assert np.all(y >= enc.bounds[k][0] - 1e-12) and np.all(y <= enc.bounds[k][1] + 1e-12)
            h = L.activation.forward(y)


def test_reduced_affine_is_exact_on_the_box():
    """y_K = M V + c with V = (z, outputs of the units unstable on the box)."""
    net = gen(5, (3, 12, 7), [RELU, IDENTITY])
    lo, hi = np.array([0.1, -0.2, 0.3]), np.array([0.4, 0.2, 0.5])
    fwd = forward_bounds(net, lo, hi)
    maps, cols, vmax = reduced_affine(net, lo, hi, fwd)
    M, c, err = maps[-1]
    rng = np.random.default_rng(0)
    for z in rng.uniform(lo, hi, (50, 3)):
        u = np.maximum(net.layers[0].W @ z + net.layers[0].b, 0)
        V = np.concatenate([z, [u[j] for _, j in cols]])
        assert np.all(np.abs(V) <= vmax + 1e-12)
        assert np.allclose(M @ V + c, net.forward(z), atol=1e-12)
        assert np.all(np.abs(M @ V + c - net.forward(z)) <= err + 1e-12)


# --------------------------------------------------------------------------
# peel + refinement enclose the preimage set
# --------------------------------------------------------------------------

def test_peel_pins_an_expansive_generator_and_fixes_signs():
    net = gen(7, (3, 16, 40), [RELU, IDENTITY])
    z0 = np.array([0.4, -0.7, 0.2])
    x = net.forward(z0)
    lo, hi = np.full(3, -5.0), np.full(3, 5.0)
    eps = 1e-6
    pe = peel(net, *target_box(IDENTITY, x, eps), lo, hi)
    assert pe.reached_latent and [p.layer for p in pe.layers] == [1]
    active = net.layers[0].W @ z0 + net.layers[0].b > 1e-3
    assert pe.layers[0].fixed_active == int(active.sum())   # the target fixes them
    zlo, zhi, enc, st = refine_latent_box(net, pe.boxes, *pe.z_box)
    assert st == "ok" and np.all(zlo <= z0) and np.all(z0 <= zhi)
    assert np.max(zhi - zlo) < 1e-4


def test_peel_empty_box_proves_no_exact_preimage():
    """Output unit 0 cannot reach the target: the peel says so, and region
    enumeration confirms that every latent point misses by more than eps."""
    net = gen(3, (2, 6, 8), [RELU, IDENTITY])
    lo, hi = np.full(2, -2.0), np.full(2, 2.0)
    fwd = forward_bounds(net, lo, hi)
    x = net.forward(np.array([0.3, 0.1]))
    x[0] = fwd[-1][1][0] + 1.0
    pe = peel(net, *target_box(IDENTITY, x, 1e-6), lo, hi)
    assert pe.empty
    r = invert(net, x, latent_box=2.0, uniqueness=False)
    assert r.status == "nearest" and r.bound >= 1e-6
    best = min(residual_norm(net.forward(zc) - x, "linf") for _, zc in
               enumerate_regions(net, lo, hi))
    assert best > 1e-6


# --------------------------------------------------------------------------
# uniqueness against region enumeration
# --------------------------------------------------------------------------

def brute_second_preimage(net, x, eps, z, delta, lo, hi):
    """Independent: over every activation region meeting the box, one LP per
    coordinate side for a point with ||pre(z') - x||_inf <= eps (pre-activation
    network: the head's box) and z'_j >= z_j + delta (or <= z_j - delta).
    Returns such a z' or None."""
    pre = pre_activation_network(net)
    tlo, thi = target_box(net.layers[-1].activation, x, eps)
    n = net.n_in
    for pat, _ in enumerate_regions(pre, lo, hi):
        pres, A, c = region_affine(pre, pat)
        M, m = region_constraints(pre, pat, pres)
        up, dn = np.isfinite(thi), np.isfinite(tlo)
        Aub = np.vstack([A[up], -A[dn], M])
        bub = np.concatenate([thi[up] - c[up], c[dn] - tlo[dn], m])
        for j in range(n):
            for s in (+1, -1):
                blo, bhi = lo.copy(), hi.copy()
                if s > 0:
                    blo[j] = z[j] + delta
                else:
                    bhi[j] = z[j] - delta
                if blo[j] > bhi[j]:
                    continue
                res = linprog(np.zeros(n), A_ub=Aub, b_ub=bub, bounds=list(zip(blo, bhi)),
                              method="highs")
                if res.status == 0:
                    return res.x
    return None


@pytest.mark.parametrize("seed,acts", [(0, [RELU, IDENTITY]), (1, [RELU, RELU]),
                                       (2, [RELU, SIGMOID]), (3, [leaky_relu(0.1), TANH]),
                                       (4, [RELU, RELU, IDENTITY])])
def test_unique_agrees_with_region_enumeration(seed, acts):
    widths = (2, 7, 9) if len(acts) == 2 else (2, 5, 6, 9)
    net = gen(seed, widths, acts)
    rng = np.random.default_rng(100 + seed)
    z0 = rng.uniform(-1, 1, 2)
    x = net.forward(z0)
    R = 2.0
    lo, hi = np.full(2, -R), np.full(2, R)
    r = invert(net, x, latent_box=R, time_limit=60)
    assert r.status == "exact" and r.unique is not None, r.message
    pl = net.layers[-1].activation.piecewise_linear
    assert r.space == ("output" if pl else "pre-activation")
    xx = x if pl else net.layers[-1].activation.inverse(x)
    ex_net = net if pl else pre_activation_network(net)
    eps = 1e-6 * max(1.0, float(np.max(np.abs(xx))))
    z = np.array(r.z)
    assert np.max(np.abs(ex_net.forward(z) - xx)) <= eps
    far = brute_second_preimage(ex_net, xx, eps, z, r.delta * (1 + 1e-6), lo, hi)
    if r.unique:
        assert far is None
    else:
        assert far is not None or r.second_preimage is not None
        z2 = np.array(r.second_preimage)
        assert np.max(np.abs(z2 - z)) >= r.delta * (1 - 1e-9)
        assert np.max(np.abs(ex_net.forward(z2) - xx)) <= eps


def flat_direction_generator():
    """G(z) = W1 relu(W0 z + b0): z3 enters only a unit that is never active
    on the box (z3 - 10 < 0), so every preimage comes with a segment of
    others along z3 (bounded by unit 4 switching on)."""
    W0 = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, -1.0, -1.0]])
    b0 = np.array([0.0, 0.0, -10.0, 0.0])
    W1 = np.random.default_rng(0).standard_normal((10, 4))
    return make_network([W0, W1], [b0, np.zeros(10)], ["relu", "identity"])


def test_second_preimage_along_a_flat_direction_is_an_exact_witness():
    net = flat_direction_generator()
    x = net.forward(np.array([1.0, 2.0, 0.0]))
    r = invert(net, x, time_limit=60)
    assert r.status == "exact" and r.unique is False
    assert r.witness is not None
    ok, why = net.check_witness(r.witness.x1, r.witness.x2)
    assert ok, why
    z2 = np.array(r.second_preimage)
    assert abs(z2[2] - r.z[2]) >= r.delta and z2[2] >= -3 - 1e-9   # unit 4 stays off


def test_sparse_layers_are_handled():
    """A generator whose layers are scipy.sparse (as convolutions are stored)."""
    dense = gen(11, (3, 10, 24), [RELU, TANH], scale=0.5)
    layers = tuple(DenseLayer(sp.csr_matrix(L.W), L.b, L.activation) for L in dense.layers)
    net = Network(layers)
    z0 = np.array([0.2, -0.4, 0.6])
    x = net.forward(z0)
    r = invert(net, x, latent_box=2.0, time_limit=60)
    rd = invert(dense, x, latent_box=2.0, time_limit=60)
    assert r.status == rd.status == "exact"
    assert r.unique == rd.unique and r.unique is not None
    assert np.allclose(r.z, rd.z, atol=1e-6)


@pytest.mark.parametrize("norm", ["linf", "l1"])
def test_sparse_relu_generator_nearest_point_is_honest(norm):
    """No whole-network MIP for sparse layers: the nearest point is heuristic,
    its bound the range bound, which a dense grid of latent points respects."""
    dense = gen(12, (2, 8, 10), [RELU, RELU], scale=0.7)
    net = Network(tuple(DenseLayer(sp.csr_matrix(L.W), L.b, L.activation)
                        for L in dense.layers))
    x = net.forward(np.array([0.3, -0.5])) + np.linspace(-0.3, 0.3, 10)
    x[0] = -0.8                      # below the ReLU's range: costs at least 0.8
    r = invert(net, x, latent_box=1.0, norm=norm, time_limit=30)
    assert r.status == "nearest" and r.bound >= (0.8 if norm == "linf" else 0.8) - 1e-12
    g = np.linspace(-1, 1, 101)
    best = min(residual_norm(net.forward(np.array([a, b])) - x, norm) for a in g for b in g)
    assert r.bound <= best + 1e-12
    if r.optimal:
        assert r.objective * (1 - MIP_GAP) <= r.bound + 1e-12


# --------------------------------------------------------------------------
# sigmoid / tanh heads
# --------------------------------------------------------------------------

def test_sigmoid_head_exact_is_the_pre_activation_problem():
    net = gen(21, (2, 8, 12), [RELU, SIGMOID])
    z0 = np.array([0.5, -0.3])
    x = net.forward(z0)
    r = invert(net, x, latent_box=2.0)
    d = r.to_json()
    assert d["status"] == "exact" and d["space"] == "pre-activation"
    y = pre_activation_network(net).forward(np.array(r.z))
    ystar = SIGMOID.inverse(x)
    assert np.max(np.abs(y - ystar)) <= 1e-6 * max(1, np.max(np.abs(ystar)))
    assert d["objective"] == pytest.approx(np.max(np.abs(y - ystar)))
    assert d["residual"] == pytest.approx(np.max(np.abs(net.forward(np.array(r.z)) - x)))
    assert d["residual_space"] == "output" and d["warnings"] == []


def test_sigmoid_head_target_outside_the_range_warns_and_stays_honest():
    """A target pixel below 0 costs at least its distance to (0, 1): the
    output-space nearest point is then optimal by the range bound, which a
    dense grid of latent points confirms."""
    net = gen(22, (2, 6, 5), [RELU, SIGMOID])
    x = net.forward(np.array([0.1, 0.2]))
    x[0] = -0.4
    r = invert(net, x, latent_box=1.0, time_limit=60)
    assert r.status == "nearest" and r.space == "output"
    assert any("range (0, 1)" in w for w in r.warnings)
    g = np.linspace(-1, 1, 201)
    best = min(np.max(np.abs(net.forward(np.array([a, b])) - x)) for a in g for b in g)
    assert r.bound <= best + 1e-12
    assert r.objective <= best + 1e-9
    if r.optimal:
        assert r.objective * (1 - MIP_GAP) <= r.bound + 1e-12


# --------------------------------------------------------------------------
# issue 13, section 5: messages that said the wrong thing
# --------------------------------------------------------------------------

def _cli(argv, capsys):
    from solver.inversion_cli import add_invert_subparser
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    add_invert_subparser(sub)
    args = p.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


def _save(tmp_path, net, x):
    model = tmp_path / "g.npz"
    arrays = {}
    for k, L in enumerate(net.layers):
        arrays[f"W{k}"], arrays[f"b{k}"] = L.W, L.b
    np.savez(model, activations=np.array([str(L.activation) for L in net.layers]), **arrays)
    np.save(tmp_path / "x.npy", x)
    return str(model), str(tmp_path / "x.npy")


def _printed(out, key):
    line = next(ln for ln in out.splitlines() if ln.startswith(key))
    return line, float(line.split()[1])


@pytest.mark.parametrize("peel_flag", [[], ["--no-peel"]])
def test_issue13_all_minus_one_target_prints_the_bound_that_proves_optimality(
        tmp_path, capsys, peel_flag):
    """The bug: 'residual: 1.5476, optimal' next to 'proved: no z in the box has
    residual < 1.54764e-06'. Now the printed bound is the proved one, it
    names its norm and space, and it matches the optimum."""
    net = gen(8, (3, 6, 12), [RELU, RELU])
    model, target = _save(tmp_path, net, -np.ones(12))
    out = _cli(["invert", model, "--target", target, "--time-limit", "60"] + peel_flag, capsys)
    res_line, res = _printed(out, "residual:")
    bnd_line, bnd = _printed(out, "bound:")
    assert "L-inf" in res_line and "output space" in res_line
    assert "L-inf" in bnd_line and "output space" in bnd_line
    assert "(optimal)" in out
    assert res * (1 - MIP_GAP) - 1e-12 <= bnd <= res + 1e-12
    assert "1e-06" not in out.split("method:")[1]
    d = json.loads(_cli(["invert", model, "--target", target, "--json"] + peel_flag, capsys))
    assert d["optimal"] and d["bound"] >= d["objective"] * (1 - MIP_GAP) - 1e-12


def test_issue13_l1_prints_each_number_with_its_norm(tmp_path, capsys):
    """The bug: '--norm l1' printed the L-inf residual next to an unnamed bound
    on the L1 objective."""
    net = gen(9, (2, 5, 8), [RELU, RELU])
    x = net.forward(np.array([0.3, -0.2])) + np.linspace(-0.2, 0.2, 8)
    model, target = _save(tmp_path, net, x)
    out = _cli(["invert", model, "--target", target, "--norm", "l1", "--latent-box", "2",
                "--time-limit", "60"], capsys)
    res_line, res = _printed(out, "residual:")
    obj_line, obj = _printed(out, "objective:")
    assert "L-inf" in res_line and "L1" in obj_line
    assert "L1" in out.split("method:")[1].splitlines()[0]
    d = json.loads(_cli(["invert", model, "--target", target, "--norm", "l1", "--json",
                         "--latent-box", "2"], capsys))
    r = net.forward(np.array(d["z"])) - x
    assert d["residual"] == pytest.approx(np.max(np.abs(r)))
    assert d["objective"] == pytest.approx(np.sum(np.abs(r)))
    assert d["residual_norm"] == "linf" and d["norm"] == "l1"
    if "bound:" in out:
        bnd_line, bnd = _printed(out, "bound:")
        assert "L1" in bnd_line and bnd <= obj + 1e-9


def test_json_reports_what_the_peel_used(tmp_path, capsys):
    net = gen(7, (3, 16, 40), [RELU, IDENTITY])
    model, target = _save(tmp_path, net, net.forward(np.array([0.4, -0.7, 0.2])))
    d = json.loads(_cli(["invert", model, "--target", target, "--json"], capsys))
    assert d["peel"]["peeled_layers"] == [1] and d["peel"]["stopped_at"] is None
    assert d["units_fixed"] == 16 and d["binaries_left"] is None
    assert d["uniqueness_method"] == "latent box" and d["unique"] is True
    d = json.loads(_cli(["invert", model, "--target", target, "--json", "--no-peel"], capsys))
    assert d["peel"] is None and d["status"] == "exact"


# --------------------------------------------------------------------------
# the shared 20 -> 400 -> 784 VAE decoder (sigmoid head)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vae400():
    if not VAE400.exists():
        pytest.skip("shared model not available")
    from solver.network_io import load_network
    return load_network(VAE400)


def test_vae400_exact_target_is_pinned_without_a_mip(vae400):
    z0 = np.random.default_rng(11).standard_normal(20)
    x = vae400.forward(z0)
    r = invert(vae400, x, time_limit=60)
    assert r.status == "exact" and r.unique is True and r.space == "pre-activation"
    assert r.uniqueness_method == "latent box" and r.binaries is None
    assert r.peel["peeled_layers"] == [1] and r.peel["units_fixed"] == 400
    assert np.max(np.abs(np.array(r.z) - z0)) < 1e-3


def test_vae400_time_limit_is_kept_on_a_target_nothing_reproduces(vae400):
    """An all-zero image: no latent point reproduces it, the range bound does
    not settle optimality, and the MIPs cannot finish: the answer must still
    come within 10 % of the limit (plus start-up), with an honest status."""
    import time
    t0 = time.monotonic()
    r = invert(vae400, np.zeros(784), time_limit=8)
    took = time.monotonic() - t0
    assert took <= 8 * 1.1 + 2.0
    assert r.status == "nearest" and r.space == "output" and r.warnings
    if not r.optimal:
        assert r.bound is not None and r.bound <= r.objective


@pytest.mark.parametrize("peel", [True, False])
def test_a_second_preimage_from_the_uniqueness_mip_is_one_to_tolerance(peel):
    # a generator whose in-range target has a second preimage 0.58 away: the
    # uniqueness MIP's point, polished, must reproduce the target within the
    # stated tolerance (checked here by the forward pass) before "unique: false";
    # the peel path used to stall at residual 1.0000014e-6 > 1e-6 and say null
    from benchmarks.instances import make_generator, make_target
    from solver.inversion.api import invert
    spec = {"gen": "rand", "n0": 3, "widths": [12, 30], "seed": 0, "tseed": 1, "target": "range"}
    net = make_generator(spec)
    x, z0 = make_target(net, spec)
    r = invert(net, x, backend="scip", time_limit=30, seed=1, peel=peel)
    assert r.status == "exact" and r.unique is False
    z2 = np.asarray(r.second_preimage, float)
    assert np.max(np.abs(net.forward(z2) - x)) <= 1e-6
    assert np.max(np.abs(z2 - np.asarray(r.z, float))) >= r.delta
