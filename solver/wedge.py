"""Witnesses in the thin wedges of rows antiparallel only up to rounding.

If ``[w_j, b_j]`` is ``s [w_i, b_i]`` with ``s < 0`` exactly, one of the two
rows is positive at every generic point. If it is so only up to rounding
(``[w_j, b_j] = s [w_i, b_i] + e`` with a tiny ``e``), the two hyperplanes
differ and between them lies a wedge, of relative width ~|e|, where both rows
are negative. The layer loses that pair's line there, and usually the
spanning property with it: the wedge is a bad cell that floating-point LPs
cannot see (it is thinner than their tolerances), so the sign tree would
need the exact simplex at many nodes to find it.

:func:`probe_wedges` looks there directly, in two steps.

1. One wedge: for each near-antiparallel pair (found as in :mod:`solver.snap`)
   one floating LP asks for a point ``z`` on the hyperplane of row i
   (homogeneous coordinates ``z = (x, t)``, ``t > 0``) with ``e.z < 0`` (so
   the wedge opens on the side where both rows are negative) and every row
   outside the near-coincident pairs negative, all with margin.
2. Several wedges: inside the wedges of a set K of pairs, the other pairs
   give one row each (n - |K| rows), so the active rows cannot span R^n if
   at most |K| - 1 other rows are active. Where no single wedge works, a
   search MILP (big-M, boxed: a heuristic, never a proof) looks for such a
   K and a point on the hyperplanes of K (measured on rounded ``[B; -DB]``
   plus 2n Gaussian rows: at n = 20 four of five layers need |K| = 2 to 4).

Each candidate is then made exact: projected exactly onto the hyperplanes,
moved into the wedges by an exactly chosen step (small enough that every
other row keeps its sign), and if the rows positive there do not span R^n,
a kernel vector gives a witness that
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
from .floatrows import unit_rows
from .lp import linprog_highs

__all__ = ["near_antiparallel_pairs", "probe_wedges"]

#: the probe is a search heuristic, so it may look at pairs further from exact
#: than the snapping tolerance (every answer is checked exactly)
PROBE_RTOL = 1e-9

#: the several-wedges MILP: box half-width of z (rows normalised, margins 1;
#: measured on the rounded [B; -DB] + 2n family, n = 20: a box of 100 left
#: seeds unsolved in 20 s, 1e4 solved all in < 2 s), at most this many
#: rounds (each excludes the wedge sets already tried), and its time budget:
#: this share of the time left, at most MILP_SECONDS
WEDGE_BOX = 1e4
MILP_ROUNDS = 3
MILP_SHARE = 0.25
MILP_SECONDS = 60.0


def near_antiparallel_pairs(W, b, rtol=PROBE_RTOL):
    """Pairs ``(i, j)`` of rows with ``[w_j, b_j] ~ c [w_i, b_i]``, ``c < 0``,
    up to ``rtol`` (max-norm, relative) but not exactly."""
    from .snap import snap_coincident_rows
    snap = snap_coincident_rows(W, b, rtol)
    return [(i, j) for j, i, s, _ in snap.rows if s < 0]


def _float_point(F, i, e, negative):
    """Float LP: z with f_i.z = 0, e.z <= -1 (``F`` the unit rows, ``e`` a
    unit vector), rows ``negative`` <= -1, t >= 1. Returns z or None."""
    n1 = F.shape[1]
    t_row = np.zeros(n1)
    t_row[-1] = -1.0
    A_ub = np.vstack([F[negative], e, t_row]) if negative else np.vstack([e, t_row])
    res = linprog_highs(np.zeros(n1), A_ub=A_ub, b_ub=-np.ones(len(A_ub)), A_eq=F[[i]],
                        b_eq=[0.0], bounds=[(None, None)] * n1)
    return res.x if res.status == 0 else None


def _exact_wedge_point(G, K, z0):
    """Exact rational z near ``z0`` inside the both-negative wedge of every
    pair ``(i, j)`` of ``K``, or None.

    ``z0`` is projected exactly onto ``{g_i.z = 0 : (i, j) in K}``, then
    moved by ``eta d`` with ``g_i.d = -1`` for every ``i`` of ``K``: every
    ``g_i`` becomes negative, and ``eta`` is half the smallest step at which
    any row that is nonzero at the projection would change sign, so each
    partner ``g_j`` (negative there when ``e.z < 0``) stays negative. The
    returned point is only a candidate: the caller checks it exactly."""
    import flint
    A = [G[i] for i, _ in K]
    k, n1 = len(A), len(z0)
    z = [Fraction(float(c)) for c in z0]
    AAt = flint.fmpq_mat(k, k, [exact.dot(a, c) for a in A for c in A])
    rhs = flint.fmpq_mat(k, 2, [v for a in A for v in (exact.to_fmpq(exact.dot(a, z)), -1)])
    try:
        sol = AAt.solve(rhs)
    except ZeroDivisionError:              # the rows g_i of K are dependent
        return None
    lam = [exact.from_fmpq(sol[p, 0]) for p in range(k)]
    mu = [exact.from_fmpq(sol[p, 1]) for p in range(k)]
    z = [z[t] - sum(lam[p] * A[p][t] for p in range(k)) for t in range(n1)]
    d = [sum(mu[p] * A[p][t] for p in range(k)) for t in range(n1)]   # A d = -1
    if any(exact.dot(G[j], z) >= 0 for _, j in K):
        return None
    eta = None
    for g in G:
        v, dv = exact.dot(g, z), exact.dot(g, d)
        if v != 0 and dv != 0 and (v > 0) != (dv > 0):
            eta = -v / dv if eta is None else min(eta, -v / dv)
    eta = Fraction(1) if eta is None else eta / 2
    return [zt + eta * dt for zt, dt in zip(z, d)]


def _witness_at(G, z, W, b):
    """An exactly checked witness at the rational point ``z = (x, t)``, ``t > 0``,
    when its positive rows do not span R^n; else None."""
    n = len(z) - 1
    if z[-1] <= 0:
        return None
    vals = [exact.dot(g, z) for g in G]
    if any(v == 0 for v, g in zip(vals, G) if any(g[:n])):
        return None                        # not generic: leave it to the search
    pos = [g[:n] for g, v in zip(G, vals) if v > 0]
    if exact.rank(pos) == n:
        return None
    v = exact.kernel(pos, n)[0]
    return witness_from_normal(G, v, [zk / z[n] for zk in z[:n]], W, b)


def _several_wedges_milp(F, pairs, es, others, n, time_limit, excluded=()):
    """Search MILP for a point in the wedges of a set K of pairs where too few
    other rows are active to span R^n (see :func:`probe_wedges`).

    Binaries ``s_k`` (pair k's wedge) and ``a_r`` (row r allowed active);
    ``z = (x, t)`` in a box, rows normalised::

        s_k = 1  =>  g_i.z = 0 and e_k.z <= -1
        a_r = 0  =>  g_r.z <= -1                     (r outside every pair)
        sum a_r <= sum s_k - 1,   sum s_k >= 1

    At such a point the pairs outside K contribute one row each (n - |K|
    rows) and at most |K| - 1 other rows are active: fewer than n rows.
    Big-M and the box make this a search tool only; each answer is checked
    exactly. ``excluded`` lists sets K already tried (no-good cuts). Returns
    ``(K, z)`` or None."""
    from .backends import MilpStatus
    from .milpbuilder import MilpBuilder
    from .netmilp import solve_model
    M = WEDGE_BOX
    P, n1 = len(pairs), n + 1
    B = MilpBuilder()
    z = B.add_vars(n1, np.r_[-M * np.ones(n), 1.0], M)
    s = B.add_binaries(P)
    a = B.add_binaries(len(others))
    for k, (i, _) in enumerate(pairs):
        g = F[i]
        B.add_row(np.r_[z, s[k]], np.r_[g, M], hi=M)
        B.add_row(np.r_[z, s[k]], np.r_[g, -M], lo=-M)
        B.add_row(np.r_[z, s[k]], np.r_[es[k], M], hi=M - 1)
    for q, r in enumerate(others):
        B.add_row(np.r_[z, a[q]], np.r_[F[r], -M], hi=-1)
    B.add_row(np.r_[a, s], np.r_[np.ones(len(a)), -np.ones(P)], hi=-1)
    for K in excluded:
        B.add_row([s[k] for k in K], np.ones(len(K)), hi=len(K) - 1)
    sol, _ = solve_model(B.build(), "scipy-highs", time_limit=time_limit)
    if sol.status not in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE):
        return None
    return [k for k in range(P) if sol.x[s[k]] > 0.5], sol.x[z]


def probe_wedges(W, b, *, rtol=PROBE_RTOL, deadline=None, pairs=None):
    """Look for a witness in the both-negative wedges of near-antiparallel
    pairs, one wedge at a time and then several at once (see the module
    docstring). Returns ``(x1, x2)`` (lists of Fractions, checked exactly) or
    None. ``deadline`` (a ``time.monotonic()`` value or None) is kept; the
    several-wedges MILP gets at most ``MILP_SHARE`` of the time left.

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
    deadline = Deadline(deadline)
    if deadline.expired():          # (the pairs' cosines cost seconds on wide layers)
        return None
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    b = np.zeros(m) if b is None else np.asarray(b, dtype=np.float64)
    if pairs is None:
        pairs = near_antiparallel_pairs(W, b, rtol)
    if not pairs:
        return None
    G, _ = exact.integer_rows(W, b)
    F, _ = unit_rows(np.hstack([W, b[:, None]]))   # the directions of G, for the float steps
    in_pair = {k for p in pairs for k in p}
    others = [k for k in range(m) if k not in in_pair and any(G[k])]
    pairs, es = _with_gaps(G, pairs, n)
    for (i, j), e in zip(pairs, es):                 # one wedge: one LP each
        if deadline.expired():
            return None
        z0 = _float_point(F, i, e, others)
        z = None if z0 is None or z0[-1] <= 0 else _exact_wedge_point(G, [(i, j)], z0)
        w = None if z is None else _witness_at(G, z, W, b)
        if w is not None:
            return w
    tried = []
    while len(pairs) > 1 and len(tried) < MILP_ROUNDS:   # several wedges at once
        budget = deadline.share(MILP_SHARE)
        budget = MILP_SECONDS if budget is None else min(MILP_SECONDS, budget)
        if budget <= 0:
            return None
        found = _several_wedges_milp(F, pairs, es, others, n, budget, tried)
        if found is None:
            return None
        K, z0 = found
        z = _exact_wedge_point(G, [pairs[k] for k in K], z0)
        w = None if z is None else _witness_at(G, z, W, b)
        if w is not None:
            return w
        tried.append(K)
    return None


def _with_gaps(G, pairs, n):
    """The pairs whose rows are not exactly antiparallel, each with the unit
    float vector of ``e = g_j - c g_i`` (``c`` the exact ratio at the largest
    entry of ``g_i``)."""
    kept, es = [], []
    for i, j in pairs:
        k = max(range(n + 1), key=lambda t: abs(G[i][t]))
        c = Fraction(G[j][k], G[i][k])
        e = [Fraction(a) - c * x for a, x in zip(G[j], G[i])]
        if any(e):
            kept.append((i, j))
            es.append(unit_rows([e])[0][0])
    return kept, es
