"""An exact non-injectivity witness from a floating-point pair of
preimages: both points are moved onto exact rational points of their closed
activation regions and checked through every layer
(:meth:`solver.network.Network.check_witness`)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..exact import to_fmpq
from ..regionmap import exact_region_maps
from ..witness import rational_candidates
from .problem import activation_pattern

__all__ = ["exact_pair", "exact_witness"]


def _exact_region_rows(network, pattern, near_zero):
    """Exact (flint) rows: output map ``(A, c)`` and the pre-activation rows of
    units listed in ``near_zero`` (``[(layer, unit), ...]``), from
    :func:`solver.regionmap.exact_region_maps`."""
    n = network.n_in
    pres, A, c = exact_region_maps(network, pattern)
    zero_rows = []
    for k, (P, p) in enumerate(pres):
        for (kk, i) in near_zero:
            if kk == k:
                zero_rows.append(([P[i, j] for j in range(n)], p[i, 0]))
    return A, c, zero_rows


def exact_pair(network, z1, z2, *, zero_tol=1e-9):
    """Try to turn a floating pair with ``G(z1) ~ G(z2)`` into an exact
    non-injectivity witness.

    The activation patterns of ``z1`` and ``z2`` give exact affine maps
    ``G = A_i z + c_i``; the pair ``w = (z1, z2)`` is moved to the exact
    rational solution of ``A_1 z1 + c_1 = A_2 z2 + c_2`` (plus ``pre = 0``
    for hidden units within ``zero_tol`` of their kink) nearest to it
    (minimal-norm correction on independent rows, python-flint), and the
    result is checked by :meth:`Network.check_witness` (exact forward pass).
    Short rationals near the floats are tried first (shorter witnesses).

    Returns ``(x1, x2)`` lists of Fractions, or None.
    """
    import flint
    n = network.n_in
    z1 = np.asarray(z1, float)
    z2 = np.asarray(z2, float)
    attempts = []
    for use_zero in (True, False):
        rows, rhs = [], []
        blocks = []
        for side, z in ((0, z1), (1, z2)):
            pat = activation_pattern(network, z)
            near = []
            if use_zero:
                h = z
                for k, L in enumerate(network.layers[:-1]):
                    y = L.W @ h + L.b
                    if not L.activation.is_identity:
                        scale = np.abs(L.W) @ np.abs(h) + np.abs(L.b) + 1.0
                        near += [(k, i) for i in np.flatnonzero(np.abs(y) <= zero_tol * scale)]
                    h = L.forward(h)
            A, c, zr = _exact_region_rows(network, pat, near)
            blocks.append((A, c))
            for coeffs, const in zr:
                row = [0] * (2 * n)
                for j in range(n):
                    row[side * n + j] = coeffs[j]
                rows.append(row)
                rhs.append(-const)
        (A1, c1), (A2, c2) = blocks
        for i in range(A1.nrows()):
            row = [A1[i, j] for j in range(n)] + [-A2[i, j] for j in range(n)]
            r = c2[i, 0] - c1[i, 0]
            if all(v == 0 for v in row):
                if r != 0:
                    rows = None
                    break
                continue
            rows.append(row)
            rhs.append(r)
        if rows is None:
            continue
        attempts.append((rows, rhs))
    starts = rational_candidates(np.concatenate([z1, z2]), denominators=(10**3, 10**6, 10**9))
    for (rows, rhs), w0f in ((a, w) for a in attempts for w in starts):
        w0 = [to_fmpq(v) for v in w0f]
        if rows:
            E = flint.fmpq_mat(len(rows), 2 * n, [v for row in rows for v in row])
            # independent rows: pivots of rref(E^T)
            R, rank = E.transpose().rref()
            piv, col = [], 0
            for i in range(rank):
                while col < R.ncols() and R[i, col] == 0:
                    col += 1
                piv.append(col)
                col += 1
            Er = flint.fmpq_mat(len(piv), 2 * n, [E[i, j] for i in piv for j in range(2 * n)])
            W0 = flint.fmpq_mat(2 * n, 1, w0)
            f = flint.fmpq_mat(len(piv), 1, [rhs[i] for i in piv])
            resid = f - Er * W0
            try:
                yv = (Er * Er.transpose()).solve(resid)
            except (ZeroDivisionError, ValueError):
                continue
            W = W0 + Er.transpose() * yv
            w = [W[j, 0] for j in range(2 * n)]
        else:
            w = w0
        x1 = [Fraction(int(v.p), int(v.q)) for v in w[:n]]
        x2 = [Fraction(int(v.p), int(v.q)) for v in w[n:]]
        ok, _ = network.check_witness(x1, x2)
        if ok:
            return x1, x2
    return None


def exact_witness(network, z1, z2):
    pair = exact_pair(network, z1, z2)
    if pair is None:
        return None
    from ..result import Witness
    return Witness.of(pair)
