"""Exact non-injectivity witnesses for one layer.

A witness is a generic point x whose positive rows are all orthogonal to
some v != 0 (Puthawala et al., Thm 1, affine form; see the Lemma in
:mod:`solver.certificates.checker`). Then x1 = x and x2 = x + a v with
a > 0 small enough have the same image; we compute the largest such a
exactly and check the pair in rational arithmetic before returning it.
"""
from __future__ import annotations

from fractions import Fraction

from .deadline import Deadline
from . import exact

__all__ = ["DENOMINATORS", "rational_candidates", "simple_rational_below",
           "witness_from_normal", "witness_from_kernel", "witness_for_normal_lp",
           "witness_from_active_set", "cell_point", "CELL_DENOMINATORS"]


#: the simpler rationals tried before the exact binary64 values
DENOMINATORS = (1, 1000, 10**6, 10**9)


def rational_candidates(x_float, *, denominators=DENOMINATORS, via_float=False):
    """Exact rationals near a point: for each of ``denominators`` the nearest
    rationals with at most that denominator (shorter witnesses when they
    pass), then the point itself.

    Entries that are Fractions are kept exact, unless ``via_float``: then
    every entry is first rounded to binary64 (the first candidates of the
    cell points of :mod:`solver.sigma_search`, kept so that its points do not
    change; it then tries an exact point itself, which rounding can move out
    of a cell thinner than the spacing of doubles).

    Examples
    --------
    >>> from fractions import Fraction
    >>> rational_candidates([0.5, Fraction(1, 3)])[-1]
    [Fraction(1, 2), Fraction(1, 3)]
    >>> rational_candidates([Fraction(1, 3)], via_float=True)[-1] == [Fraction(1 / 3)]
    True
    """
    if via_float:
        xs = [Fraction(float(v)) for v in x_float]
    else:
        xs = [v if isinstance(v, Fraction) else Fraction(float(v)) for v in x_float]
    out = [[v.limit_denominator(den) for v in xs] for den in denominators]
    out.append(xs)
    return out


def simple_rational_below(a):
    """A short rational in (0, a]: any step in that range gives a witness."""
    for den in (1, 10, 1000, 10**6, 10**12):
        c = Fraction(int(a * den), den)
        if c > 0:
            return c
    return a


def witness_from_normal(G, v, x_float, W, b):
    """Build and verify ``(x1, x2)`` from a normal ``v`` and a candidate point.

    Parameters
    ----------
    G : list of int rows ``scale_i * [w_i, b_i]`` (see :func:`exact.integer_rows`).
    v : exact nonzero integer (or rational) vector.
    x_float : floating-point candidate for x (e.g. from an LP).
    W, b : the layer, for the final independent check.

    Returns
    -------
    ``(x1, x2)`` as lists of Fractions, verified exactly, or ``None``.
    """
    n = len(v)
    if all(c == 0 for c in v):
        return None
    # scale v by a power of two to unit size: same direction, shorter numbers
    big = max(abs(Fraction(c)) for c in v)
    shift = big.numerator.bit_length() - big.denominator.bit_length()
    v = [Fraction(c) / Fraction(2) ** shift for c in v]
    wv = [exact.dot(g[:n], v) for g in G]
    for x in rational_candidates(x_float):
        X, d = exact.common_denominator(x)
        ok = True
        alpha = None
        for g, gv in zip(G, wv):
            if gv == 0:
                continue
            val = exact.dot(g[:n], X) + g[n] * d  # = d * scale * (w.x + b)
            if val >= 0:
                ok = False
                break
            if gv > 0:
                a = Fraction(-val, d * gv)  # scale cancels
                alpha = a if alpha is None or a < alpha else alpha
        if not ok:
            continue
        if alpha is None:
            alpha = Fraction(1)
        alpha = simple_rational_below(alpha)
        x2 = [xi + alpha * vi for xi, vi in zip(x, v)]
        good, _ = exact.check_layer_witness(W, b, x, x2)
        if good:
            return list(x), x2
    return None


def witness_from_kernel(W, b, v):
    """Rank-deficient W: x1 = 0, x2 = v with W v = 0 exactly."""
    x1 = [Fraction(0)] * len(v)
    x2 = [Fraction(c) for c in v]
    good, _ = exact.check_layer_witness(W, b, x1, x2)
    return (x1, x2) if good else None


def witness_for_normal_lp(W, b, G, v, *, deadline=None):
    """Scale-free LP for a given normal ``v``: is there x with every row not
    orthogonal to v strictly negative? ``G`` is ``exact.integer_rows(W, b)[0]``.
    Returns a verified witness or None.
    Floating LP first, the exact simplex if its answer is not usable (not
    started, or given up, past ``deadline``, a ``time.monotonic()`` value)."""
    import numpy as np

    from . import exactlp, lp
    n = len(v)
    outside = [j for j, g in enumerate(G) if exact.dot(g[:n], v) != 0]
    if not outside:
        return None
    # G[j] = scale_j [w_j, b_j] (a power of two): the float rows [w_j, b_j] are
    # its directions, and unlike float(G[j]) they cannot overflow
    Wb = np.hstack([np.asarray(W, dtype=np.float64),
                    np.zeros((len(G), 1)) if b is None else np.asarray(b, dtype=np.float64)[:, None]])
    feas, z, _ = lp.strict_system(Wb[outside])
    if feas:
        w = witness_from_normal(G, v, z[:n] / z[n], W, b)
        if w is not None:
            return w
    if Deadline(deadline).expired():
        return None
    try:
        status, zx = exactlp.strict_feasibility([list(G[j]) for j in outside], deadline=deadline)
    except exactlp.Timeout:
        return None
    if status == "feasible":
        return witness_from_normal(G, v, [zx[k] / zx[n] for k in range(n)], W, b)
    return None


def witness_from_active_set(W, b, active, *, max_normals=8, deadline=None):
    """Turn a candidate active set (e.g. decoded from a MILP solution) into an
    exactly verified witness, or None. The candidate is only a hint: x is
    recomputed by a scale-free LP for each exact kernel vector v of the
    active rows (no box, no big-M). Gives up past ``deadline``."""
    if Deadline(deadline).expired():
        return None
    G, _ = exact.integer_rows(W, b)
    n = len(G[0]) - 1
    rows = [G[i][:n] for i in active]
    if exact.rank(rows) >= n:
        return None
    for v in exact.kernel(rows, n)[:max_normals]:
        w = witness_for_normal_lp(W, b, G, v, deadline=deadline)
        if w is not None:
            return w
    return None


#: the simpler rationals tried for a cell's interior point (then the binary64 values)
CELL_DENOMINATORS = (1, 1000, 10**6, 10**9, 10**12)


def cell_point(G, nonzero, sign, x_float, extra=()):
    """An exact point ``x`` (list of Fractions) with ``sign[i] * (w_i.x + b_i) > 0``
    for every row in ``nonzero`` (integer rows ``G`` as from
    :func:`solver.exact.integer_rows`) and ``g.(x, 1) < 0`` for the integer
    rows ``extra``, near ``x_float``; None if no candidate works.

    The binary64-rounded candidates come first, then an exact ``x_float``
    (a point of the exact simplex) as it is: a cell thinner than the spacing
    of doubles contains none (tests/test_stability.py, the thin cell).
    """
    n = len(G[0]) - 1
    cands = rational_candidates(x_float, denominators=CELL_DENOMINATORS, via_float=True)
    if any(isinstance(v, Fraction) for v in x_float):
        cands.append([Fraction(v) for v in x_float])
    for x in cands:
        X, d = exact.common_denominator(x)
        if all(sign[i] * (exact.dot(G[i][:n], X) + G[i][n] * d) > 0 for i in nonzero) and \
                all(exact.dot(g[:n], X) + g[n] * d < 0 for g in extra):
            return x
    return None
