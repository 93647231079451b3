"""The L-inf nearest point through a monotone head (issue 15): the region
walk of :mod:`solver.inversion_nearest` and the optimality claims it feeds.

The independent computation is the literal definition: enumerate every
activation region meeting the box (:func:`enumerate_regions`) and, in each,
find ``min t`` by bisection on the LP feasibility of
``|act(A z + c) - x| <= t`` (interval ends by the closed-form inverse of the
head, not by the code under test).
"""
import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.special import logit

from solver.activations import RELU, SIGMOID
from solver.inversion import (MIP_GAP, activation_pattern, invert, pre_activation_network,
                              region_affine, region_constraints)
from solver.inversion_baselines import enumerate_regions
from solver.inversion.nearest import region_minimax, region_walk
from solver.network import make_network


def gen(seed, widths, scale=1.0):
    rng = np.random.default_rng(seed)
    Ws = [scale * rng.standard_normal((widths[k + 1], widths[k])) for k in range(len(widths) - 1)]
    bs = [0.3 * rng.standard_normal(widths[k + 1]) for k in range(len(widths) - 1)]
    return make_network(Ws, bs, [RELU] * (len(widths) - 2) + [SIGMOID])


def _feasible(A, c, M, m, x, t, lo, hi):
    """Is some z of the region with |sigmoid(A z + c) - x| <= t? (closed-form
    logit ends, an end infinite where x -+ t leaves (0, 1))."""
    up_v, dn_v = x + t, x - t
    rows, rhs = [M], [m]
    up = up_v < 1
    rows.append(A[up])
    rhs.append(logit(np.clip(up_v[up], 1e-300, 1)) - c[up])
    if np.any(up_v <= 0):
        return False
    dn = dn_v > 0
    rows.append(-A[dn])
    rhs.append(c[dn] - logit(dn_v[dn]))
    r = linprog(np.zeros(A.shape[1]), A_ub=np.vstack(rows), b_ub=np.concatenate(rhs),
                bounds=list(zip(lo, hi)), method="highs")
    return r.status == 0


def _region_optimum(prenet, pat, x, lo, hi, t_hi=2.0, iters=40):
    """min t over the region by bisection (inf when not below ``t_hi``)."""
    pres, A, c = region_affine(prenet, pat)
    M, m = region_constraints(prenet, pat, pres)
    a, b = 0.0, t_hi
    if not _feasible(A, c, M, m, x, b, lo, hi):
        return np.inf
    for _ in range(iters):
        t = 0.5 * (a + b)
        if _feasible(A, c, M, m, x, t, lo, hi):
            b = t
        else:
            a = t
    return b


def _global_optimum(prenet, x, lo, hi):
    """Minimum over every region (a region that cannot beat the best so far
    costs one LP)."""
    best = 2.0
    for pat, _ in enumerate_regions(prenet, lo, hi):
        best = min(best, _region_optimum(prenet, pat, x, lo, hi, t_hi=best))
    return best


def _grid_best(net, x, lo, hi, k=401):
    """min over a k x k grid of the L-inf output residual (batched forward)."""
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], k), np.linspace(lo[1], hi[1], k))
    H = np.vstack([g0.ravel(), g1.ravel()])
    for L in net.layers:
        H = L.activation.forward(L.W @ H + L.b[:, None])
    return float(np.min(np.max(np.abs(H - x[:, None]), axis=0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_region_minimax_is_the_minimum_over_its_region(seed):
    net = gen(30 + seed, (2, 7, 6))
    pre = pre_activation_network(net)
    lo, hi = -np.ones(2), np.ones(2)
    rng = np.random.default_rng(seed)
    x = net.forward(rng.uniform(-1, 1, 2)) + 0.05 * rng.standard_normal(6)
    z = rng.uniform(-1, 1, 2)
    pat = activation_pattern(pre, z)
    t0 = float(np.max(np.abs(net.forward(z) - x)))
    zb, tb = region_minimax(pre, net.layers[-1].activation, x, pat, lo, hi, z, t0,
                            network=net, steps=30)
    truth = _region_optimum(pre, pat, x, lo, hi)
    # the returned value is the forward pass of the returned point ...
    assert tb == pytest.approx(float(np.max(np.abs(net.forward(zb) - x))), rel=1e-12)
    # ... a point of the (closed) region ...
    pres, _, _ = region_affine(pre, pat)
    M, m = region_constraints(pre, pat, pres)
    assert np.all(M @ zb <= m + 1e-7)
    # ... whose residual is the region's minimum (never below it)
    assert tb >= truth - 1e-9
    assert tb <= truth * (1 + 1e-6) + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walk_and_invert_agree_with_region_enumeration(seed):
    """Noisy targets of a small sigmoid generator: the walk is never below
    the global optimum, and ``invert``'s optimal claim is the global optimum
    to the MIP gap, with a bound below it."""
    net = gen(40 + seed, (2, 8, 10))
    pre = pre_activation_network(net)
    lo, hi = -np.ones(2), np.ones(2)
    rng = np.random.default_rng(seed)
    x = net.forward(rng.uniform(-1, 1, 2)) + 0.1 * rng.standard_normal(10)
    truth = _global_optimum(pre, x, lo, hi)
    z, t, info = region_walk(net, pre, x, np.zeros(2), lo, hi)
    assert t >= truth - 1e-9
    assert t <= float(np.max(np.abs(net.forward(np.zeros(2)) - x)))
    r = invert(net, x, latent_box=(lo, hi), time_limit=60, uniqueness=False)
    assert r.status == "nearest" and r.optimal
    assert r.bound <= truth + 1e-9
    assert truth - 1e-9 <= r.objective <= truth / (1 - MIP_GAP) + 1e-9


def test_walk_attains_the_range_bound_when_a_pixel_is_below_zero():
    """A pixel below 0 costs at least its distance to the sigmoid's range; on
    a generator that can push that pixel's logit far down the walk reaches
    that cost, which a grid confirms is the optimum."""
    net = gen(50, (2, 6, 5), scale=3.0)
    pre = pre_activation_network(net)
    lo, hi = -np.ones(2), np.ones(2)
    x = net.forward(np.array([0.1, 0.2]))
    x[0] = -0.3
    z, t, _ = region_walk(net, pre, x, np.array([0.1, 0.2]), lo, hi, lower=0.3)
    best = _grid_best(net, x, lo, hi)
    assert t <= best + 1e-12
    assert t >= 0.3
