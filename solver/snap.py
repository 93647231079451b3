"""Rows that are coincident only up to rounding, and the layer with them snapped.

A construction ``[B; -D B]`` computed in floating point (``D B`` rounded
entry by entry) has rows that are antiparallel only to within an ulp or so.
For the exact binary64 weights such a layer is usually *not* injective: the
two hyperplanes ``b.x = 0`` and ``fl(-d b).x = 0`` differ, and the thin wedge
between them (relative width ~1e-16) is a bad cell. reluinj reports that
verdict with an exact witness, because it is the truth about the weights the
user holds. What the user usually also wants to know is whether this is the
*only* reason: is the layer injective once such rows are made exactly
coincident? :func:`snap_coincident_rows` builds that layer, so it can be
decided (and certified) separately, and never in place of the original
(:func:`solver.layer.check_layer_snapped`).

The snapped layer is exactly representable: a near-copy ``[w_j, b_j]`` of a
representative ``[w_i, b_i]`` (``[w_j, b_j] ~ c [w_i, b_i]``) becomes
``s [w_i, b_i]`` with ``s = sign(c) 2^round(log2 |c|)``, a power of two, so
the product is exact. Injectivity does not depend on the positive scale of a
row together with its bias (``ReLU(s t) = s ReLU(t)`` for ``s > 0``), so the
snapped layer is injective iff the layer with ``[w_j, b_j] := c [w_i, b_i]``
exactly is, whatever the exact ``c`` of that sign.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError
from .floatrows import unit_rows

__all__ = ["DEFAULT_RTOL", "Snap", "snap_coincident_rows"]

#: default relative tolerance: about 4,500 ulps of binary64, far below any deliberate tilt
DEFAULT_RTOL = 1e-12


@dataclass(frozen=True)
class Snap:
    """The snapped layer ``(W, b)`` and what changed.

    ``rows`` lists ``(j, i, s, rel_dev)``: row j was replaced by ``s`` times
    row i (``s`` a signed power of two) and differed from the exact line of
    row i by ``rel_dev`` (max-norm, relative to row j).
    """
    W: np.ndarray
    b: np.ndarray
    rows: tuple
    rtol: float

    @property
    def changed(self) -> bool:
        return bool(self.rows)

    @property
    def max_rel_change(self) -> float:
        return max((r[3] for r in self.rows), default=0.0)

    def to_json(self) -> dict:
        return {"rtol": self.rtol, "max_relative_change": self.max_rel_change,
                "rows": [{"row": j, "from": i, "scale": s, "relative_deviation": d}
                         for j, i, s, d in self.rows]}


def _exact_deviation(a, r, k) -> Fraction:
    """``max_l |a_l - c r_l| / max_l |a_l|`` in exact arithmetic, ``c = a_k / r_k``:
    zero iff ``a`` is an exact multiple of ``r`` (binary64 values read exactly);
    floating point would round the deviation of a one-ulp tilt to 0."""
    c = Fraction(a[k]) / Fraction(r[k])
    top = max(abs(Fraction(v)) for v in a)
    return max(abs(Fraction(x) - c * Fraction(y)) for x, y in zip(a, r)) / top


def _close_pairs(U, nz, radius=2e-3, cos_min=1.0 - 1e-6):
    """For each row j, the earlier rows i whose unit vectors are parallel or
    antiparallel to it up to ``cos_min`` (candidates for the exact test).

    The unit rows and their negatives are sorted by their projection on one
    fixed direction; two points closer than ``radius`` project closer than
    ``radius``, so sweeping the sorted order with growing offsets finds every
    such pair, in O(m log m + pairs within the window) vectorised work (a
    dense m x m cosine matrix or a k-d tree in 50 dimensions does not scale to
    the 20,000-row layers people have)."""
    m = len(U)
    P = np.vstack([U, -U])
    u = np.random.default_rng(0).standard_normal(U.shape[1])
    proj = P @ (u / np.linalg.norm(u))
    order = np.argsort(proj, kind="stable")
    ps = proj[order]
    near = [set() for _ in range(m)]
    for d in range(1, len(order)):
        idx = np.flatnonzero(ps[d:] - ps[:-d] < radius)
        if idx.size == 0:
            break
        a, c = order[idx], order[idx + d]
        i, j = np.minimum(a % m, c % m), np.maximum(a % m, c % m)
        keep = (i != j) & nz[i] & nz[j]
        i, j = i[keep], j[keep]
        cos = np.abs(np.einsum("ij,ij->i", U[i], U[j]))
        for ii, jj in zip(i[cos > cos_min].tolist(), j[cos > cos_min].tolist()):
            near[jj].add(ii)
    return near


def snap_coincident_rows(W, b=None, rtol=DEFAULT_RTOL) -> Snap:
    """Make rows whose ``[w, b]`` are parallel or antiparallel up to ``rtol``
    exactly coincident (see the module docstring).

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None.
    rtol : relative tolerance, ``0 < rtol < 1e-3``: row j snaps to the line
        of an earlier row i when ``max_k |a_jk - c a_ik| <= rtol max_k |a_jk|``
        for ``a = [w, b]`` and ``c`` the ratio at the largest entry of row i.

    Returns
    -------
    Snap. Rows that are already exact multiples of their representative are
    left as they are; zero rows are never touched.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.array([[1.0, 0.1], [0.3, 1.0]])
    >>> W = np.vstack([B, -0.3 * B])     # -0.3 * B is rounded: not exactly antiparallel
    >>> s = snap_coincident_rows(W)
    >>> [(j, i, sc) for j, i, sc, _ in s.rows]
    [(2, 0, -0.25), (3, 1, -0.25)]
    """
    if not (0 < rtol < 1e-3):
        raise InputError(f"rtol must lie in (0, 1e-3); got {rtol!r}")
    W = np.asarray(W, dtype=float)
    m, n = W.shape
    b = np.zeros(m) if b is None else np.asarray(b, dtype=float)
    A = np.hstack([W, b[:, None]])
    U, _ = unit_rows(A)
    nz = A.any(axis=1)
    near = _close_pairs(U, nz)
    rep = list(range(m))
    rows = []
    A2 = A.copy()
    for j in range(m):
        if not nz[j]:
            continue
        for i in sorted(near[j]):
            if rep[i] != i:
                continue                      # compare with class representatives only
            k = int(np.argmax(np.abs(A[i])))
            c = A[j, k] / A[i, k]
            dev = float(np.max(np.abs(A[j] - c * A[i])) / np.max(np.abs(A[j])))
            if dev > rtol:
                continue
            rep[j] = i
            exact_dev = _exact_deviation(A[j], A[i], k)
            if exact_dev != 0:                 # not already exactly coincident
                s = math.copysign(2.0 ** round(math.log2(abs(c))), c)
                A2[j] = s * A[i]               # exact: s is a power of two
                rows.append((j, i, s, float(exact_dev)))
            break
    return Snap(A2[:, :n].copy(), A2[:, n].copy(), tuple(rows), rtol)
