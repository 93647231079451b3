"""The float rows the LPs of the package see, made from exact or binary64
rows: the one place rows are normalised (:func:`unit_rows`) and exact rows
turned into floats (:func:`scaled_floats`), so that every float row has the
direction of the exact row it stands for. Floats only guide LPs; every
conclusion is re-derived from the exact rows.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["scaled_floats", "unit_rows", "median_offset", "unit_scale", "UNIT_RANGE"]


def scaled_floats(rows):
    """Float copies of exact rows (ints or Fractions) and the positive factor
    each was divided by (its largest entry in absolute value, a float, inf
    if beyond binary64): ``out[i] = rows[i] / top[i]`` with entries in
    [-1, 1]. Signs and directions are unchanged, and binary64 cannot
    overflow (rows of huge or tiny binary64 weights scale to integers far
    beyond 2^1024). The floats only guide LPs; every conclusion is exact.

    Examples
    --------
    >>> out, top = scaled_floats([[3, -6, 0], [0, 0, 0], [2**1100, 1, 0]])
    >>> out.tolist(), top[:2].tolist(), bool(top[2] == np.inf)
    ([[0.5, -1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [6.0, 1.0], True)
    """
    k = len(rows)
    width = len(rows[0]) if k else 0
    out, top = np.zeros((k, width)), np.ones(k)
    for i, r in enumerate(rows):
        t = max((abs(v) for v in r), default=0)
        if t:
            out[i] = [float(Fraction(v) / t) for v in r]
            try:
                top[i] = float(t)
            except OverflowError:
                top[i] = np.inf
    return out, top


def unit_rows(rows, *, cols=None):
    """The float rows an LP of the package sees: each row divided by the
    Euclidean norm of its first ``cols`` entries (all entries by default).

    The one place rows are normalised for the floating-point LPs, so that
    every float row has the direction of the exact row it stands for (the
    LPs only guide: each conclusion is re-derived from the exact rows).

    Parameters
    ----------
    rows : numpy array or list of rows
        A float ``numpy`` array is taken as binary64 rows (e.g. ``[W | b]``,
        whose exact integer rows :func:`solver.exact.integer_rows` are power-
        of-two multiples: the same directions). Anything else is a list of
        exact rows (ints or Fractions), turned into floats first by
        :func:`scaled_floats` (which cannot overflow).
    cols : int, optional
        ``None``: the whole row, for the homogeneous cone rows ``g = [w, b]``
        of the strict sign systems (``g.(x, t) < 0``; the LP margin is then
        an angle, independent of each row's scale). ``k``: only the first
        ``k`` entries, for affine rows ``[a, c]`` of ``a.u <= c`` (the region
        LPs of :mod:`solver.network`): the slack of a unit normal is a
        Euclidean distance, and ``c / |a|`` the hyperplane's offset.

    Returns
    -------
    U : (k, width) float array
        ``U[i] = rows[i] / norms[i]``. A row whose normed part is zero is
        left as it is (zero rows stay zero, never NaN).
    norms : (k,) float array
        The positive factors: the norm (1 for a zero normed part), times the
        factor of :func:`scaled_floats` for exact rows (inf if beyond
        binary64); multipliers of the unit rows divided by ``norms`` are
        multipliers of the original rows.

    Notes
    -----
    Each row is first scaled by a power of two (exact) so that its largest
    entry lies in [0.5, 1): the squares can neither overflow (weights beyond
    1e154) nor underflow (below 1e-154), and for rows in between the result
    is bit-for-bit ``row / numpy.linalg.norm(row)``.

    Examples
    --------
    >>> U, nrm = unit_rows(np.array([[1.0, 2.0, 2.0], [0.0, 0.0, -2.0], [0.0, 0.0, 0.0]]))
    >>> U.tolist(), nrm.tolist()
    ([[0.3333333333333333, 0.6666666666666666, 0.6666666666666666], [0.0, 0.0, -1.0], [0.0, 0.0, 0.0]], [3.0, 2.0, 1.0])
    >>> U, nrm = unit_rows(np.array([[3.0, 4.0, 10.0], [0.0, 0.0, 2.0]]), cols=2)
    >>> U.tolist(), nrm.tolist()
    ([[0.6, 0.8, 2.0], [0.0, 0.0, 2.0]], [5.0, 1.0])
    >>> U, nrm = unit_rows([[3 * 10**400, 4 * 10**400, -10**400]], cols=2)   # exact rows
    >>> U.tolist(), nrm.tolist()
    ([[0.6, 0.8, -0.2]], [inf])
    """
    if isinstance(rows, np.ndarray):
        A, top = np.asarray(rows, dtype=np.float64), None
    else:
        A, top = scaled_floats(rows)
    if A.ndim != 2:
        raise ValueError(f"rows must be 2-D, got shape {A.shape}")
    part = A if cols is None else A[:, :cols]
    big = np.abs(part).max(axis=1) if part.size else np.zeros(len(A))
    e = np.frexp(big)[1][:, None]                   # 0 for zero rows
    norms = np.linalg.norm(np.ldexp(part, -e), axis=1)
    norms[norms == 0] = 1.0                         # then e = 0 too: the row stays
    with np.errstate(over="ignore"):
        U = np.ldexp(A, -e) / norms[:, None]
        norms = np.ldexp(norms, e[:, 0])
        if top is not None:
            norms = norms * top
    return U, norms


def median_offset(W, b):
    """The median distance ``|b_i| / |w_i|`` from the origin of the
    hyperplanes ``w_i.x + b_i = 0`` with ``w_i != 0`` and ``b_i != 0`` (the
    scale of sampled starting points), or None when there is none.

    Examples
    --------
    >>> median_offset(np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]]), np.array([10.0, 0.0, 1.0]))
    2.0
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = W.any(axis=1) & (b != 0)
    if not ok.any():
        return None
    U, _ = unit_rows(np.hstack([W, b[:, None]]), cols=W.shape[1])
    return float(np.median(np.abs(U[ok, -1])))


#: layers whose largest |entry| lies outside [2^-UNIT_RANGE, 2^UNIT_RANGE] are
#: rescaled by :func:`unit_scale`; others are used exactly as given
UNIT_RANGE = 32


def unit_scale(W, b):
    """``(W / 2^e, b / 2^e, e)`` with the largest ``|entry|`` in [1/2, 1)
    when the layer's scale is outside ``2^(+-UNIT_RANGE)`` and the division
    by a power of two is exact (no entry lost to the subnormal range);
    else ``(W, b, 0)``. For searches in squared magnitudes (σ*, pair ratios),
    which overflow near 1e155 and underflow near 1e-155 and are homogeneous
    of degree 1 in ``(W, b)``.

    Examples
    --------
    >>> Ws, bs, e = unit_scale(np.array([[3.0 * 2.0 ** 600]]), np.zeros(1))
    >>> Ws.tolist(), e
    ([[0.75]], 602)
    >>> unit_scale(np.array([[3.0]]), np.zeros(1))[2]
    0
    """
    big = float(max(np.max(np.abs(W)), np.max(np.abs(b)) if len(b) else 0.0))
    if big == 0.0:
        return W, b, 0
    e = int(np.frexp(big)[1])
    if abs(e) <= UNIT_RANGE:
        return W, b, 0
    Ws, bs = np.ldexp(W, -e), np.ldexp(b, -e)
    if not (np.array_equal(np.ldexp(Ws, e), W) and np.array_equal(np.ldexp(bs, e), b)):
        return W, b, 0
    return Ws, bs, e
