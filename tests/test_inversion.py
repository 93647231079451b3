"""Inversion of ReLU generators by MIP (solver.inversion) and its baselines."""
import argparse
import json
import pathlib

import numpy as np
import pytest

from solver.errors import InputError
from solver.inversion import (DEFAULT_LATENT_BOX, InversionResult, exact_pair, invert,
                              region_affine, residual_norm)
from solver.inversion_baselines import gradient_descent, invert_by_enumeration, layerwise_lp
from solver.network import make_network

DECODER = pathlib.Path(__file__).resolve().parents[2] / "shared" / "models" / \
    "mnist_vae_decoder_20_60_784.npz"
KEYS = {"status", "z", "residual", "optimal", "unique", "second_preimage", "seconds", "method",
        "latent_box"}


def small_generator(seed, widths=(2, 4, 6), acts=None):
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((widths[k + 1], widths[k])) for k in range(len(widths) - 1)]
    bs = [rng.standard_normal(widths[k + 1]) for k in range(len(widths) - 1)]
    return make_network(Ws, bs, acts)


def targets(net, seed, R):
    """In range, in range plus noise, and far outside the range."""
    rng = np.random.default_rng(1000 + seed)
    z0 = rng.uniform(-R / 2, R / 2, net.n_in)
    x = net.forward(z0)
    return z0, {"in_range": x,
                "noisy": x + 0.1 * rng.standard_normal(len(x)),
                "outside": -np.abs(x) - 1.0 + 0.5 * rng.standard_normal(len(x))}


# --------------------------------------------------------------------------
# MIP == region enumeration (Prop. 4 literally) on small generators
# --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_mip_agrees_with_enumeration_linf(seed):
    net = small_generator(seed)
    R = 3.0
    z0, ts = targets(net, seed, R)
    for kind, x in ts.items():
        m = invert(net, x, latent_box=R, uniqueness=False)
        e = invert_by_enumeration(net, x, latent_box=R)
        assert e.optimal and e.stats["complete"]
        assert m.optimal, (kind, m.message)
        assert m.objective == pytest.approx(e.objective, rel=1e-6, abs=1e-7), kind
        assert np.all(np.abs(np.array(m.z)) <= R + 1e-12)
        if kind == "in_range":
            assert m.status == "exact" and m.residual <= 1e-9
        else:
            assert m.status == "nearest"
            assert m.objective <= residual_norm(net.forward(z0) - x, "linf") + 1e-9
        # the MIP's claim is a floating-point fact about the returned z
        assert m.residual == pytest.approx(np.max(np.abs(net.forward(np.array(m.z)) - x)))


@pytest.mark.parametrize("seed", [10, 11])
def test_mip_agrees_with_enumeration_l1_and_leaky(seed):
    net = small_generator(seed, (2, 5, 5, 4), ["relu", "leaky_relu:0.2", "relu"])
    R = 2.0
    _, ts = targets(net, seed, R)
    for kind, x in ts.items():
        for norm in ("linf", "l1"):
            m = invert(net, x, norm=norm, latent_box=R, uniqueness=False)
            e = invert_by_enumeration(net, x, norm=norm, latent_box=R)
            assert m.optimal and e.optimal
            assert m.objective == pytest.approx(e.objective, rel=1e-6, abs=1e-7), (kind, norm)


def test_mip_agrees_with_enumeration_leaky_output():
    # leaky output with slope < 1 and slope > 1: the residual disjunctions differ
    for acts in (["relu", "leaky_relu:0.3"], ["relu", "leaky_relu:2.0"],
                 ["leaky_relu:0.5", "identity"]):
        net = small_generator(21, (2, 5, 4), acts)
        _, ts = targets(net, 21, 2.0)
        for kind, x in ts.items():
            m = invert(net, x, latent_box=2.0, uniqueness=False)
            e = invert_by_enumeration(net, x, latent_box=2.0)
            assert m.objective == pytest.approx(e.objective, rel=1e-6, abs=1e-7), (acts, kind)


# --------------------------------------------------------------------------
# gradient descent fails, the MIP does not
# --------------------------------------------------------------------------

def bad_valley_generator():
    """G(z) = (g(z1), z2) with g piecewise linear: g = -z on z < -1 (local
    minimum g(-1) = 1), rising to g(2.5) = 4.5, then falling steeply to
    g(3) = 0 and rising again. Target g = 0.5 is met only for z1 > 2.5; from
    N(0, 1) starts, descent on (g - 0.5)^2 slides into the valley at z1 = -1
    (residual 0.5)."""
    W1 = np.array([[-1.0, 0], [1, 0], [1, 0], [1, 0], [0, 1]])
    b1 = np.array([-1.0, 1.0, -2.5, -3.0, 5.0])
    W2 = np.array([[1.0, 1.0, -10.0, 10.0, 0], [0, 0, 0, 0, 1.0]])
    b2 = np.array([1.0, -5.0])
    return make_network([W1, W2], [b1, b2], ["relu", "identity"])


def test_gradient_descent_fails_mip_succeeds():
    net = bad_valley_generator()
    z0 = np.array([3.5, 0.3])
    x = net.forward(z0)
    assert x[0] == pytest.approx(0.5)
    gd = gradient_descent(net, x, restarts=10, steps=1000, seed=0)
    assert gd.objective > 0.49  # stuck in the valley z1 = -1
    m = invert(net, x)
    assert m.status == "exact" and m.optimal and m.residual <= 1e-9
    # g = 0.5 also at z1 = 2.5 + 4/9 (steep segment): not unique
    assert m.unique is False
    assert m.second_preimage is not None
    assert m.witness is not None  # (z, z') is an exact non-injectivity witness
    ok, _ = net.check_witness(m.witness.x1, m.witness.x2)
    assert ok


def test_gradient_descent_fails_on_random_generator():
    # a random 2 -> 4 -> 6 generator (seed 34, the only one of seeds 0..39)
    # where seeded GD with 10 restarts stops at a spurious local minimum
    # (residual 0.38) while the MIP recovers an exact preimage
    net = small_generator(34)
    _, ts = targets(net, 34, 3.0)
    x = ts["in_range"]
    gd = gradient_descent(net, x, latent_box=3.0, restarts=10, steps=1000, seed=0)
    m = invert(net, x, latent_box=3.0)
    assert m.status == "exact" and m.residual <= 1e-9
    assert gd.objective > 0.1


# --------------------------------------------------------------------------
# uniqueness and exact witnesses
# --------------------------------------------------------------------------

def mirror_generator():
    """G(z1, z2) = (|z1|, z2): G(z) = G(-z1, z2), a non-injective generator."""
    W1 = np.array([[1.0, 0], [-1.0, 0], [0, 1.0]])
    b1 = np.array([0.0, 0.0, 5.0])
    W2 = np.array([[1.0, 1.0, 0], [0, 0, 1.0]])
    b2 = np.array([0.0, -5.0])
    return make_network([W1, W2], [b1, b2], ["relu", "identity"])


def test_second_preimage_is_exact_witness():
    net = mirror_generator()
    x = net.forward(np.array([1.5, 0.25]))
    m = invert(net, x)
    assert m.status == "exact" and m.unique is False
    z, z2 = np.array(m.z), np.array(m.second_preimage)
    assert abs(abs(z[0]) - 1.5) < 1e-9 and z2[0] == pytest.approx(-z[0], abs=1e-7)
    assert m.witness is not None
    ok, why = net.check_witness(m.witness.x1, m.witness.x2)
    assert ok, why
    d = m.to_json()
    assert d["second_preimage_exact"] is True and d["witness"]["x1"]


def test_unique_true_for_injective_generator():
    # expansive random generator with a positive output everywhere on the box
    rng = np.random.default_rng(4)
    W1 = rng.standard_normal((12, 2))
    W2 = rng.standard_normal((10, 12))
    net = make_network([W1, W2], [rng.standard_normal(12), rng.standard_normal(10)])
    x = net.forward(np.array([0.4, -0.3]))
    m = invert(net, x, latent_box=1.0)
    e = invert_by_enumeration(net, x, latent_box=1.0)
    assert m.status == e.status == "exact"
    assert m.unique is True and m.second_preimage is None


def test_exact_pair_rejects_different_outputs():
    net = small_generator(0)
    assert exact_pair(net, np.array([0.1, 0.2]), np.array([1.0, -1.0])) is None


# --------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------

def test_layerwise_lp_exact_on_expansive_layers():
    rng = np.random.default_rng(5)
    net = make_network([rng.standard_normal((20, 3)), rng.standard_normal((60, 20))],
                       [rng.standard_normal(20), rng.standard_normal(60)])
    z0 = rng.uniform(-1, 1, 3)
    r = layerwise_lp(net, net.forward(z0))
    assert r.status == "exact" and r.residual <= 1e-6
    assert np.allclose(r.z, z0, atol=1e-6)


def test_enumeration_region_count_and_limit():
    net = small_generator(1)
    x = net.forward(np.array([0.5, 0.5]))
    e = invert_by_enumeration(net, x, latent_box=3.0)
    assert e.stats["complete"] and e.stats["regions"] >= 2
    lim = invert_by_enumeration(net, x + 5, latent_box=3.0, max_regions=2)
    assert not lim.optimal and lim.stats["regions"] == 2
    # every enumerated region's affine map matches the network inside it
    from solver.inversion_baselines import enumerate_regions
    lo, hi = -3 * np.ones(2), 3 * np.ones(2)
    for pat, zc in enumerate_regions(net, lo, hi):
        _, A, c = region_affine(net, pat)
        assert np.allclose(A @ zc + c, net.forward(zc))


# --------------------------------------------------------------------------
# API, JSON, validation
# --------------------------------------------------------------------------

def test_json_schema_and_default_box():
    net = small_generator(2)
    x = net.forward(np.array([0.3, -0.2]))
    r = invert(net, x)
    assert isinstance(r, InversionResult)
    d = r.to_json()
    assert KEYS <= set(d)
    assert d["status"] in ("exact", "nearest", "unknown")
    assert d["latent_box"] == DEFAULT_LATENT_BOX
    json.dumps(d)
    with pytest.raises(Exception):
        r.status = "x"  # frozen


def test_input_errors():
    net = small_generator(2)
    with pytest.raises(InputError):
        invert(net, np.zeros(5))
    with pytest.raises(InputError):
        invert(net, np.full(6, np.nan))
    with pytest.raises(InputError):
        invert(net, np.zeros(6), norm="l2")
    with pytest.raises(InputError):
        invert(net, np.zeros(6), latent_box=-1.0)
    with pytest.raises(InputError):
        invert(net, np.zeros(6), delta=0.0)


def _cli(argv):
    from solver.inversion_cli import add_invert_subparser
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    add_invert_subparser(sub)
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_invert(tmp_path, capsys):
    net = small_generator(2)
    model = tmp_path / "g.npz"
    np.savez(model, W0=net.layers[0].W, b0=net.layers[0].b, W1=net.layers[1].W,
             b1=net.layers[1].b)
    x = net.forward(np.array([0.3, -0.2]))
    np.save(tmp_path / "x.npy", x)
    assert _cli(["invert", str(model), "--target", str(tmp_path / "x.npy"), "--json",
                 "--latent-box", "2", "--time-limit", "30"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["status"] == "exact" and d["latent_box"] == 2.0 and KEYS <= set(d)
    assert _cli(["invert", str(model), "--target", str(tmp_path / "x.npy"), "--norm", "l1",
                 "--no-uniqueness"]) == 0
    out = capsys.readouterr().out
    assert "status:" in out and "exact" in out
    assert _cli(["invert", str(model), "--target", str(tmp_path / "x.npy"), "--json",
                 "--method", "enumerate"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "enumeration"
    # bad input
    np.save(tmp_path / "short.npy", x[:3])
    np.save(tmp_path / "nan.npy", np.full(6, np.nan))
    for bad in ("missing.npy", "short.npy", "nan.npy"):
        with pytest.raises(InputError):
            _cli(["invert", str(model), "--target", str(tmp_path / bad)])


# --------------------------------------------------------------------------
# the real decoder (20 -> 60 -> 784, ReLU, no bias)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def decoder():
    if not DECODER.exists():
        pytest.skip("shared decoder model not available")
    from solver.network_io import load_network
    return load_network(DECODER)


def test_decoder_exact_recovery(decoder):
    rng = np.random.default_rng(0)
    z0 = rng.standard_normal(20)
    x = decoder.forward(z0)
    r = invert(decoder, x, time_limit=60)
    assert r.status == "exact" and r.optimal
    assert r.relative_residual <= 1e-6
    rel = np.max(np.abs(decoder.forward(np.array(r.z)) - x)) / np.max(np.abs(x))
    assert rel <= 1e-6
    assert r.unique is True  # no second preimage farther than delta in the box
    assert r.seconds < 60


def test_decoder_noisy_nearest(decoder):
    rng = np.random.default_rng(0)
    z0 = rng.standard_normal(20)
    x = decoder.forward(z0) + 0.01 * rng.standard_normal(784)
    r = invert(decoder, x, time_limit=60, uniqueness=False)
    assert r.status == "nearest"
    # at least as close as the latent code that generated the target
    assert r.objective <= residual_norm(decoder.forward(z0) - x, "linf") + 1e-9
    assert r.optimal  # proved: no z in [-5, 5]^20 is closer (to solver tolerance)
    assert r.seconds < 60
