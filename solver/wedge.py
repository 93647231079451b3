"""Witnesses in the thin wedges of rows antiparallel only up to rounding.

If ``[w_j, b_j]`` is ``s [w_i, b_i]`` with ``s < 0`` exactly, one of the two
rows is positive at every generic point. If it is so only up to rounding
(``[w_j, b_j] = s [w_i, b_i] + e`` with a tiny ``e``), the two hyperplanes
differ and between them lies a wedge, of relative width ~|e|, where both rows
are negative. The layer loses that pair's line there, and usually the
spanning property with it: the wedge is a bad cell that floating-point LPs
cannot see (it is thinner than their tolerances), so the sign tree would
need the exact simplex at many nodes to find it.

:func:`probe_wedges` looks there directly. For each near-antiparallel pair
(found as in :mod:`solver.snap`) one floating LP asks for a point ``z`` on the
hyperplane of row i (homogeneous coordinates ``z = (x, t)``, ``t > 0``) with
``e.z < 0`` (so the wedge opens on the side where both rows are negative)
and every row outside the near-coincident pairs negative, all with margin.
The point is then made exact: projected exactly onto the hyperplane, moved
into the wedge by an exactly chosen step ``-eta g_i`` (small enough that
every other row keeps its sign, which is checked), and if the rows positive
there do not span R^n, a kernel vector gives a witness that
:func:`solver.witness.witness_from_normal` builds and checks in rational
arithmetic. Nothing here can report a wrong answer: a probe that fails
returns None and the full search goes on.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .deadline import Deadline
from . import exact
from .witness import witness_from_normal
from .lp import linprog_highs

__all__ = ["near_antiparallel_pairs", "probe_wedges"]

#: the probe is a search heuristic, so it may look at pairs further from exact
#: than the snapping tolerance (every answer is checked exactly)
PROBE_RTOL = 1e-9


def near_antiparallel_pairs(W, b, rtol=PROBE_RTOL):
    """Pairs ``(i, j)`` of rows with ``[w_j, b_j] ~ c [w_i, b_i]``, ``c < 0``,
    up to ``rtol`` (max-norm, relative) but not exactly."""
    from .snap import snap_coincident_rows
    snap = snap_coincident_rows(W, b, rtol)
    return [(i, j) for j, i, s, _ in snap.rows if s < 0]


def _float_point(G, i, e, negative):
    """Float LP: z with g_i.z = 0, e.z <= -1, rows ``negative`` <= -1 (rows
    normalised), t >= 1. Returns z or None."""
    n1 = len(G[0])
    Gf = np.array([[float(c) for c in g] for g in G])
    norms = np.linalg.norm(Gf, axis=1)
    norms[norms == 0] = 1.0
    Gn = Gf / norms[:, None]
    ef = np.array([float(c) for c in e])
    ef = ef / np.linalg.norm(ef)
    t_row = np.zeros(n1)
    t_row[-1] = -1.0
    A_ub = np.vstack([Gn[negative], ef, t_row]) if negative else np.vstack([ef, t_row])
    res = linprog_highs(np.zeros(n1), A_ub=A_ub, b_ub=-np.ones(len(A_ub)), A_eq=Gn[[i]],
                        b_eq=[0.0], bounds=[(None, None)] * n1)
    return res.x if res.status == 0 else None


def _exact_wedge_point(G, i, j, z0):
    """Exact rational z near ``z0`` with ``g_i.z < 0``, ``g_j.z < 0``, or None."""
    gi, gj = G[i], G[j]
    z = [Fraction(float(c)) for c in z0]
    gi2 = exact.dot(gi, gi)
    z = [zk - Fraction(exact.dot(gi, z)) / gi2 * g for zk, g in zip(z, gi)]   # onto g_i.z = 0
    ez = exact.dot(gj, z)                 # = e.z on that hyperplane
    gij = exact.dot(gj, gi)               # ~ s |g_i|^2 < 0
    if not (ez < 0 and gij < 0):
        return None
    eta = ez / gij / 2                    # 0 < eta: g_j.z stays negative
    return [zk - eta * g for zk, g in zip(z, gi)]


def probe_wedges(W, b, *, rtol=PROBE_RTOL, deadline=None, pairs=None):
    """Look for a witness in the both-negative wedge of each near-antiparallel
    pair (see the module docstring). Returns ``(x1, x2)`` (lists of Fractions,
    checked exactly) or None.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> B = rng.standard_normal((3, 3))
    >>> W = np.vstack([B, -0.3 * B, rng.standard_normal((2, 3))])  # -0.3 B rounded
    >>> w = probe_wedges(W, np.zeros(8))
    >>> from solver.exact import check_layer_witness
    >>> w is None or check_layer_witness(W, np.zeros(8), *w)[0]
    True
    """
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    b = np.zeros(m) if b is None else np.asarray(b, dtype=np.float64)
    if pairs is None:
        pairs = near_antiparallel_pairs(W, b, rtol)
    if not pairs:
        return None
    G, _ = exact.integer_rows(W, b)
    in_pair = {k for p in pairs for k in p}
    negative = [k for k in range(m) if k not in in_pair and any(G[k])]
    for i, j in pairs:
        if Deadline(deadline).expired():
            return None
        # e = g_j - c g_i with the exact ratio at the largest entry of g_i
        k = max(range(n + 1), key=lambda t: abs(G[i][t]))
        c = Fraction(G[j][k], G[i][k])
        e = [Fraction(a) - c * x for a, x in zip(G[j], G[i])]
        if not any(e):
            continue
        z0 = _float_point(G, i, e, negative)
        if z0 is None or z0[-1] <= 0:
            continue
        z = _exact_wedge_point(G, i, j, z0)
        if z is None or z[-1] <= 0:
            continue
        vals = [exact.dot(g, z) for g in G]
        if any(v == 0 for v, g in zip(vals, G) if any(g[:n])):
            continue                       # not generic: leave it to the search
        pos = [G[r][:n] for r in range(m) if vals[r] > 0]
        if exact.rank(pos) == n:
            continue
        v = exact.kernel(pos, n)[0]
        x = [zk / z[n] for zk in z[:n]]
        w = witness_from_normal(G, v, x, W, b)
        if w is not None:
            return w
    return None
