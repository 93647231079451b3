"""Time limits of the inversion methods (non-negotiable 4: every method
returns within 10 % of its limit, plus start-up).

Each instance here would run far past the tiny limit it is given (the
figures in the comments were measured on the code before the fix, on the
shared 2-core machine); the tests assert that the limit is kept with a
generous fixed slack, not a speed, and that what is returned stays honest.
"""
import pathlib
import time

import numpy as np
import pytest

from solver.errors import InputError
from solver.inversion import invert
from solver.inversion.baselines import gradient_descent, invert_by_enumeration, layerwise_lp

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "models"
VAE400 = SHARED / "mnist_vae_decoder_20_400_784.npz"

#: fixed slack (seconds) over 1.1 x the limit: start-up of the engines'
#: child processes and a loaded CI machine; the overruns fixed were 3-25 s
SLACK = 2.0


def _timed(fn, *args, **kw):
    t0 = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t0


@pytest.fixture(scope="module")
def vae400id():
    """The 20 -> 400 -> 784 VAE decoder with its sigmoid head replaced by the
    identity (the benchmark's ``vae400id``), and a noisy target: every hidden
    unit is unstable over the latent box and nothing reproduces the target."""
    if not VAE400.exists():
        pytest.skip("shared model not available")
    from solver.inversion.problem import pre_activation_network
    from solver.network_io import load_network
    net = pre_activation_network(load_network(VAE400))
    rng = np.random.default_rng(5)
    x = net.forward(np.clip(rng.standard_normal(20), -4, 4)) + 0.05 * rng.standard_normal(784)
    return net, x


def test_whole_network_mip_keeps_a_tiny_limit(vae400id, frozen_heap):
    # before the fix: 23 s at a 20 s limit, 17-35 s at 10 s (layer-wise LP,
    # gradient descent and LP screens after the deadline; a MIP started past it)
    net, x = vae400id
    r, took = _timed(invert, net, x, time_limit=2.0, peel=False, uniqueness=False)
    assert took <= 1.1 * 2.0 + SLACK
    assert r.status in ("nearest", "unknown")
    if r.status == "nearest":
        assert not r.optimal and r.residual == pytest.approx(
            float(np.max(np.abs(net.forward(np.array(r.z)) - x))))
        _check_gap(net, x, r)


def _check_gap(net, x, r):
    """A nearest point not proved optimal states its proved lower bound and
    the gap; the bound is below the residual of every latent point sampled."""
    d = r.to_json()
    assert d["bound"] is not None and d["gap"] == pytest.approx(d["objective"] - d["bound"])
    assert d["relative_gap"] == pytest.approx(d["gap"] / d["objective"])
    Z = np.random.default_rng(1).uniform(-5, 5, (2000, net.n_in))
    sampled = np.abs(np.vstack([net.forward(z) for z in Z]) - x).max(axis=1)
    assert d["bound"] <= min(sampled.min(), d["objective"]) + 1e-12


def test_peeled_path_keeps_a_tiny_limit(vae400id, frozen_heap):
    net, x = vae400id
    r, took = _timed(invert, net, x, time_limit=2.0)
    assert took <= 1.1 * 2.0 + SLACK
    assert r.status in ("nearest", "unknown") and not r.optimal
    if r.status == "nearest":
        _check_gap(net, x, r)


def test_enumeration_stops_inside_its_first_region():
    # one region of this generator takes ~1,300 LPs: the clock was only read
    # between regions (19 s at a 0.5 s limit before the fix)
    from solver.network import make_network
    rng = np.random.default_rng(0)
    dims = [20, 600, 600, 100]
    Ws = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in zip(dims[:-1], dims[1:])]
    net = make_network(Ws, [0.1 * rng.standard_normal(b) for b in dims[1:]], ["relu"] * 3)
    x = net.forward(rng.standard_normal(20)) + 0.05
    r, took = _timed(invert_by_enumeration, net, x, time_limit=0.5)
    assert took <= 1.1 * 0.5 + SLACK
    assert not r.optimal and r.stats.get("complete") in (False, None)


def test_layerwise_lp_and_gradient_descent_keep_their_limits(vae400id):
    net, x = vae400id
    r, took = _timed(layerwise_lp, net, x, time_limit=0.05)
    assert took <= 1.1 * 0.05 + SLACK
    assert r.status in ("nearest", "unknown") and not r.optimal
    r, took = _timed(gradient_descent, net, x, restarts=50, steps=100000, time_limit=0.5)
    assert took <= 1.1 * 0.5 + SLACK
    assert r.status == "nearest" and not r.optimal


def test_cli_passes_the_limit_to_every_method(vae400id, tmp_path):
    """``--time-limit`` reached ``--method gd`` and ``layerwise`` only after
    the fix (gd: 14 s at a 10 s limit)."""
    import argparse
    from solver.inversion.cli import add_invert_subparser
    net, x = vae400id
    model = tmp_path / "g.npz"
    np.savez(model, W0=net.layers[0].W, b0=net.layers[0].b, W1=net.layers[1].W,
             b1=net.layers[1].b, activations=np.array(["relu", "identity"]))
    target = tmp_path / "x.npy"
    np.save(target, x)
    parser = argparse.ArgumentParser()
    add_invert_subparser(parser.add_subparsers())
    for method in ("gd", "layerwise", "enumerate"):
        args = parser.parse_args(["invert", str(model), "--target", str(target), "--json",
                                  "--time-limit", "0.3", "--method", method,
                                  "--restarts", "200"])
        t0 = time.monotonic()
        assert args.func(args) == 0
        assert time.monotonic() - t0 <= 1.1 * 0.3 + SLACK, method


def test_methods_that_cannot_read_the_generator_refuse_it_before_any_work():
    """Region enumeration of a sigmoid/tanh generator used to enumerate for
    minutes before failing; the whole-network MIP of a sparse generator failed
    with an internal error."""
    import scipy.sparse as sp
    from solver.network import make_network
    rng = np.random.default_rng(0)
    W0, W1 = rng.standard_normal((30, 3)), rng.standard_normal((40, 30))
    tanh = make_network([W0, W1], [np.zeros(30), np.zeros(40)], ["relu", "tanh"])
    with pytest.raises(InputError, match="piecewise linear"):
        invert_by_enumeration(tanh, np.zeros(40))
    with pytest.raises(InputError, match="piecewise linear"):
        invert(tanh, np.zeros(40), peel=False)
    from solver.network import DenseLayer, Network
    dense = make_network([W0, W1], [np.zeros(30), np.zeros(40)], ["relu", "relu"])
    sparse = Network(tuple(DenseLayer(sp.csr_matrix(L.W), L.b, L.activation)
                           for L in dense.layers))
    with pytest.raises(InputError, match="dense layers"):
        invert(sparse, np.zeros(40), peel=False)
    with pytest.raises(InputError, match="time_limit"):
        invert(sparse, np.zeros(40), time_limit=-1)


def test_blas_is_single_threaded_in_the_command_unless_the_user_says_otherwise():
    """The ``reluinj`` command (``sys.argv[0]`` the script, or ``-m`` while
    ``python -m solver`` locates the package) sets OPENBLAS_NUM_THREADS /
    MKL_NUM_THREADS to 1 unless they are set (two OpenBLAS threads made
    gradient descent 4-8x slower in CPU time on the shared 2-core machine);
    a program importing the package as a library keeps its own setting."""
    import json
    import os
    import subprocess
    import sys
    code = ("import sys; sys.argv[0] = {argv0!r}\n"
            "import solver, numpy, os, json\n"
            "out = {{'env': os.environ.get('OPENBLAS_NUM_THREADS')}}\n"
            "try:\n"
            "    from threadpoolctl import threadpool_info\n"
            "    out['openblas'] = [i['num_threads'] for i in threadpool_info()\n"
            "                       if i['internal_api'] == 'openblas']\n"
            "except ImportError:\n"
            "    pass\n"
            "print(json.dumps(out))\n")
    root = pathlib.Path(__file__).resolve().parents[1]
    for argv0, preset, want in (("-m", None, "1"), ("/usr/bin/reluinj", None, "1"),
                                ("-m", "3", "3"), ("-c", None, None), ("script.py", None, None)):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
        if preset:
            env["OPENBLAS_NUM_THREADS"] = preset
        got = json.loads(subprocess.run([sys.executable, "-c", code.format(argv0=argv0)], env=env,
                                        check=True, capture_output=True, text=True).stdout)
        assert got["env"] == want
        if want == "1":   # (OpenBLAS caps a preset at the number of cores)
            assert all(n == 1 for n in got.get("openblas", []))
