"""The papers' numbers, reproduced and extended with the exact solver.

1. :func:`critical_expansivity` -- Theorem 6 (Puthawala et al., appendix A.3):
   the root c* of ``1/2 erfc(1/sqrt(2c)) = 1/c``, c* ~ 3.4.
2. :func:`figure2` -- the paper's Figure 2: for Gaussian ``W`` (m = c n) and
   ``x = -(1/m) sum_j w_j/|w_j|``, the fraction of rows with ``<w_j, x> > 0``
   and the empirical probability that ``W`` has a DSS w.r.t. ``x`` (the
   positive rows span R^n).
3. :func:`p_injective_n2` -- the closed form of P(injective) at n = 2
   (with proof), and :func:`semicircle_injective`, its criterion.

The exact phase transition itself (adaptive sampling, fits, extrapolation,
plots) is :mod:`benchmarks.phase`.

:func:`dss_at_minus_mean` turns the Figure 2 test into a one-sided *exact*
decision procedure (``not_injective`` with a verified witness, or
``unknown``); the harness runs it next to the exact solver on every
phase-transition instance, so the two are cross-checked.

References
----------
M. Puthawala, K. Kothari, M. Lassas, I. Dokmanic, M. de Hoop, *Globally
injective ReLU networks*, JMLR 2022 (Theorem 2, Theorem 6, Figure 2).
A. Maillard, A. S. Bandeira, D. Belius, I. Dokmanic, S. Nakajima, *Injectivity
of ReLU networks: perspectives from statistical physics*, 2023 (c ~ 6.698).
"""
from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np

from .phasefit import fifty_percent_point  # noqa: F401 (the Figure 2 c50; re-exported)

#: Lower bound on the critical expansivity of Gaussian layers (Theorem 6).
LOWER_BOUND = 3.4
#: Upper bound (the short version's Theorem 2: I(m, n) -> 1 for c > 10.5).
UPPER_BOUND = 10.5
#: Sufficient expansivity of the full version's Theorem 2 (m >= 5.7 n).
THEOREM2_SUFFICIENT = 5.7
#: Statistical-physics prediction (Maillard, Bandeira, Belius, Dokmanic, Nakajima 2023).
STATPHYS = 6.698


def _theorem6_gap(c):
    from scipy.special import erfc
    return 0.5 * erfc(1.0 / math.sqrt(2.0 * c)) - 1.0 / c


def critical_expansivity(xtol=1e-12):
    """The root c* of ``1/2 erfc(1/sqrt(2c)) = 1/c`` (Theorem 6), by Brent's method.

    Returns
    -------
    float, c* ~ 3.4: for Gaussian W with m/n -> c < c*, ReLU(W x) is not
    injective with probability -> 1 (the rows positive at x = -mean(w_j)
    number about m * 1/2 erfc(1/sqrt(2c)) < n).

    Examples
    --------
    >>> round(critical_expansivity(), 2)
    3.4
    """
    from scipy.optimize import brentq
    return brentq(_theorem6_gap, 1.5, 20.0, xtol=xtol)


def asymptotic_positive_fraction(c):
    """Limit fraction of rows with ``<w_i, -sum_k w_k> > 0``: 1/2 erfc(1/sqrt(2c)) (Lemma A)."""
    from scipy.special import erfc
    return 0.5 * float(erfc(1.0 / math.sqrt(2.0 * c)))


def figure2(ns=(5, 10, 20), cs=None, trials=100, seed=0):
    """Figure 2 quantities by Monte Carlo.

    For each ``n`` in ``ns`` and ``c`` in ``cs`` (m = round(c n)), draws
    ``trials`` Gaussian matrices, sets ``x = -(1/m) sum_j w_j / |w_j|`` and
    records the mean fraction of rows with ``<w_j, x> > 0`` (``frac_pos``),
    the same count divided by n (``count_over_n``; below 1 there is no DSS),
    and the fraction of trials whose positive rows span R^n (``p_dss``).
    ``theory_frac`` is Lemma A's limit 1/2 erfc(1/sqrt(2c)).

    Returns a list of dicts, one per (n, m).
    """
    if cs is None:
        cs = np.arange(1.5, 8.01, 0.25)
    out = []
    for n in ns:
        seen = set()
        for c in cs:
            m = int(round(c * n))
            if m < 1 or m in seen:
                continue
            seen.add(m)
            rng = np.random.default_rng([2, n, m, seed])
            counts, dss = [], []
            for _ in range(trials):
                W = rng.standard_normal((m, n))
                U = W / np.linalg.norm(W, axis=1, keepdims=True)
                x = -U.mean(axis=0)
                pos = W @ x > 0
                k = int(pos.sum())
                counts.append(k)
                dss.append(k >= n and np.linalg.matrix_rank(W[pos]) == n)
            counts = np.asarray(counts, dtype=float)
            cc = m / n
            out.append({"n": n, "m": m, "c": round(cc, 6), "trials": trials,
                        "frac_pos": float(np.mean(counts / m)),
                        "count_over_n": float(np.mean(counts / n)),
                        "p_dss": float(np.mean(dss)),
                        "theory_frac": asymptotic_positive_fraction(cc),
                        "theory_count_over_n": cc * asymptotic_positive_fraction(cc)})
    return out


def dss_at_minus_mean(W, b=None, time_limit=None):
    """One-sided exact test from Figure 2: is there a DSS w.r.t. x = -mean(w_j/|w_j|)?

    If ``x`` (rounded to binary64, then taken exactly) is generic and its
    positive rows do not span R^n, the layer is not injective (the Lemma in
    :mod:`solver.certificates.checker`): an exact witness ``x, x + a v`` is
    built with ``v`` orthogonal to the positive rows and checked in rational
    arithmetic. Otherwise the answer is ``unknown``: nothing is concluded.

    Returns a :class:`solver.LayerResult` (method ``"dss-mean"``).
    """
    from solver import exact
    from solver.result import LayerResult, Verdict, Witness
    from solver.witness import witness_from_normal
    start = time.monotonic()
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    b = np.zeros(m) if b is None else np.asarray(b, dtype=np.float64)

    def done(verdict, msg, witness=None, **stats):
        return LayerResult(Verdict(verdict), Witness.of(witness), "dss-mean",
                           time.monotonic() - start, msg, m, n, None, stats)

    norms = np.linalg.norm(W, axis=1)
    nz = norms > 0
    if not nz.any():
        return done("unknown", "all rows are zero")
    x = -(W[nz] / norms[nz, None]).mean(axis=0)
    G, _ = exact.integer_rows(W, b)
    xq = [Fraction(float(v)) for v in x]
    X, d = exact.common_denominator(xq)
    positive = []
    for i, g in enumerate(G):
        if not any(g[:n]):
            continue
        val = exact.dot(g[:n], X) + g[n] * d
        if val == 0:
            return done("unknown", "x = -mean is not generic (a row vanishes there)")
        if val > 0:
            positive.append(i)
    rows = [G[i][:n] for i in positive]
    if exact.rank(rows) == n:
        return done("unknown", "the positive rows at x = -mean span R^n (a DSS w.r.t. x)",
                    positive_rows=len(positive))
    v = exact.kernel(rows, n)[0]
    w = witness_from_normal(G, v, xq, W, b)
    if w is None:
        return done("unknown", "no exact witness at x = -mean", positive_rows=len(positive))
    return done("not_injective", "no DSS w.r.t. x = -mean of the normalised rows", w,
                positive_rows=len(positive))


# ---------------------------------------------------------------- n = 2: a closed form

def p_injective_n2(m):
    """Exact probability that ``x -> ReLU(W x)`` is injective, ``W`` (m x 2)
    with iid rotation-invariant rows (e.g. Gaussian), no bias.

    ``P = 0`` for ``m <= 4`` and ``P = 1 - m (m - 2) / 2^(m - 1)`` for
    ``m >= 4`` (the two agree at ``m = 4``): 1/16, 1/4, 29/64, 5/8, 193/256,
    ... for m = 5, 6, 7, 8, 9.

    Parameters
    ----------
    m : int >= 1, the number of rows.

    Returns
    -------
    fractions.Fraction

    Notes
    -----
    *Proof.* (1) By the criterion of :mod:`solver.certificates.checker`, the
    layer is injective iff the rows positive at every generic ``x`` span R^2.
    Almost surely no row is 0 and no two are parallel, so "span" means "at
    least two rows": **the layer is injective iff every open half-plane
    through the origin whose boundary holds no row contains two rows.**

    (2) Put the rows' directions on a circle of circumference 1: they are
    ``m`` iid uniform points; a half-plane ``{w : <w, x> > 0}`` is an open
    semicircle (an arc of length 1/2). Let ``g_1, ..., g_m`` be the cyclic
    spacings between consecutive points (``g_j`` precedes point ``j``);
    ``(g_1, ..., g_m)`` is uniform on the simplex ``{g >= 0, sum g = 1}``
    (Feller, vol. II, I.7), hence ``P(g_i > t_i, i in S) = (1 - sum_S t_i)_+^(m-1)``.

    (3) An open semicircle holding at most one point, point ``j``, lies in
    the open arc between points ``j - 1`` and ``j + 1``, of length
    ``g_j + g_{j+1}``; conversely if ``g_j + g_{j+1} > 1/2`` that arc contains
    such a semicircle with no point on its ends (shift it slightly). With
    ``E_j = {g_j + g_{j+1} > 1/2}`` (indices mod m): the layer is not
    injective iff some ``E_j`` occurs (a semicircle with no point lies in
    one gap, inside ``E_j`` too).

    (4) For ``m >= 4``, ``E_j`` and ``E_k`` are disjoint unless ``k`` is
    ``j - 1``, ``j`` or ``j + 1``: otherwise the gap pairs ``{j, j+1}``,
    ``{k, k+1}`` are disjoint and four spacings summing to at most 1 would
    exceed 1/2 pairwise. Among three distinct indices two are non-adjacent,
    so triple intersections are empty, and inclusion-exclusion stops at
    pairs: ``P(not injective) = m P(E_1) - m P(E_1 & E_2)``.

    (5) ``g_1 + g_2 ~ Beta(2, m - 2)``, so ``P(E_1) = P(Bin(m-1, 1/2) <= 1)
    = m / 2^(m-1)``: Wendel's probability that ``m`` random points of R^2
    lie in one half-plane, i.e. that ``ReLU(W x)`` vanishes on an open cone
    (the event "an open half-plane holds *no* row", with one disjoint ``g_j
    > 1/2`` per point).

    (6) Given ``g_2 = a`` (density ``(m-1)(1-a)^(m-2)``) the other spacings
    are ``(1 - a)`` times uniform spacings of ``m - 1`` parts, and ``E_1 &
    E_2`` asks ``g_1, g_3 > 1/2 - a``: conditional probability
    ``(a / (1 - a))^(m-2)`` for ``a < 1/2`` and 1 for ``a >= 1/2``. So
    ``P(E_1 & E_2) = (m-1) int_0^(1/2) a^(m-2) da + (1/2)^(m-1) = 2^(2-m)``.

    (7) ``P(not injective) = m^2 / 2^(m-1) - m 2^(2-m) = m (m - 2) / 2^(m-1)``
    for ``m >= 4``, i.e. ``(m - 2)`` times Wendel's ``m / 2^(m-1)``. For
    ``m <= 3 < 2n`` no layer is injective. QED.

    :func:`semicircle_injective` decides a single layer by the criterion of
    (1) directly, and the tests check this formula against it by Monte
    Carlo, against the exact volume of the polytope ``{g in simplex :
    g_j + g_{j+1} <= 1/2}``, and the solver's verdicts against both.

    References
    ----------
    J. G. Wendel, *A problem in geometric probability*, Math. Scand. 11
    (1962) 109-111. W. Feller, *An Introduction to Probability Theory and
    Its Applications*, vol. II, 1971, I.7 (uniform spacings).

    Examples
    --------
    >>> [str(p_injective_n2(m)) for m in (4, 5, 6, 7, 8)]
    ['0', '1/16', '1/4', '29/64', '5/8']
    """
    m = int(m)
    if m < 1:
        raise ValueError("m must be >= 1")
    if m <= 4:
        return Fraction(0)
    return 1 - Fraction(m * (m - 2), 2 ** (m - 1))


def semicircle_injective(W):
    """Decide injectivity of ``ReLU(W x)`` for ``W`` (m x 2) in general
    position by the half-plane criterion of :func:`p_injective_n2`, step (1):
    injective iff every generic open half-plane holds at least two rows.

    Independent of the solver (angles in floating point; only for rows with
    no two parallel and none zero, which holds almost surely for Gaussian
    ``W``). The count of rows in the open semicircle ``(s, s + pi)`` changes
    only when an end passes a row; its minimum over generic ``s`` is
    attained just after ``s`` passes a row, so the ``m`` arcs starting at
    the rows (excluded) are enough.

    Parameters
    ----------
    W : array of shape (m, 2), or (T, m, 2) for T layers at once.

    Returns
    -------
    bool, or a boolean array of shape (T,).

    Raises
    ------
    ValueError if a row is zero or two rows are parallel (up to 1e-12 rad).

    Examples
    --------
    >>> t = 2 * np.pi * np.arange(5) / 5        # a regular pentagon: every semicircle holds 2
    >>> semicircle_injective(np.c_[np.cos(t), np.sin(t)])
    True
    >>> semicircle_injective(np.c_[np.cos(t), np.sin(t)][:4])     # (72, 288) degrees holds 1
    False
    """
    W = np.asarray(W, dtype=float)
    single = W.ndim == 2
    W = W[None] if single else W
    if W.ndim != 3 or W.shape[2] != 2:
        raise ValueError("W must have shape (m, 2) or (T, m, 2)")
    theta = np.arctan2(W[..., 1], W[..., 0])                        # (T, m)
    if np.any(np.all(W == 0, axis=2)):
        raise ValueError("a row is zero")
    d = np.mod(theta[:, None, :] - theta[:, :, None], 2 * np.pi)    # [t, j, i]: i relative to j
    m = W.shape[1]
    off = ~np.eye(m, dtype=bool)[None]
    near = np.minimum(np.abs(np.mod(d, np.pi)), np.pi - np.abs(np.mod(d, np.pi)))
    if np.any(off & (near < 1e-12)):
        raise ValueError("two rows are parallel")
    inside = off & (d > 0) & (d < np.pi)
    ok = inside.sum(axis=2).min(axis=1) >= 2
    return bool(ok[0]) if single else ok


# ---------------------------------------------------------------- phase transition

def phase_grid(n, c_min=2.0, c_max=10.0, step=0.5):
    """Row counts m = round(c n) for c on a grid, without repeats."""
    ms = []
    for c in np.arange(c_min, c_max + 1e-9, step):
        m = int(round(c * n))
        if m not in ms:
            ms.append(m)
    return ms


def _finish(fig, path):
    if path is None:
        return fig
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def plot_figure2(points, path=None):
    """The paper's Figure 2 (left: positive rows / n; right: P(DSS w.r.t. x)).
    Saves to ``path`` (and closes the figure) or returns the figure."""
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    ns = sorted({p["n"] for p in points})
    for n in ns:
        pts = [p for p in points if p["n"] == n]
        a1.plot([p["c"] for p in pts], [p["count_over_n"] for p in pts], ".-", label=f"n = {n}")
        a2.plot([p["c"] for p in pts], [p["p_dss"] for p in pts], ".-", label=f"n = {n}")
    cs = np.linspace(1.5, max(p["c"] for p in points), 100)
    a1.plot(cs, [c * asymptotic_positive_fraction(c) for c in cs], "k--", lw=1,
            label="c * erfc(1/sqrt(2c))/2")
    a1.axhline(1.0, color="grey", lw=0.5)
    cstar = critical_expansivity()
    for a in (a1, a2):
        a.axvline(cstar, color="r", lw=1, ls=":", label=f"c* = {cstar:.3f}")
        a.set_xlabel("c = m / n")
        a.legend(fontsize=7)
    a1.set_ylabel("#{j : <w_j, x> > 0} / n")
    a2.set_ylabel("P(W has a DSS w.r.t. x)")
    fig.suptitle("Figure 2 (Puthawala et al.): x = -mean of the normalised rows")
    fig.tight_layout()
    return _finish(fig, path)
