"""Fits for the phase transition: a binomial regression of P(injective) on c,
its 50 % point with a bootstrap interval, and finite-size extrapolation of
the 50 % points.

This is the one fitting module of the benchmarks (the adaptive sampler, the
summaries, the plots and the notebook all call it).

* :func:`fit_transition` -- maximum likelihood fit of
  ``P(c) = F((c - c50) / scale)`` with ``F`` the logistic (``"logit"``) or
  the standard normal (``"probit"``) distribution function, to binomial
  counts ``k`` of ``N`` at expansivities ``c``.
* :func:`bootstrap_transition` -- the stratified nonparametric bootstrap of
  that fit (layers resampled with replacement within each ``c``; the design,
  i.e. how many layers were drawn at each ``c``, is kept), with percentile
  intervals.
* :func:`extrapolate` -- weighted least squares of ``c50(n)`` against ``n``
  for the forms in :data:`FORMS`, with percentile intervals from refitting on
  the joint bootstrap replicates.

The binomial GLM is fitted here (Newton's method, thirty lines) rather than by
statsmodels (not a dependency) or :func:`scipy.optimize.minimize` (one
Python-level optimisation per bootstrap replicate is ~1000 times slower than
fitting all replicates together, and the bootstrap needs thousands).

References
----------
B. Efron, R. Tibshirani, *An Introduction to the Bootstrap*, 1993 (stratified
bootstrap, percentile intervals).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

LINKS = ("logit", "probit")
#: ``F^{-1}(0.9) - F^{-1}(0.1)`` per link: the 10 %..90 % width of the transition in units of ``scale``
WIDTH_FACTOR = {"logit": 2.0 * math.log(9.0), "probit": 2.0 * 1.2815515655446004}


def _log_cdfs(z, link):
    """``log F(z)``, ``log(1 - F(z))``, their first derivatives in ``z``, and
    minus their second derivatives (both >= 0: the links are log-concave),
    computed stably in the tails."""
    from scipy.special import expit, log_ndtr
    if link == "logit":
        lf, l1f = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
        F1, F = expit(-z), expit(z)
        h = F * F1
        return lf, l1f, F1, -F, h, h
    if link == "probit":
        lf, l1f = log_ndtr(z), log_ndtr(-z)
        lphi = -0.5 * z * z - 0.5 * math.log(2.0 * math.pi)
        lam, mu = np.exp(lphi - lf), np.exp(lphi - l1f)     # phi/Phi(z), phi/Phi(-z)
        return lf, l1f, lam, -mu, lam * (z + lam), mu * (mu - z)
    raise ValueError(f"unknown link {link!r}; choose from {LINKS}")


def link_cdf(z, link="logit"):
    """``F(z)`` of the link (logistic or standard normal)."""
    from scipy.special import expit, ndtr
    z = np.asarray(z, dtype=float)
    if link == "logit":
        return expit(z)
    if link == "probit":
        return ndtr(z)
    raise ValueError(f"unknown link {link!r}; choose from {LINKS}")


@dataclass(frozen=True)
class TransitionFit:
    """A fitted transition ``P(c) = F((c - c50) / scale)``.

    Attributes
    ----------
    link : ``"logit"`` or ``"probit"``.
    c50 : the 50 % point (``None`` when the data do not determine one).
    scale : the scale of the link in units of ``c``.
    width : ``c`` at 90 % minus ``c`` at 10 %.
    loglik : the maximised binomial log-likelihood.
    layers : number of Bernoulli observations (layers) fitted.
    converged : the optimiser's success flag.
    """
    link: str
    c50: float | None
    scale: float | None
    width: float | None
    loglik: float | None
    layers: int
    converged: bool

    def p(self, c):
        """Fitted probability at ``c`` (array-like)."""
        if self.c50 is None:
            return np.full(np.shape(c), np.nan)
        return link_cdf((np.asarray(c, dtype=float) - self.c50) / self.scale, self.link)

    def to_json(self):
        return asdict(self)


def _counts(c, k, N):
    c = np.asarray(c, dtype=float)
    k = np.asarray(k, dtype=float)
    N = np.asarray(N, dtype=float)
    if not (c.shape == k.shape == N.shape) or c.ndim != 1:
        raise ValueError("c, k and N must be 1-D arrays of one length")
    if np.any(k < 0) or np.any(k > N):
        raise ValueError("need 0 <= k <= N")
    keep = N > 0
    return c[keep], k[keep], N[keep]


def _loglik(c, K, N, alpha, beta, link):
    """Binomial log-likelihoods of the rows of ``K`` at ``z = alpha + beta c``
    (one (alpha, beta) per row), their gradients and negative Hessians."""
    z = alpha[:, None] + beta[:, None] * c[None, :]
    lf, l1f, dlf, dl1f, hf, h1f = _log_cdfs(z, link)
    ll = np.sum(K * lf + (N - K) * l1f, axis=1)
    g = K * dlf + (N - K) * dl1f                       # d loglik / d z
    w = K * hf + (N - K) * h1f                         # -d2 loglik / d z2 >= 0
    score = np.stack([g.sum(1), (g * c).sum(1)], axis=1)
    info = np.stack([np.stack([w.sum(1), (w * c).sum(1)], 1),
                     np.stack([(w * c).sum(1), (w * c * c).sum(1)], 1)], 1)
    return ll, score, info


#: the slope 1/scale is kept in [1/50, 1000] (a separated sample has no finite maximum)
_BETA = (1.0 / 50.0, 1000.0)


def _fit_many(c, K, N, link, iters=100):
    """Maximum likelihood ``(alpha, beta, loglik, converged)`` for every row of ``K``.

    Newton's method with step halving in ``(alpha, beta)``, where the
    log-likelihood is concave for both links, so the iteration reaches the
    global maximum; rows are fitted together (vectorised) for the bootstrap.
    The linear predictor uses ``c`` centred at its mean (conditioning).
    """
    B = K.shape[0]
    alpha = np.zeros(B)
    beta = np.full(B, 1.0 / max(0.05, 0.25 * float(np.ptp(c))))
    ll, score, info = _loglik(c, K, N, alpha, beta, link)
    done = np.zeros(B, dtype=bool)
    for _ in range(iters):
        act = ~done
        if not act.any():
            break
        det = info[act, 0, 0] * info[act, 1, 1] - info[act, 0, 1] ** 2
        det = np.where(det > 1e-300, det, 1e-300)
        da = (info[act, 1, 1] * score[act, 0] - info[act, 0, 1] * score[act, 1]) / det
        db = (info[act, 0, 0] * score[act, 1] - info[act, 0, 1] * score[act, 0]) / det
        idx = np.flatnonzero(act)
        step = np.ones(idx.size)
        improved = np.zeros(idx.size, dtype=bool)
        for _ in range(40):
            a1 = np.clip(alpha[idx] + step * da, -1e4, 1e4)
            b1 = np.clip(beta[idx] + step * db, *_BETA)
            l1, s1, i1 = _loglik(c, K[idx], N, a1, b1, link)
            ok = (l1 >= ll[idx] - 1e-12) & ~improved
            if ok.any():
                j = idx[ok]
                conv = (np.abs(l1[ok] - ll[j]) < 1e-10) & (np.abs(a1[ok] - alpha[j]) < 1e-9) \
                    & (np.abs(b1[ok] - beta[j]) < 1e-9 * np.maximum(1, beta[j]))
                alpha[j], beta[j], ll[j] = a1[ok], b1[ok], l1[ok]
                score[j], info[j] = s1[ok], i1[ok]
                done[j[conv]] = True
                improved |= ok
            if improved.all():
                break
            step = np.where(improved, step, step / 2)
        done[idx[~improved]] = True          # no ascent step left: at the maximum (or a bound)
    return alpha, beta, ll, done


def _as_fit(link, alpha, beta, ll, conv, cbar, total):
    s = 1.0 / beta
    return TransitionFit(link, float(cbar - alpha / beta), float(s), float(WIDTH_FACTOR[link] * s),
                         float(ll), total, bool(conv))


def fit_transition(c, k, N, link="logit"):
    """Maximum likelihood fit of ``P(c) = F((c - c50) / scale)`` to ``k`` successes of ``N``.

    Parameters
    ----------
    c : array of expansivities; k : successes (injective layers) at each; N : trials.
    link : ``"logit"`` or ``"probit"``.

    Returns
    -------
    TransitionFit; ``c50`` is ``None`` when all observations are equal (no
    transition in the data). Complete separation gives the smallest allowed
    scale (1e-3) and a ``c50`` inside the gap.

    Notes
    -----
    The probability is increasing in ``c`` by assumption (the slope is kept
    positive). The fit is Newton's method in ``z = alpha + beta (c - mean c)``
    (a binomial GLM; its log-likelihood is concave for the logit and probit
    links, so the maximum found is the global one).

    Examples
    --------
    >>> c = [3.0, 4.0, 5.0, 6.0, 7.0]
    >>> N = [1000] * 5
    >>> k = [round(1000 / (1 + math.exp(-(x - 5.0) / 0.5))) for x in c]
    >>> f = fit_transition(c, k, N)
    >>> round(f.c50, 3), round(f.scale, 2)
    (5.0, 0.5)
    """
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; choose from {LINKS}")
    c, k, N = _counts(c, k, N)
    total = int(N.sum())
    if total == 0 or k.sum() == 0 or k.sum() == N.sum():
        return TransitionFit(link, None, None, None, None, total, False)
    cbar = float(np.average(c, weights=N))
    a, b, ll, conv = _fit_many(c - cbar, k[None, :], N, link)
    return _as_fit(link, a[0], b[0], ll[0], conv[0], cbar, total)


def _percentile_ci(values, level):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    a = (1 - level) / 2
    lo, hi = np.quantile(values, [a, 1 - a])
    return [float(lo), float(hi)]


def bootstrap_transition(c, k, N, link="logit", n_resamples=2000, level=0.95, seed=0):
    """The fit of :func:`fit_transition` with stratified bootstrap intervals.

    Each ``c`` is one stratum: its ``N`` layers are resampled with replacement
    (the design, how many layers were drawn at each ``c``, is kept), the
    transition is refitted on every replicate, and the intervals are the
    percentile intervals of the replicates.

    Parameters
    ----------
    c, k, N : as in :func:`fit_transition`.
    n_resamples : bootstrap replicates; level : confidence level; seed : RNG seed.

    Returns
    -------
    dict with ``fit`` (the :class:`TransitionFit` on the data), ``c50_ci``,
    ``width_ci`` (``[lo, hi]`` or ``None``), ``c50_boot`` and ``scale_boot``
    (the replicate values, NaN where a replicate has no transition) and
    ``n_resamples``.

    Notes
    -----
    Resampling ``N`` outcomes of which ``k`` are 1 with replacement gives a
    count distributed exactly Binomial(N, k/N); the replicates are drawn that
    way and refitted together (vectorised Newton steps), which is the
    stratified bootstrap of :func:`scipy.stats.bootstrap` (independent
    samples) at a thousandth of its cost here (it calls the statistic once per
    replicate in Python).

    Examples
    --------
    >>> c = np.arange(3.0, 7.01, 0.5)
    >>> N = np.full(c.size, 80)
    >>> k = np.random.default_rng(1).binomial(N, 1 / (1 + np.exp(-(c - 5.0) / 0.4)))
    >>> b = bootstrap_transition(c, k, N, n_resamples=300)
    >>> b["c50_ci"][0] < 5.0 < b["c50_ci"][1]
    True
    """
    c, k, N = _counts(c, k, N)
    fit = fit_transition(c, k, N, link)
    out = {"fit": fit, "c50_ci": None, "width_ci": None, "c50_boot": np.array([]),
           "scale_boot": np.array([]), "n_resamples": 0}
    if fit.c50 is None:
        return out
    rng = np.random.default_rng(seed)
    K = rng.binomial(N.astype(np.int64)[None, :], (k / N)[None, :],
                     size=(n_resamples, c.size)).astype(float)
    cbar = float(np.average(c, weights=N))
    a, b, _, _ = _fit_many(c - cbar, K, N, link)
    flat = (K.sum(1) == 0) | (K.sum(1) == N.sum())      # no transition in the replicate
    mu = np.where(flat, np.nan, cbar - a / b)
    sc = np.where(flat, np.nan, 1.0 / b)
    out["c50_boot"], out["scale_boot"] = mu, sc
    out["c50_ci"] = _percentile_ci(mu, level)
    out["width_ci"] = _percentile_ci(WIDTH_FACTOR[link] * sc, level)
    out["n_resamples"] = int(n_resamples)
    return out


def _pearson(K, N, P):
    """Pearson chi^2 of the rows of ``K`` against probabilities ``P`` (cells with P in (0, 1))."""
    P = np.clip(P, 1e-12, 1 - 1e-12)
    return np.sum((K - N * P) ** 2 / (N * P * (1 - P)), axis=-1)


def _deviance(K, N, P):
    """Binomial deviance (G statistic) of the rows of ``K`` against ``P``."""
    from scipy.special import xlogy
    P = np.clip(P, 1e-300, 1 - 1e-16)
    return 2 * np.sum(xlogy(K, K / (N * P)) + xlogy(N - K, (N - K) / (N * (1 - P))), axis=-1)


def pearson_test(k, N, p, n_sim=20000, seed=0):
    """Counts ``k`` of ``N`` against known probabilities ``p``: Pearson's
    chi^2 and the deviance (G), each with a Monte-Carlo p-value (counts
    simulated from ``p``), exact up to simulation error even where expected
    counts are small and the chi^2 distribution would be wrong (Pearson's
    statistic is dominated by a rare event in a cell with tiny expected
    count; the deviance much less). Cells with ``p`` in {0, 1} must match
    exactly (else the p-values are 0) and are left out of the statistics.

    Returns ``{"chi2", "pvalue", "deviance", "deviance_pvalue", "cells"}``.

    Examples
    --------
    >>> t = pearson_test([5, 50, 95], [100, 100, 100], [0.05, 0.5, 0.95])
    >>> t["chi2"] == 0.0 and t["pvalue"] == 1.0 and t["deviance_pvalue"] == 1.0
    True
    """
    k, N, p = (np.asarray(v, dtype=float) for v in (k, N, p))
    sure = (p <= 0) | (p >= 1)
    if np.any(k[sure] != np.round(N[sure] * p[sure])):
        return {"chi2": math.inf, "pvalue": 0.0, "deviance": math.inf, "deviance_pvalue": 0.0,
                "cells": int((~sure).sum())}
    k, N, p = k[~sure], N[~sure], p[~sure]
    sim = np.random.default_rng(seed).binomial(N.astype(np.int64), p, size=(n_sim, p.size))
    out = {"cells": int(p.size)}
    for name, stat in (("chi2", _pearson), ("deviance", _deviance)):
        obs = float(stat(k, N, p))
        out[name] = obs
        out["pvalue" if name == "chi2" else "deviance_pvalue"] = \
            float(np.mean(stat(sim, N, p) >= obs - 1e-9))
    return out


def goodness_of_fit(c, k, N, link="logit", n_sim=2000, seed=0):
    """Goodness of fit of :func:`fit_transition`: Pearson chi^2 over the
    ``c`` values, p-value by the parametric bootstrap (counts simulated from
    the fitted curve and the curve refitted on each, so the p-value accounts
    for the two fitted parameters and for small expected counts).

    Returns ``{"chi2", "cells", "pvalue"}`` (``pvalue`` None without a fit).
    """
    c, k, N = _counts(c, k, N)
    fit = fit_transition(c, k, N, link)
    if fit.c50 is None:
        return {"chi2": None, "cells": int(c.size), "pvalue": None}
    P = fit.p(c)
    obs = float(_pearson(k, N, P))
    K = np.random.default_rng(seed).binomial(N.astype(np.int64), P,
                                             size=(n_sim, c.size)).astype(float)
    cbar = float(np.average(c, weights=N))
    a, b, _, _ = _fit_many(c - cbar, K, N, link)
    Pb = link_cdf(a[:, None] + b[:, None] * (c - cbar)[None, :], link)
    return {"chi2": obs, "cells": int(c.size),
            "pvalue": float(np.mean(_pearson(K, N, Pb) >= obs - 1e-9))}


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


def bootstrap_isotonic(c, k, N, n_resamples=2000, level=0.95, seed=0):
    """The model-free 50 % point (:func:`fifty_percent_point` of the frequencies)
    with a stratified bootstrap percentile interval (the same resampling as
    :func:`bootstrap_transition`). Returns ``{"estimate", "ci"}``."""
    c, k, N = _counts(c, k, N)
    est = fifty_percent_point(c, k / N, N) if c.size else None
    if est is None:
        return {"estimate": None, "ci": None}
    K = np.random.default_rng(seed).binomial(N.astype(np.int64)[None, :], (k / N)[None, :],
                                             size=(n_resamples, c.size))
    reps = [fifty_percent_point(c, row / N, N) for row in K]
    reps = np.array([np.nan if v is None else v for v in reps], dtype=float)
    return {"estimate": float(est), "ci": _percentile_ci(reps, level)}


def band(boot, cs, link="logit", level=0.95):
    """Pointwise percentile band of the fitted curve at ``cs`` from the
    replicates of :func:`bootstrap_transition`. Returns ``(lo, hi)`` arrays."""
    mu = np.asarray(boot["c50_boot"], dtype=float)
    s = np.asarray(boot["scale_boot"], dtype=float)
    ok = np.isfinite(mu) & np.isfinite(s)
    cs = np.asarray(cs, dtype=float)
    if not ok.any():
        return np.full(cs.shape, np.nan), np.full(cs.shape, np.nan)
    P = link_cdf((cs[None, :] - mu[ok, None]) / s[ok, None], link)
    a = (1 - level) / 2
    return np.quantile(P, a, axis=0), np.quantile(P, 1 - a, axis=0)


def half_width(ci, estimate):
    """Largest distance from the estimate to an end of the interval (None if undefined)."""
    if ci is None or estimate is None:
        return None
    return max(estimate - ci[0], ci[1] - estimate)


# ---------------------------------------------------------------- extrapolation

def _power(n, cinf, a, gamma):
    return cinf - a * np.power(n, -gamma)


def _poly(n, cinf, a, b):
    return cinf - a / n - b / (n * n)


#: name -> (function of (n, *params), parameter names, start, lower bounds, upper bounds, formula)
FORMS = {
    "power": (_power, ("c_inf", "a", "gamma"), (7.0, 5.0, 0.5),
              (-50.0, -1e3, 0.05), (100.0, 1e3, 4.0), "c50(n) = c_inf - a n^(-gamma)"),
    "poly": (_poly, ("c_inf", "a", "b"), (7.0, 5.0, 0.0),
             (-50.0, -1e3, -1e3), (100.0, 1e3, 1e3), "c50(n) = c_inf - a/n - b/n^2"),
}


def _fit_form(form, ns, ys, sig, p0=None):
    from scipy.optimize import curve_fit
    fn, names, start, lo, hi, _ = FORMS[form]
    p0 = start if p0 is None else np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _ = curve_fit(fn, ns, ys, p0=p0, sigma=sig, absolute_sigma=True,
                         bounds=(lo, hi), maxfev=20000)
    return p


def extrapolate(ns, c50, ci, boot=None, form="power", level=0.95, reference=None,
                max_replicates=1000):
    """Fit ``c50(n)`` to one of :data:`FORMS` by weighted least squares.

    Parameters
    ----------
    ns : the sizes; c50 : the estimates; ci : their ``[lo, hi]`` intervals
        (the weights are ``1/sigma^2`` with ``sigma`` = half the interval / 1.96).
    boot : optional ``(B, len(ns))`` array of bootstrap replicates of the
        ``c50`` (independent across ``n``); each row (the first
        ``max_replicates``) is refitted and the parameter intervals are
        percentiles of the refits.
    form : a key of :data:`FORMS`; level : confidence level.
    reference : optional value (e.g. 6.698) to test against the interval of ``c_inf``.

    Returns
    -------
    dict: ``form``, ``formula``, ``ns``, ``params`` (name -> estimate),
    ``ci`` (name -> ``[lo, hi]``), ``chi2``, ``dof``, ``at_bounds`` (fraction of
    bootstrap refits with a parameter at a bound), and with ``reference``
    ``reference_in_ci`` (bool).

    Examples
    --------
    >>> ns = np.arange(2, 11)
    >>> y = 6.7 - 4.0 * ns ** -0.8
    >>> e = extrapolate(ns, y, [[v - 0.05, v + 0.05] for v in y], form="power")
    >>> round(e["params"]["c_inf"], 3), round(e["params"]["gamma"], 3)
    (6.7, 0.8)
    """
    fn, names, _, lo, hi, formula = FORMS[form]
    ns = np.asarray(ns, dtype=float)
    ys = np.asarray(c50, dtype=float)
    sig = np.array([max(1e-6, (b - a) / (2 * 1.959963984540054)) for a, b in ci])
    if ns.size <= len(names):
        raise ValueError(f"the {form} form has {len(names)} parameters: need more than "
                         f"{len(names)} sizes, got {ns.size}")
    p = _fit_form(form, ns, ys, sig)
    resid = (ys - fn(ns, *p)) / sig
    out = {"form": form, "formula": formula, "ns": [int(v) for v in ns],
           "params": {k: float(v) for k, v in zip(names, p)}, "ci": None,
           "chi2": float(np.sum(resid ** 2)), "dof": int(ns.size - len(names)),
           "at_bounds": None}
    if boot is not None:
        boot = np.asarray(boot, dtype=float)[:max_replicates]
        fits, edge = [], 0
        for row in boot:
            if not np.all(np.isfinite(row)):
                continue
            try:
                q = _fit_form(form, ns, row, sig, p0=p)
            except (RuntimeError, ValueError):
                continue
            fits.append(q)
            edge += bool(np.any(np.isclose(q, lo, rtol=0, atol=1e-6)
                                | np.isclose(q, hi, rtol=0, atol=1e-6)))
        if fits:
            fits = np.array(fits)
            out["ci"] = {k: _percentile_ci(fits[:, j], level) for j, k in enumerate(names)}
            out["at_bounds"] = edge / len(fits)
            out["replicates"] = len(fits)
    if reference is not None and out["ci"]:
        a, b = out["ci"]["c_inf"]
        out["reference"] = float(reference)
        out["reference_in_ci"] = bool(a <= reference <= b)
    return out
