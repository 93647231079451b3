"""Benchmark instances, regenerated from seeded specs in any worker: random
and constructed ReLU layers (:func:`make_layer`, one family per generator),
their names, and the generators and targets of the inversion suite."""
from __future__ import annotations

import math
import os
import pathlib

import numpy as np

__all__ = ["FAMILIES", "make_layer", "instance_name", "SHARED", "DECODER", "VAE400", "DCGAN",
           "ISSUE15_GENERATORS", "NOPEEL", "QUICK_GENERATORS", "FULL_GENERATORS",
           "make_generator", "make_target"]


_FAMILY_CODE = {"gauss": 1, "gaussbias": 2, "construct": 3, "shifted": 4, "tilt": 5,
                "int": 6, "intbias": 7, "phase": 8, "phasebias": 9, "phasenonneg": 10}


FAMILIES = tuple(f for f in _FAMILY_CODE if not f.startswith("phase"))


def _construct(rng, n, m, bias):
    """[B; -D B; M] with D a positive diagonal of powers of two (D B is exact
    in binary64, so the antiparallel rows are exactly antiparallel:
    injective by Corollary 2), rows shuffled. With ``bias`` the pairs get
    biases [beta; -D beta] (an exact shift) and the extra rows random ones."""
    B = rng.standard_normal((n, n))
    D = 2.0 ** rng.integers(-3, 4, n)
    W = np.vstack([B, -D[:, None] * B, rng.standard_normal((m - 2 * n, n))])
    b = np.zeros(m)
    if bias:
        beta = rng.standard_normal(n)
        b = np.concatenate([beta, -D * beta, rng.standard_normal(m - 2 * n)])
    perm = rng.permutation(m)
    return W[perm], b[perm], perm


def _integer(rng, n, m, bias):
    """Small-integer degenerate layer: entries in {-2..2}, with duplicated,
    doubled and negated rows (exactly parallel / antiparallel) and a zero row."""
    k = max(n, m // 2)
    rows = [r for r in rng.integers(-2, 3, (k, n)).astype(float)]
    zero_used = False
    while len(rows) < m:
        op = int(rng.integers(0, 4))
        r = rows[int(rng.integers(0, len(rows)))]
        if op == 0:
            rows.append(r.copy())
        elif op == 1:
            rows.append(2.0 * r)
        elif op == 2:
            rows.append(-r)
        elif not zero_used:
            rows.append(np.zeros(n))
            zero_used = True
    W = np.array(rows[:m])
    b = rng.integers(-1, 2, m).astype(float) if bias else np.zeros(m)
    perm = rng.permutation(m)
    return W[perm], b[perm]


def make_layer(spec):
    """Regenerate ``(W, b)`` from a spec ``{"family", "n", "m", "seed", "eps"?}``.

    Families: ``gauss`` (b = 0), ``gaussbias``, ``construct`` ([B; -DB] +
    extra rows, injective), ``shifted`` (the same with exact biases),
    ``tilt`` (a construct with one antiparallel row moved by ``eps``
    relative: a thin bad cell), ``int`` / ``intbias`` (small-integer
    degenerate layers), ``phase`` (Gaussian, b = 0, a separate stream for
    the phase-transition study), ``phasenonneg`` (the same ``W`` as
    ``phase``, to be decided on x >= 0) and ``phasebias`` (the same ``W`` as
    ``phase`` with ``b = s z``, ``z ~ N(0, I)`` from its own stream, ``s =
    spec["s"]``): the phase curves are paired on one set of matrices.
    """
    fam, n, m, seed = spec["family"], int(spec["n"]), int(spec["m"]), int(spec["seed"])
    rng = np.random.default_rng([_FAMILY_CODE[fam], n, m, seed])
    if fam in ("phasebias", "phasenonneg"):
        W, _ = make_layer({"family": "phase", "n": n, "m": m, "seed": seed})
        if fam == "phasenonneg":
            return W, np.zeros(m)
        return W, float(spec["s"]) * rng.standard_normal(m)
    if fam in ("gauss", "phase"):
        return rng.standard_normal((m, n)), np.zeros(m)
    if fam == "gaussbias":
        return rng.standard_normal((m, n)), rng.standard_normal(m)
    if fam in ("construct", "shifted"):
        W, b, _ = _construct(rng, n, m, fam == "shifted")
        return W, b
    if fam == "tilt":
        base = np.random.default_rng([_FAMILY_CODE["construct"], n, m, seed])
        W, b, perm = _construct(base, n, m, False)
        k = int(rng.integers(0, n))
        j = int(np.nonzero(perm == n + k)[0][0])     # the row -d_k B_k
        u = rng.standard_normal(n)
        W[j] = W[j] + float(spec["eps"]) * np.linalg.norm(W[j]) * u / np.linalg.norm(u)
        return W, b
    if fam in ("int", "intbias"):
        return _integer(rng, n, m, fam == "intbias")
    raise ValueError(f"unknown family {fam!r}")


def instance_name(spec):
    s = f"{spec['family']}_n{spec['n']}_m{spec['m']}_s{spec['seed']}"
    if spec.get("eps"):
        s += f"_eps{spec['eps']:g}"
    if spec.get("s") is not None:
        s += f"_bias{spec['s']:g}"
    return s


SHARED = pathlib.Path(os.environ.get("RELUINJ_SHARED",
                                    pathlib.Path(__file__).resolve().parents[2] / "shared"))


DECODER = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"


#: the canonical MNIST VAE decoder, 20 -> 400 -> 784, sigmoid head (issue 15)
VAE400 = SHARED / "models" / "mnist_vae_decoder_20_400_784.npz"


#: the DCGAN generator fixture 64 -> 256x3x3 -> 128x6x6 -> 64x13x13 -> 1x28x28, tanh
DCGAN = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dcgan_generator.onnx"


#: generators of issue 15: time limit 60 s, absolute noise N(0, 0.05^2) in the output space
#: (``vae400id``: the same decoder with its sigmoid head replaced by the identity, the form
#: today's code at 41e5efc accepted, for the ratio against it)
ISSUE15_GENERATORS = {"vae400": (20, (400, 784)), "vae400id": (20, (400, 784)),
                      "dcgan": (64, (2304, 4608, 10816, 784))}


#: the path before issue 15, kept callable: ``invert(peel=False)``
NOPEEL = "mip-nopeel"


# (latent n0, hidden+output widths): random generators, ReLU everywhere
QUICK_GENERATORS = ((2, (8, 16)), (3, (10, 20)), (5, (20, 50)))


FULL_GENERATORS = ((2, (10, 20)), (3, (12, 30)), (4, (12, 24)), (5, (20, 50)),
                   (10, (40, 100)), (20, (60, 200)), (3, (8, 16, 32)), (5, (20, 40, 80)),
                   (10, (30, 60, 120)))


def make_generator(spec):
    """A :class:`solver.network.Network` from ``{"gen": "rand", "n0", "widths", "seed"}``
    (weights N(0, 1/fan_in), biases N(0, 0.1^2), ReLU) or ``{"gen": "mnist"}``
    (the shared MNIST VAE decoder 20 -> 60 -> 784)."""
    from solver.network import make_network
    from solver.network_io import load_network
    if spec["gen"] == "mnist":
        return load_network(DECODER)
    if spec["gen"] == "vae400":
        return load_network(VAE400)
    if spec["gen"] == "vae400id":
        from solver.inversion.problem import pre_activation_network
        return pre_activation_network(load_network(VAE400))
    if spec["gen"] == "dcgan":
        return load_network(DCGAN)
    rng = np.random.default_rng([11, spec["n0"], *spec["widths"], spec["seed"]])
    dims = [spec["n0"], *spec["widths"]]
    Ws = [rng.standard_normal((b, a)) / math.sqrt(a) for a, b in zip(dims[:-1], dims[1:])]
    bs = [0.1 * rng.standard_normal(b) for b in dims[1:]]
    return make_network(Ws, bs)


def make_target(net, spec):
    """``x = G(z0)`` with ``z0 ~ N(0, I)`` clipped to [-4, 4] (inside the default
    box [-5, 5]), or (``target == "noise"``) that plus 5 % noise. Returns (x, z0)."""
    rng = np.random.default_rng([12, spec["tseed"], net.n_in, net.n_out])
    z0 = np.clip(rng.standard_normal(net.n_in), -4, 4)
    x = net.forward(z0)
    if spec["target"] == "noise":
        # issue 15's generators: N(0, 0.05^2) in the output space; else 5 % of the range
        scale = 1.0 if spec["gen"] in ISSUE15_GENERATORS else max(1e-3, float(np.max(np.abs(x))))
        x = x + 0.05 * scale * rng.standard_normal(len(x))
    return x, z0
