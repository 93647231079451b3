"""Exact rational arithmetic on binary64 data.

Every binary64 number is a dyadic rational, so a row ``[w_i, b_i]`` times a
power of two is an integer vector with the same sign pattern and the same
span. The search works on these integer rows (python-flint's ``fmpz_mat`` for
rank and kernels: a C library, far faster than ``fractions`` for the
elimination the search repeats thousands of times). Witness checks use plain
Python integers and :class:`fractions.Fraction`, which are exact by
construction.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import flint
import numpy as np

from .io import issparse

__all__ = ["parse_rational", "fmt_rational", "fractions_of", "integer_rows", "rank",
           "full_column_rank", "kernel", "dot", "common_denominator", "layer_preactivations",
           "layer_output", "check_layer_witness", "sparse_kernel_vector", "to_fmpq",
           "from_fmpq"]

_RATIONAL = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?\d+\s*/\s*\d+\s*$")


def parse_rational(s) -> Fraction:
    """Parse ``"p/q"``, an integer or a decimal string (or an int) exactly.

    Floats are refused on purpose: a JSON float has already been rounded.
    """
    if isinstance(s, bool):
        raise ValueError(f"not a rational: {s!r}")
    if isinstance(s, int):
        return Fraction(s)
    if not isinstance(s, str) or not _RATIONAL.match(s):
        raise ValueError(f"not an exact rational string: {s!r}")
    f = Fraction(s.replace(" ", ""))
    return f


def fmt_rational(q) -> str:
    """Format a Fraction/int/fmpq as ``"p/q"`` or ``"p"``."""
    q = Fraction(int(q.p), int(q.q)) if isinstance(q, flint.fmpq) else Fraction(q)
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def fractions_of(a) -> list:
    """Exact Fractions of a float array (nested lists for 2-D)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return [Fraction(float(v)) for v in a]
    return [[Fraction(float(v)) for v in row] for row in a]


def integer_rows(W, b=None):
    """Scale each row of ``[W | b]`` by a power of two to make it integral.

    Returns ``(rows, scales)``: ``rows[i]`` is a list of Python ints equal to
    ``scales[i] * [w_i, b_i]`` exactly, ``scales[i]`` a positive int.
    Positive row scaling changes neither sign patterns nor spans.
    """
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    b = np.zeros(m) if b is None else np.asarray(b, dtype=np.float64)
    rows, scales = [], []
    for wr, bi in zip(W.tolist(), b.tolist()):
        # float.as_integer_ratio is exact (and ~20x faster than Fraction);
        # every denominator is a power of two, so the largest is a multiple
        # of all of them
        fr = [v.as_integer_ratio() for v in wr]
        fr.append(bi.as_integer_ratio())
        den = max(d for _, d in fr)
        rows.append([p * (den // d) for p, d in fr])
        scales.append(den)
    return rows, scales


def rank(int_rows) -> int:
    """Exact rank of a list of integer vectors (0 for an empty list)."""
    if len(int_rows) == 0:
        return 0
    return flint.fmpz_mat(int_rows).rank()


def full_column_rank(W, int_rows=None) -> bool:
    """Whether the binary64 matrix W has full column rank, exactly.

    A floating-point SVD settles the clear cases: it is backward stable, so
    the computed smallest singular value is within a modest multiple of
    eps * ||W|| of the exact one, and a value above 1e-9 ||W|| proves full
    rank. Otherwise the exact rank of the integer rows decides."""
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    if m < n:
        return False
    s = np.linalg.svd(W, compute_uv=False)
    if s[0] > 0 and s[-1] > 1e-9 * s[0]:
        return True
    if int_rows is None:
        int_rows, _ = integer_rows(W)
    return rank([r[:n] for r in int_rows]) == n


def kernel(int_rows, n: int) -> list:
    """An integer basis (list of int vectors) of ``{v : r.v = 0 for r in rows}``
    (``int_rows``: a list of int vectors, or a ``flint.fmpz_mat``)."""
    M = int_rows if isinstance(int_rows, flint.fmpz_mat) else None
    if (M.nrows() if M is not None else len(int_rows)) == 0:
        return [[1 if j == k else 0 for j in range(n)] for k in range(n)]
    if M is None:
        M = flint.fmpz_mat(int_rows)
    N, nullity = M.nullspace()
    basis = []
    rows = N.nrows()
    for c in range(nullity):
        v = [int(N[r, c]) for r in range(rows)]
        g = math.gcd(*v)
        basis.append([x // g for x in v] if g > 1 else v)
    return basis


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def common_denominator(x):
    """Write a rational vector as ``(X, d)``: integers X and d > 0, x = X / d."""
    x = [Fraction(v) for v in x]
    d = 1
    for v in x:
        d = d * v.denominator // math.gcd(d, v.denominator)
    return [int(v * d) for v in x], d


def layer_preactivations(W, b, x) -> list:
    """Exact ``W x + b`` for binary64 ``W, b`` and a rational vector ``x``
    (``W`` dense, or ``scipy.sparse``: then only its stored entries are
    visited).

    Integers throughout: ``x = X / D`` and each row of ``[W | b]`` is an
    integer row over a power of two, so each output costs one Fraction
    (~10x faster than Fraction arithmetic per entry).

    Examples
    --------
    >>> from fractions import Fraction
    >>> layer_preactivations([[0.5, -1.0]], [0.25], [Fraction(1, 3), 2])
    [Fraction(-19, 12)]
    """
    x = [Fraction(v) for v in x]
    X, D = common_denominator(x)
    if issparse(W):
        W = W.tocsr()
        m = W.shape[0]
        bf = fractions_of(b) if b is not None else [Fraction(0)] * m
        ptr, idx = W.indptr.tolist(), W.indices.tolist()
        pq = [v.as_integer_ratio() for v in W.data.tolist()]
        out = []
        for i in range(m):
            lo, hi = ptr[i], ptr[i + 1]
            Q = max((pq[k][1] for k in range(lo, hi)), default=1)
            S = sum(pq[k][0] * (Q // pq[k][1]) * X[idx[k]] for k in range(lo, hi))
            out.append(Fraction(S, Q * D) + bf[i])
        return out
    G, scales = integer_rows(W, b)
    n = len(G[0]) - 1 if G else 0
    if len(X) != n:
        raise ValueError(f"x has length {len(X)}, W has {n} columns")
    return [Fraction(sum(g * xj for g, xj in zip(Gi[:n], X)) + Gi[n] * D, si * D)
            for Gi, si in zip(G, scales)]


def layer_output(W, b, x, activation=None) -> list:
    """Exact ``act(W x + b)`` as a list of Fractions (default relu;
    ``activation`` is a piecewise linear :class:`solver.activations.Activation`
    or its text form)."""
    from .activations import RELU, parse_activation
    act = RELU if activation is None else parse_activation(activation)
    return act.exact(layer_preactivations(W, b, x))


def check_layer_witness(W, b, x1, x2):
    """Check ``x1 != x2`` and ``ReLU(W x1 + b) == ReLU(W x2 + b)`` exactly.

    Returns ``(ok, reason)``.
    """
    x1 = [Fraction(v) for v in x1]
    x2 = [Fraction(v) for v in x2]
    n = np.asarray(W).shape[1]
    if len(x1) != n or len(x2) != n:
        return False, f"witness has length {len(x1)}/{len(x2)}, layer input has {n}"
    if x1 == x2:
        return False, "x1 == x2"
    y1 = layer_output(W, b, x1)
    y2 = layer_output(W, b, x2)
    for i, (a, c) in enumerate(zip(y1, y2)):
        if a != c:
            return False, f"outputs differ at row {i}: {a} != {c}"
    return True, "valid"


def sparse_kernel_vector(W, max_rows: int = 2000):
    """A nonzero integer vector ``v`` with ``W v = 0`` exactly, for a sparse
    ``W``, found among columns that share one row support, or None.

    Columns ``J`` whose nonzeros all lie in the same rows ``R`` with
    ``|J| > |R|`` are dependent, and a kernel vector of the small block
    ``W[R, J]`` (exact, python-flint) padded with zeros is one of ``W``. A
    transposed convolution is the typical case: the columns of one input
    position (one per channel) reach the same output window, so it has a
    kernel as soon as it has more input channels than the window has
    outputs. A zero column gives a unit vector. Blocks with more than
    ``max_rows`` rows are skipped. (None does not mean full rank.)

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> sparse_kernel_vector(sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])))
    [2, -1, 0]
    """
    import scipy.sparse as sp
    W = sp.csc_matrix(W)
    m, n = W.shape
    groups = {}
    for j in range(n):
        rows = W.indices[W.indptr[j]:W.indptr[j + 1]]
        groups.setdefault(np.sort(rows).tobytes(), []).append(j)
    best = None
    for key, cols in groups.items():
        rows = np.frombuffer(key, dtype=W.indices.dtype)
        if len(cols) > len(rows) and len(rows) <= max_rows:
            if best is None or len(rows) < len(best[0]):
                best = (rows, cols)
    if best is None:
        return None
    rows, cols = best
    v = [0] * n
    if len(rows) == 0:
        v[cols[0]] = 1
        return v
    cols = cols[:len(rows) + 1]
    block = W[rows][:, cols].toarray()
    G, _ = integer_rows(block)
    k = kernel([g[:len(cols)] for g in G], len(cols))[0]
    for j, c in zip(cols, k):
        v[j] = c
    return v


def to_fmpq(v):
    """A rational (or a binary64 value, exactly) as a python-flint ``fmpq``."""
    v = Fraction(v)
    return flint.fmpq(v.numerator, v.denominator)


def from_fmpq(v):
    """A python-flint ``fmpq`` as a Fraction."""
    return Fraction(int(v.p), int(v.q))
