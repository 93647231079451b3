"""The papers' numbers, reproduced and extended with the exact solver.

1. :func:`critical_expansivity` -- Theorem 6 (Puthawala et al., appendix A.3):
   the root c* of ``1/2 erfc(1/sqrt(2c)) = 1/c``, c* ~ 3.4.
2. :func:`figure2` -- the paper's Figure 2: for Gaussian ``W`` (m = c n) and
   ``x = -(1/m) sum_j w_j/|w_j|``, the fraction of rows with ``<w_j, x> > 0``
   and the empirical probability that ``W`` has a DSS w.r.t. ``x`` (the
   positive rows span R^n).
3. The exact phase transition: the probability that a Gaussian layer
   (b = 0) is injective, against c = m/n, from exact verdicts
   (:func:`phase_summary`, :func:`fifty_percent_point`), with the paper's
   bounds 3.4 and 10.5 and the statistical-physics prediction 6.698.

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


# ---------------------------------------------------------------- phase transition

def phase_grid(n, c_min=2.0, c_max=10.0, step=0.5):
    """Row counts m = round(c n) for c on a grid, without repeats."""
    ms = []
    for c in np.arange(c_min, c_max + 1e-9, step):
        m = int(round(c * n))
        if m not in ms:
            ms.append(m)
    return ms


def _pava(y, w):
    """Pool-adjacent-violators: the non-decreasing least-squares fit."""
    blocks = [[float(v), float(wt), 1] for v, wt in zip(y, w)]
    out = []
    for blk in blocks:
        out.append(blk)
        while len(out) > 1 and out[-2][0] > out[-1][0]:
            v2, w2, k2 = out.pop()
            v1, w1, k1 = out.pop()
            wt = w1 + w2
            out.append([(v1 * w1 + v2 * w2) / wt if wt else v1, wt, k1 + k2])
    fit = []
    for v, _, k in out:
        fit.extend([v] * k)
    return fit


def fifty_percent_point(cs, ps, weights=None):
    """Interpolated c where the (monotonised) probability curve reaches 1/2.

    The empirical proportions are first made non-decreasing in c (isotonic
    regression, weighted by the number of samples), then linearly
    interpolated. Returns ``None`` if the curve never reaches 1/2, and the
    smallest c if it starts at or above 1/2.

    Examples
    --------
    >>> fifty_percent_point([2, 3, 4], [0.0, 0.4, 0.8])
    3.25
    """
    if len(cs) == 0:
        return None
    order = np.argsort(cs)
    cs = [float(cs[i]) for i in order]
    ps = [float(ps[i]) for i in order]
    w = [1.0] * len(cs) if weights is None else [float(weights[i]) for i in order]
    fit = _pava(ps, w)
    if fit[0] >= 0.5:
        return cs[0]
    for k in range(1, len(cs)):
        if fit[k] >= 0.5:
            c0, c1, p0, p1 = cs[k - 1], cs[k], fit[k - 1], fit[k]
            return c0 + (0.5 - p0) * (c1 - c0) / (p1 - p0)
    return None


def phase_summary(rows, method="tree"):
    """Per (n, m): counts of injective / not_injective / unknown among the
    phase-transition rows of ``method``; ``p_injective`` counts unknowns as
    *not* injective (a lower bound), ``p_injective_upper`` as injective.

    Returns ``{"points": [...], "fifty": {n: {...}}}``.
    """
    table = {}
    for r in rows:
        if r.get("family") != "phase" or r.get("method") != method:
            continue
        key = (r["n"], r["m"])
        t = table.setdefault(key, {"n": r["n"], "m": r["m"], "c": round(r["m"] / r["n"], 6),
                                   "injective": 0, "not_injective": 0, "unknown": 0,
                                   "total": 0})
        v = r["verdict"] if r["verdict"] in ("injective", "not_injective") else "unknown"
        t[v] += 1
        t["total"] += 1
    points = []
    for key in sorted(table):
        t = table[key]
        t["p_injective"] = t["injective"] / t["total"]
        t["p_injective_upper"] = (t["injective"] + t["unknown"]) / t["total"]
        points.append(t)
    fifty = {}
    for n in sorted({p["n"] for p in points}):
        pts = [p for p in points if p["n"] == n]
        cs = [p["c"] for p in pts]
        w = [p["total"] for p in pts]
        lo = fifty_percent_point(cs, [p["p_injective"] for p in pts], w)
        hi = fifty_percent_point(cs, [p["p_injective_upper"] for p in pts], w)
        fifty[n] = {"n": n, "c50": lo, "c50_if_unknowns_injective": hi,
                    "instances": sum(w), "unknown": sum(p["unknown"] for p in pts),
                    "c_range": [min(cs), max(cs)]}
    return {"points": points, "fifty": fifty}


# ---------------------------------------------------------------- plots

def plot_phase_transition(summary, path=None, title=None):
    """P(injective) against c per n, with 3.4, 6.698 and 10.5 marked.
    Saves to ``path`` (and closes the figure) or returns the figure."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ns = sorted({p["n"] for p in summary["points"]})
    cmap = plt.get_cmap("viridis")
    for k, n in enumerate(ns):
        pts = [p for p in summary["points"] if p["n"] == n]
        col = cmap(k / max(1, len(ns) - 1))
        cs = [p["c"] for p in pts]
        ax.plot(cs, [p["p_injective"] for p in pts], "o-", color=col, ms=3,
                label=f"n = {n}")
        if any(p["unknown"] for p in pts):
            ax.fill_between(cs, [p["p_injective"] for p in pts],
                            [p["p_injective_upper"] for p in pts], color=col, alpha=0.2)
    for c, lab, ls in ((critical_expansivity(), "c* = 3.4 (Thm 6, lower)", "--"),
                       (STATPHYS, "6.698 (stat. physics)", ":"),
                       (UPPER_BOUND, "10.5 (upper)", "-.")):
        ax.axvline(c, color="k", ls=ls, lw=1, label=lab)
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("c = m / n")
    ax.set_ylabel("P(ReLU(Wx) injective)  (exact verdicts)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "Gaussian layers, b = 0: exact injectivity probability")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _finish(fig, path)


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
