"""Bound propagation over a latent box (solver.bounds)."""
import numpy as np
import pytest

from solver.bounds import (PersistentLP, interval_bounds, propagate_bounds, stable_masks,
                           tighten_units)
from solver.errors import InputError
from solver.network import make_network


def _net(seed, widths, acts, bias=True):
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((widths[k + 1], widths[k])) for k in range(len(widths) - 1)]
    bs = [rng.standard_normal(widths[k + 1]) if bias else None for k in range(len(widths) - 1)]
    return make_network(Ws, bs, acts)


def _pre_activations(net, Z):
    """Pre-activations of every layer for a batch of latent points (rows)."""
    H = Z
    out = []
    for L in net.layers:
        Y = H @ L.W.T + L.b
        out.append(Y)
        name = str(L.activation)     # text form, parsed here independently
        a = {"relu": 0.0, "identity": 1.0}.get(name) if ":" not in name else float(name.split(":")[1])
        H = np.where(Y > 0, Y, a * Y)
    return out


CASES = [
    (0, [3, 12, 10, 5], ["relu", "relu", "relu"]),
    (1, [4, 16, 8], ["leaky_relu:0.1", "identity"]),
    (2, [2, 10, 10, 6], ["relu", "leaky_relu:1.5", "relu"]),
    (3, [5, 20, 7], ["relu", "leaky_relu:0.3"]),
]


@pytest.mark.parametrize("seed,widths,acts", CASES)
def test_bounds_contain_sampled_preactivations(seed, widths, acts):
    net = _net(seed, widths, acts)
    rng = np.random.default_rng(100 + seed)
    lo = -rng.uniform(0.5, 2.0, widths[0])
    hi = rng.uniform(0.5, 2.0, widths[0])
    Z = rng.uniform(lo, hi, (20000, widths[0]))
    # also the corners, where extreme values live
    corners = np.array(np.meshgrid(*[[a, b] for a, b in zip(lo, hi)])).reshape(widths[0], -1).T
    Z = np.vstack([Z, corners])
    ib = interval_bounds(net, lo, hi)
    tb = propagate_bounds(net, lo, hi)
    pre = _pre_activations(net, Z)
    for k, Y in enumerate(pre):
        for (l, h), name in ((ib[k], "interval"), (tb[k], "lp")):
            assert np.all(Y >= l - 1e-9), (name, k)
            assert np.all(Y <= h + 1e-9), (name, k)


@pytest.mark.parametrize("seed,widths,acts", CASES)
def test_tightened_inside_interval(seed, widths, acts):
    net = _net(seed, widths, acts)
    ib = interval_bounds(net, -1.5, 1.5)
    st = {}
    tb = propagate_bounds(net, -1.5, 1.5, stats=st)
    for (il, ih), (tl, th) in zip(ib, tb):
        assert np.all(tl >= il - 1e-12) and np.all(th <= ih + 1e-12)
        assert np.all(tl <= th)
    # layer 0 is exact by interval arithmetic; deeper layers get strictly tighter somewhere
    assert np.array_equal(ib[0][0], tb[0][0])
    if any(a != "identity" for a in acts[1:]):  # identity layers need no big-M
        assert st["tightened"] > 0
        assert sum(np.sum(th - tl) for tl, th in tb) < sum(np.sum(ih - il) for il, ih in ib)


def test_first_layer_interval_is_exact():
    net = _net(5, [3, 6], ["relu"])
    lo, hi = np.array([-1.0, 0.0, -2.0]), np.array([1.0, 0.5, 1.0])
    (l, h), = interval_bounds(net, lo, hi)
    W, b = net.layers[0].W, net.layers[0].b
    best_hi = np.max(W @ np.array(np.meshgrid(*[[a, c] for a, c in zip(lo, hi)])).reshape(3, -1),
                     axis=1) + b
    assert np.allclose(h, best_hi)


def test_output_units_selection_and_tighten_units():
    net = _net(7, [3, 15, 12], ["relu", "relu"])
    full = propagate_bounds(net, -2, 2)
    none = propagate_bounds(net, -2, 2, output_units=[])
    ib = interval_bounds(net, -2, 2)
    assert np.array_equal(none[-1][0], ib[-1][0]) or np.all(none[-1][0] >= ib[-1][0])
    # hidden layers are the same either way
    assert np.allclose(full[0][0], none[0][0]) and np.allclose(full[0][1], none[0][1])
    some = tighten_units(net, -2, 2, none, 1, np.arange(12))
    assert np.allclose(some[1][0], full[1][0], atol=1e-6)
    assert np.allclose(some[1][1], full[1][1], atol=1e-6)


def test_identity_layers_are_never_unstable():
    net = _net(8, [3, 5, 4], ["identity", "relu"])
    act, ina = stable_masks("identity", -np.ones(5), np.ones(5))
    assert act.all() and not ina.any()
    b = propagate_bounds(net, -1, 1)
    assert len(b) == 2


def test_bad_boxes():
    net = _net(9, [3, 4], ["relu"])
    with pytest.raises(InputError):
        propagate_bounds(net, -np.inf, 1.0)
    with pytest.raises(InputError):
        propagate_bounds(net, [0, 0, 0], [1, -1, 1])
    with pytest.raises(InputError):
        interval_bounds(net, np.zeros(2), np.ones(2))
    with pytest.raises(InputError):
        propagate_bounds(net, np.nan, 1.0)


def test_degenerate_box_gives_point_bounds():
    net = _net(10, [2, 6, 3], ["relu", "relu"])
    z = np.array([0.3, -0.7])
    b = propagate_bounds(net, z, z)
    h = z
    for (l, u), L in zip(b, net.layers):
        y = L.W @ h + L.b
        assert np.allclose(l, y, atol=1e-5) and np.allclose(u, y, atol=1e-5)
        h = L.forward(h)


def test_persistent_lp_min_max():
    import scipy.sparse as sp
    # x + y <= 1, x, y in [0, 1]: max x = 1, min x + ... over the row
    A = sp.csr_matrix(np.array([[1.0, 1.0]]))
    lp = PersistentLP(A, [-np.inf], [1.0], [0, 0], [1, 1])
    assert lp.extreme(0, -1)[0] == pytest.approx(1.0)
    lp.set_bounds(1, 0.5, 1.0)
    assert lp.extreme(0, -1)[0] == pytest.approx(0.5)
    lp.set_bounds(1, 2.0, 3.0)
    assert lp.extreme(0, -1)[1] == "infeasible"
