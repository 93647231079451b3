"""Layers with a strictly increasing activation (leaky ReLU, identity,
sigmoid, tanh) decided by exact column rank, and sparse layers too large to
densify decided by an exact sparse kernel vector (witnesses only).

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022 (a layer with
an injective activation is injective iff its affine map is).
"""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from .. import exact
from ..activations import parse_activation
from ..errors import InputError
from ..io import DENSE_MAX_ENTRIES
from ..result import LayerResult, Verdict, Witness

__all__ = ["decide_bijective_layer", "decide_large_layer"]


def decide_bijective_layer(W, b, activation, *, domain="all"):
    """Decide ``x -> act(W x + b)`` for a strictly increasing ``act``
    (identity, leaky ReLU with slope ``a > 0``, sigmoid, tanh), on R^n or on
    the orthant.

    Claim: injective iff ``W`` has full column rank (exact integer rank).
    Proof: ``act`` is strictly increasing (for the leaky ReLU, ``t -> t if
    t > 0 else a t``), so applied entrywise it is injective on R^m and the
    layer is injective on a set D iff the affine map ``x -> W x + b`` is
    injective on D. On R^n, and on the orthant (which has interior points
    x, with x + s v >= 0 for small s), that holds iff ``W v = 0`` has no
    solution ``v != 0``. The same holds on any set with an interior point,
    e.g. the open boxes ``(0, 1)^n`` and ``(-1, 1)^n`` after a sigmoid or
    tanh. A kernel vector v gives the exact witness ``(x, x + v)`` (x = 0
    on R^n, x = (1,..,1) scaled on the orthant): its pre-activations are
    equal, hence its outputs.

    Returns a LayerResult (no certificate object: the proof is the exact rank
    ``n``, recorded in ``stats``).

    Raises
    ------
    InputError when ``activation`` is relu (not strictly increasing).
    """
    activation = parse_activation(activation)
    if not activation.injective:
        raise InputError(f"decide_bijective_layer needs a strictly increasing activation, "
                         f"got {activation}")
    start = time.monotonic()
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    # the one full-column-rank test (a backward-stable SVD settles clear cases,
    # else the exact integer rank), as the sign tree and enumeration use it
    if exact.full_column_rank(W):
        return LayerResult(Verdict.INJECTIVE, None, "rank", time.monotonic() - start,
                           f"{activation} is strictly increasing and W has full column rank "
                           f"{n} (exact)", m, n, None, {"rank": n})
    G, _ = exact.integer_rows(W, b)
    rows = [g[:n] for g in G]
    r = exact.rank(rows)
    v = exact.kernel(rows, n)[0]
    return LayerResult(Verdict.NOT_INJECTIVE, Witness.of(_kernel_witness(W, b, v, domain)),
                       "rank", time.monotonic() - start,
                       f"W has rank {r} < {n}: a kernel vector moves x without changing W x + b",
                       m, n, None, {"rank": r})


def _kernel_witness(W, b, v, domain):
    """``(x, x + s v)`` for a kernel vector ``v`` of ``W``: equal
    pre-activations, hence equal outputs for any activation; ``x = 0`` on
    R^n, ``x = (1, .., 1)`` and ``s`` small enough to stay ``>= 0`` on the
    orthant. Checked exactly."""
    n = W.shape[1]
    v = [Fraction(c) for c in v]
    if domain == "nonneg":
        x1 = [Fraction(1)] * n
        s = min([Fraction(1)] + [Fraction(1) / -c for c in v if c < 0])
        x2 = [a + s * c for a, c in zip(x1, v)]
    else:
        x1 = [Fraction(0)] * n
        x2 = v
    # equal pre-activations give equal outputs for any activation
    if x1 == x2 or exact.layer_preactivations(W, b, x1) != exact.layer_preactivations(W, b, x2):
        raise AssertionError("kernel witness failed the exact check")  # W v = 0 exactly
    return x1, x2


def decide_large_layer(W, b, activation, *, domain="all"):
    """A sparse layer too large for the dense methods (the sign tree, exact
    rank by elimination): look for an exact kernel vector among columns
    with one shared row support (:func:`solver.exact.sparse_kernel_vector`);
    one gives a witness on the domain (:func:`_kernel_witness`), whatever
    the activation. Otherwise ``unknown``, naming the size.
    """
    start = time.monotonic()
    m, n = W.shape
    v = exact.sparse_kernel_vector(W)
    if v is not None:
        return LayerResult(Verdict.NOT_INJECTIVE, Witness.of(_kernel_witness(W, b, v, domain)),
                           "kernel", time.monotonic() - start,
                           "columns with a common support of fewer rows are dependent: an "
                           "exact kernel vector moves x without changing W x + b", m, n, None,
                           {"nnz": int(W.nnz)})
    what = ("the exact sign-tree search" if activation.is_relu
            else "the exact rank (fraction-free elimination)")
    extra = (f"; m = {m} < n = {n}, so rank W < n and it is not injective on a set with "
             "interior points, but no exact kernel vector was found"
             if m < n else "")
    return LayerResult(Verdict.UNKNOWN, None, "size", time.monotonic() - start,
                       f"too large: {what} needs the dense {m}x{n} matrix "
                       f"({m * n:,} entries, sparse layers above {DENSE_MAX_ENTRIES:,} are not "
                       f"densified){extra}", m, n, None, {"nnz": int(W.nnz)})
