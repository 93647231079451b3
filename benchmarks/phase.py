"""The exact phase transition of P(injective) for Gaussian ReLU layers.

For ``W`` (m x n) with iid N(0, 1) entries, how does the probability that
``x -> ReLU(W x + b)`` is injective depend on ``c = m / n``? Every layer is
decided exactly by :func:`solver.check_layer` (``injective`` with a
certificate, ``not_injective`` with an exact witness, both re-checked in the
worker by the harness); a layer the solver cannot decide in its time limit is
an ``unknown``, counted and reported, never guessed.

Curves (``--phase-curve``):

* ``gauss``: ``b = 0`` (family ``phase``; with the Figure 2 test
  ``dss-mean`` and, on tiny layers, the brute force on the same layers);
* ``bias:S``: the same matrices with ``b = S z``, ``z ~ N(0, I)`` (family
  ``phasebias``);
* ``nonneg``: the same matrices, injectivity on ``x >= 0`` only (Remark 1 of
  Puthawala et al.; :func:`solver.check_layer_nonneg`, family ``phasenonneg``).

Sampling is adaptive (:class:`AdaptiveLadder`): a coarse grid of ``c`` first,
then rounds of layers where the fitted probability is between 0.05 and 0.95,
until the bootstrap interval of the 50 % point is at most ``+-target``.

:func:`summarise` turns rows into the numbers (:mod:`benchmarks.phasefit`:
logistic fit per n, c50 with a 95 % bootstrap interval, width; finite-size
extrapolation; the n = 2 closed form test; the Figure 2 test against the exact
curve; cross-checks between the curves), the ``plot_*`` functions draw them
from the summary alone, and ``python -m benchmarks.phase DIR --out OUT``
writes ``summary.json``, the plots and the compressed rows of a run.

References
----------
M. Puthawala et al., *Globally injective ReLU networks*, JMLR 2022 (Theorem 6:
c* ~ 3.4; c <= 10.5 suffices; Figure 2; Remark 1).
A. Maillard, A. S. Bandeira, D. Belius, I. Dokmanic, S. Nakajima, *Injectivity
of ReLU networks: perspectives from statistical physics*, 2023 (c ~ 6.698).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import pathlib
import sys

import numpy as np

from . import phasefit as F
from .instances import instance_name
from .ladder import Ladder
from .methods import bruteforce_cost
from .report import json_default
from .runner import load_rows
from .papers import (LOWER_BOUND, STATPHYS, UPPER_BOUND, critical_expansivity, p_injective_n2,
                     phase_grid)

DECIDED = ("injective", "not_injective")
#: the committed results of the sweep (relative to the checkout): the notebook, the README table
#: and the tests read ``RESULTS / "summary.json"``
RESULTS = pathlib.PurePosixPath("benchmarks/results/2026-11-27/phase")
#: the markers of the c50 table in README.md (:func:`fill_readme`)
README_MARKERS = ("<!-- phase-table -->", "<!-- /phase-table -->")
#: the adaptive sampler stops a ladder whose last round had more unknowns than this
MAX_UNKNOWN_FRACTION = 0.2


# ================================================================ curves

def parse_curve(text):
    """``"gauss"``, ``"nonneg"`` or ``"bias:S"`` (S > 0) -> a curve dict.

    Raises
    ------
    ValueError on anything else.

    Examples
    --------
    >>> parse_curve("bias:0.5")["family"], parse_curve("bias:0.5")["s"]
    ('phasebias', 0.5)
    """
    text = str(text).strip()
    if text == "gauss":
        return {"name": "gauss", "family": "phase", "decider": "tree", "s": None,
                "c_min": 2.0, "label": "b = 0"}
    if text == "nonneg":
        return {"name": "nonneg", "family": "phasenonneg", "decider": "nonneg", "s": None,
                "c_min": 1.0, "label": "b = 0, on x >= 0"}
    if text.startswith("bias:"):
        try:
            s = float(text[5:])
        except ValueError:
            s = float("nan")
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"bad bias scale in {text!r}: need bias:S with S > 0")
        # the scale is irrelevant to injectivity (x -> t x): kept to demonstrate it
        return {"name": f"bias:{s:g}", "family": "phasebias", "decider": "tree", "s": s,
                "c_min": 2.0, "label": f"b ~ N(0, {s:g}^2)"}
    raise ValueError(f"unknown phase curve {text!r}: gauss, nonneg or bias:S")


def curve_of_row(r):
    """The curve name of a phase row (None for other rows)."""
    fam = r.get("family")
    if fam == "phase":
        return "gauss"
    if fam == "phasenonneg":
        return "nonneg"
    if fam == "phasebias":
        return f"bias:{float(r['bias_scale']):g}"
    return None


def decider_of(curve_name):
    return "nonneg" if curve_name == "nonneg" else "tree"


# ================================================================ plan

QUICK = {"ns": [2, 3, 4], "c_min": None, "c_max": 10.0, "c_step": 1.0, "seeds": 6,
         "ci": 0.5, "max_layers": 150, "min_band": 0, "curves": ["gauss"]}
FULL = {"ns": list(range(2, 9)), "c_min": None, "c_max": 10.0, "c_step": 0.5, "seeds": 8,
        "ci": 0.1, "max_layers": 2500, "min_band": 400, "curves": ["gauss"]}


def settings(cfg):
    """Phase-study settings from a :class:`benchmarks.harness.Config`
    (``cfg.extra["phase_<key>"]`` overrides the defaults; ``c_min`` None:
    each curve's own, 2 for ``b = 0`` and biased layers, 1 on ``x >= 0``)."""
    d = dict(QUICK if cfg.quick else FULL)
    for k in d:
        if cfg.extra.get("phase_" + k) is not None:
            d[k] = cfg.extra["phase_" + k]
    if cfg.max_n is not None:
        d["ns"] = [n for n in d["ns"] if n <= cfg.max_n]
    d["curves"] = [parse_curve(c)["name"] for c in d["curves"]]
    return d


def make_task(curve, n, m, seed, method, time_limit):
    """One harness task of the phase suite."""
    spec = {"family": curve["family"], "n": n, "m": m, "seed": seed}
    if curve["s"] is not None:
        spec["s"] = curve["s"]
    task = {"kind": "layer", "suite": "papers", "family": curve["family"],
            "instance": instance_name(spec), "n": n, "m": m, "seed": seed,
            "ratio": round(m / n, 6), "eps": None, "bias": curve["s"] is not None,
            "method": method, "time_limit": time_limit, "spec": spec}
    if curve["s"] is not None:
        task["row_extra"] = {"bias_scale": curve["s"]}
    return task


def layer_tasks(curve, n, m, seed, time_limit):
    """The tasks of one layer: the curve's decider, and for ``b = 0`` the
    Figure 2 test and (tiny layers) the exact brute force on the same layer."""
    meths = [curve["decider"]]
    if curve["name"] == "gauss":
        meths.append("dss-mean")
    if curve["name"] != "nonneg" and bruteforce_cost(n, m) <= 2500:
        meths.append("bruteforce")
    return [make_task(curve, n, m, seed, meth, time_limit) for meth in meths]


def counts_by_m(rows, decider):
    """``{m: [injective, decided, unknown]}`` over the rows of ``decider``."""
    out = {}
    for r in rows:
        if r["method"] != decider:
            continue
        t = out.setdefault(int(r["m"]), [0, 0, 0])
        if r["verdict"] in DECIDED:
            t[1] += 1
            t[0] += r["verdict"] == "injective"
        else:
            t[2] += 1
    return out


def plan_round(counts, n, target, m_range, max_layers, resamples=400, seed=0, min_band=0):
    """The next round of the adaptive sampler, from the counts so far.

    Parameters
    ----------
    counts : ``{m: [injective, decided, unknown]}``.
    n : the input dimension; target : wanted half-width of the 95 % interval of c50.
    m_range : ``(m_lo, m_hi)``, the rows allowed; max_layers : cap on all layers of this n.
    min_band : do not stop before this many decided layers lie in the band
        (an interval estimated from few layers can be short by chance, and
        stopping on it would keep that chance; the rule guards against it).

    Returns
    -------
    ``(allocation, status)``: ``allocation`` maps ``m`` to the number of new
    layers (empty: stop); ``status`` is a dict with the current fit,
    interval, half-width and the reason for stopping (or None).

    Notes
    -----
    New layers go to every ``m`` whose fitted probability is in [0.05, 0.95]
    (and the two ``m`` around the fitted c50), in proportion to ``p (1 - p)``
    (the information a layer gives about the location of the curve). The
    round size aims at the target assuming the half-width shrinks like
    ``1 / sqrt(layers in the band)``: 60 % of the estimated shortfall, between
    24 and 240 layers.
    """
    ms = sorted(counts)
    c = np.array([m / n for m in ms])
    k = np.array([counts[m][0] for m in ms])
    N = np.array([counts[m][1] for m in ms])
    total = sum(sum(v[1:]) for v in counts.values())
    boot = F.bootstrap_transition(c, k, N, n_resamples=resamples, seed=seed)
    fit = boot["fit"]
    hw = F.half_width(boot["c50_ci"], fit.c50)
    status = {"c50": fit.c50, "ci": boot["c50_ci"], "half_width": hw, "layers": total,
              "stop": None}
    if fit.c50 is None:
        status["stop"] = "no transition in the sampled range (all verdicts equal)"
        return {}, status
    m_lo, m_hi = m_range
    cand = np.arange(m_lo, m_hi + 1)
    p = fit.p(cand / n)
    band = set(cand[(p >= 0.05) & (p <= 0.95)].tolist())
    centre = fit.c50 * n
    band |= {m for m in (math.floor(centre), math.ceil(centre)) if m_lo <= m <= m_hi}
    band = sorted(band)
    in_band = sum(counts.get(m, [0, 0, 0])[1] for m in band)
    status["band_layers"] = in_band
    if hw is not None and hw <= 0.9 * target and in_band >= min_band:
        status["stop"] = "target reached"
        return {}, status
    if total >= max_layers:
        status["stop"] = "layer cap reached"
        return {}, status
    if not band:
        status["stop"] = "the fitted transition lies outside the allowed range"
        return {}, status
    w = np.array([max(0.0475, float(fit.p(m / n)) * (1 - float(fit.p(m / n)))) for m in band])
    ratio = (hw / target) ** 2 if hw is not None else 4.0
    want = int(round(0.6 * max(in_band, 20) * max(ratio - 1.0, 0.25)))
    want = max(want, min_band - in_band)
    size = int(min(max(want, 24), 240, max_layers - total))
    if size <= 0:
        status["stop"] = "layer cap reached"
        return {}, status
    raw = size * w / w.sum()
    alloc = np.floor(raw).astype(int)
    for j in np.argsort(-(raw - alloc))[: size - alloc.sum()]:     # largest remainders
        alloc[j] += 1
    return {m: int(a) for m, a in zip(band, alloc) if a > 0}, status


class AdaptiveLadder(Ladder):
    """One (curve, n) of the phase study: a coarse grid first, then rounds
    from :func:`plan_round` until the interval of c50 meets the target.

    Deterministic given the rows (the bootstrap in :func:`plan_round` is
    seeded), so a resumed run replays the same rounds and reuses the stored
    rows. Seeds at each ``m`` are consecutive from 0.
    """

    def __init__(self, curve, n, st, time_limit):
        self.curve, self.n, self.st, self.tl = curve, n, st, time_limit
        c_min = st["c_min"] if st.get("c_min") is not None else curve["c_min"]
        grid = phase_grid(n, c_min, st["c_max"], st["c_step"])
        self.m_range = (int(round(c_min * n)), int(round(st["c_max"] * n)))
        self.next_seed = {m: 0 for m in grid}
        self.rows = []
        self.log = []
        super().__init__(("papers", curve["name"], n), [self._tasks({m: st["seeds"] for m in grid})],
                         rule="adaptive")

    def _tasks(self, alloc):
        tasks = []
        for m in sorted(alloc):
            s0 = self.next_seed.get(m, 0)
            for seed in range(s0, s0 + alloc[m]):
                tasks += layer_tasks(self.curve, self.n, m, seed, self.tl)
            self.next_seed[m] = s0 + alloc[m]
        return tasks

    def next_rung(self, ri, rows):
        self.rows += rows
        dec = [r for r in rows if r["method"] == self.curve["decider"]]
        unknown = sum(r["verdict"] not in DECIDED for r in dec)
        if dec and unknown > MAX_UNKNOWN_FRACTION * len(dec):
            self.log.append({"round": ri, "stop": f"{unknown} of {len(dec)} unknown"})
            return None
        alloc, status = plan_round(counts_by_m(self.rows, self.curve["decider"]), self.n,
                                   self.st["ci"], self.m_range, self.st["max_layers"],
                                   resamples=1000, seed=ri, min_band=self.st.get("min_band", 0))
        status["round"] = ri
        self.log.append(status)
        return self._tasks(alloc) if alloc else None


def ladders(cfg):
    """The adaptive ladders of the phase study, one per (curve, n)."""
    st = settings(cfg)
    tl = cfg.tl()
    return [AdaptiveLadder(parse_curve(c), n, st, tl) for c in st["curves"] for n in st["ns"]]


# ================================================================ summary

def _n2_block(points, fit_ci):
    """The n = 2, b = 0 data against :func:`benchmarks.papers.p_injective_n2`:
    a binomial test per m, and Pearson's chi^2 over all m with a Monte-Carlo
    p-value (:func:`benchmarks.phasefit.pearson_test`)."""
    from scipy.optimize import brentq
    from scipy.stats import binomtest
    per_m = []
    for p in points:
        m, N, k = p["m"], p["decided"], p["injective"]
        if N == 0:
            continue
        q = float(p_injective_n2(m))
        if q in (0.0, 1.0):                   # a certain outcome: any other is impossible
            pv = 1.0 if k == round(q * N) else 0.0
        else:
            pv = float(binomtest(k, N, q).pvalue)
        per_m.append({"m": m, "c": m / 2, "layers": N, "injective": k,
                      "p_exact": q, "p_exact_fraction": str(p_injective_n2(m)),
                      "frequency": k / N, "binom_pvalue": pv})
    if not per_m:
        return None
    ms = np.array([d["m"] for d in per_m])
    Ns = np.array([d["layers"] for d in per_m], dtype=float)
    qs = np.array([d["p_exact"] for d in per_m])
    test = F.pearson_test([d["injective"] for d in per_m], Ns, qs)
    # the estimand of the logistic fit under this design: the fit to the expected counts
    pop = F.fit_transition(ms / 2, Ns * qs, Ns)
    root = brentq(lambda m: m * (m - 2) / 2 ** (m - 1) - 0.5, 5.0, 12.0)
    return {"formula": "P(injective) = 1 - m (m - 2) / 2^(m - 1) for m >= 4, 0 below",
            "points": per_m, "chi2": test["chi2"], "chi2_cells": test["cells"],
            "chi2_pvalue": test["pvalue"], "deviance": test["deviance"],
            "deviance_pvalue": test["deviance_pvalue"],
            "pvalue_method": "Monte Carlo (20000 draws from the closed form)",
            "min_binom_pvalue": min(d["binom_pvalue"] for d in per_m),
            "min_binom_pvalue_bonferroni": min(1.0, len(per_m) * min(d["binom_pvalue"] for d in per_m)),
            "c50_population_logit": pop.c50,
            "c50_population_in_ci": None if fit_ci is None or pop.c50 is None
            else bool(fit_ci[0] <= pop.c50 <= fit_ci[1]),
            "c50_closed_form_interpolated": root / 2}


def curve_n_summary(rows, n, decider, resamples=2000, seed=0, band_points=61):
    """Everything about one (curve, n): points, logit and probit fits with
    bootstrap intervals, the model-free 50 % point (isotonic regression,
    interpolated) with its interval, goodness of fit, fitted band.
    Returns ``(record, c50_replicates)``."""
    cnt = counts_by_m(rows, decider)
    ms = sorted(cnt)
    points = [{"m": m, "c": round(m / n, 6), "injective": cnt[m][0], "decided": cnt[m][1],
               "unknown": cnt[m][2]} for m in ms]
    c = np.array([m / n for m in ms])
    k = np.array([cnt[m][0] for m in ms])
    N = np.array([cnt[m][1] for m in ms])
    boot = F.bootstrap_transition(c, k, N, "logit", n_resamples=resamples, seed=seed)
    prob = F.bootstrap_transition(c, k, N, "probit", n_resamples=resamples, seed=seed)
    fit = boot["fit"]
    unknown = int(sum(v[2] for v in cnt.values()))
    keep = N > 0
    iso = F.bootstrap_isotonic(c, k, N, n_resamples=resamples, seed=seed)
    verified = sum(r["method"] == decider and r["verdict"] in DECIDED and r.get("verified") is True
                   for r in rows)
    rec = {"estimate": fit.c50, "ci": boot["c50_ci"], "layers": int(N.sum()) + unknown,
           "decided": int(N.sum()), "unknown": unknown, "verified": int(verified),
           "half_width": F.half_width(boot["c50_ci"], fit.c50),
           "width": fit.width, "width_ci": boot["width_ci"], "scale": fit.scale,
           "link": "logit", "resamples": boot["n_resamples"],
           "probit": {"estimate": prob["fit"].c50, "ci": prob["c50_ci"],
                      "width": prob["fit"].width},
           "isotonic": iso, "local": None,
           "unknown_bounds": None, "points": points, "gof": None, "band": None}
    if fit.c50 is not None:
        rec["gof"] = F.goodness_of_fit(c, k, N, "logit", seed=seed)
        # misspecification check: the same fit on the central strata only
        # (fitted P within [0.1, 0.9] of the all-layers fit)
        win = keep & (np.abs(c - fit.c50) <= fit.width / 2)
        if win.sum() >= 3:
            loc = F.bootstrap_transition(c[win], k[win], N[win], "logit",
                                         n_resamples=resamples, seed=seed)
            lo_c, hi_c = float(c[win].min()), float(c[win].max())
            est = loc["fit"].c50
            if est is not None and lo_c <= est <= hi_c:   # else the window cannot place it
                rec["local"] = {"estimate": est, "ci": loc["c50_ci"], "c_window": [lo_c, hi_c],
                                "layers": int(N[win].sum())}
        grid = np.linspace(c.min(), c.max(), band_points)
        lo, hi = F.band(boot, grid)
        rec["band"] = {"c": grid.round(4).tolist(), "p": fit.p(grid).round(5).tolist(),
                       "lo": np.round(lo, 5).tolist(), "hi": np.round(hi, 5).tolist()}
    if unknown:
        # the 50 % point if every unknown were injective / not injective
        u = np.array([cnt[m][2] for m in ms])
        a = F.fit_transition(c, k + u, N + u).c50
        b = F.fit_transition(c, k, N + u).c50
        rec["unknown_bounds"] = {"all_injective": a, "all_not_injective": b}
    return rec, boot["c50_boot"]


def _dss_block(rows):
    """Figure 2's test (DSS w.r.t. x = -mean of the normalised rows) against
    the exact verdict on the same b = 0 layers: where Figure 2 finds a DSS it
    predicts "injective"; it is *wrong* when the layer is not injective.
    (Its "not injective" answers carry verified witnesses: never wrong.)"""
    tree, dss = {}, {}
    for r in rows:
        if r.get("family") != "phase":
            continue
        key = (r["n"], r["m"], r["seed"])
        if r["method"] == "tree" and r["verdict"] in DECIDED:
            tree[key] = r["verdict"]
        elif r["method"] == "dss-mean":
            dss[key] = r["verdict"]
    table = {}
    for key, v in tree.items():
        if key not in dss:
            continue
        n, m, _ = key
        t = table.setdefault((n, m), {"n": n, "m": m, "c": round(m / n, 6), "layers": 0,
                                      "injective": 0, "fig2_dss": 0, "fig2_wrong": 0,
                                      "fig2_refuted": 0})
        t["layers"] += 1
        t["injective"] += v == "injective"
        has = dss[key] != "not_injective"
        t["fig2_dss"] += has
        t["fig2_refuted"] += not has
        t["fig2_wrong"] += has and v == "not_injective"
    pts = [table[k] for k in sorted(table)]
    per_n = {}
    for n in sorted({p["n"] for p in pts}):
        pp = [p for p in pts if p["n"] == n]
        c = np.array([p["c"] for p in pp])
        N = np.array([p["layers"] for p in pp])
        fd = F.fit_transition(c, np.array([p["fig2_dss"] for p in pp]), N)
        fe = F.fit_transition(c, np.array([p["injective"] for p in pp]), N)
        per_n[str(n)] = {"layers": int(N.sum()),
                         "wrong": int(sum(p["fig2_wrong"] for p in pp)),
                         "c50_fig2": fd.c50, "c50_exact": fe.c50}
    bins = {}
    for p in pts:
        b = round(math.floor(p["c"] * 2) / 2, 1)          # c bins of width 0.5
        t = bins.setdefault(b, {"c_bin": [b, b + 0.5], "layers": 0, "fig2_wrong": 0,
                                "not_injective": 0})
        t["layers"] += p["layers"]
        t["fig2_wrong"] += p["fig2_wrong"]
        t["not_injective"] += p["layers"] - p["injective"]
    by_c = []
    for b in sorted(bins):
        t = bins[b]
        t["wrong_fraction"] = t["fig2_wrong"] / t["layers"]
        by_c.append(t)
    total = sum(p["layers"] for p in pts)
    return {"points": pts, "per_n": per_n, "by_c": by_c, "layers": total,
            "wrong": int(sum(p["fig2_wrong"] for p in pts)),
            "meaning": "fig2_dss: a DSS w.r.t. x = -mean exists (Figure 2 predicts injective); "
                       "fig2_wrong: it exists but the layer is not injective"}


def _power_of_two(x):
    m, _ = math.frexp(x)
    return m == 0.5


def _pairs(rows):
    """Exact relations between the curves on the same matrices, checked.

    * injective with ``b = 0`` => injective on ``x >= 0`` (a smaller domain);
    * injective with a bias => injective with ``b = 0`` (at ``t x``, ``t ->
      inf``, the positive rows are those of ``b = 0`` at ``x``);
    * ``(W, t b)`` is injective iff ``(W, b)`` is, for any ``t > 0``
      (``ReLU(W x + t b) = t ReLU(W (x / t) + b)``): the bias *scale* is
      irrelevant. The ``bias:S`` curves share ``z`` (``b = S z``), so their
      verdicts must coincide; exactly so when the ratio of the scales is a
      power of two (then ``S z`` are exact multiples in binary64), and
      almost surely otherwise (rounding of ``S z``).

    Returns ``{"gauss|nonneg": {...}, "gauss|bias:1": {...}, "bias:0.5|bias:1": {...}}``
    with ``pairs``, ``differ``, ``violations`` and up to five ``examples``.
    """
    verdicts = {}
    for r in rows:
        cv = curve_of_row(r)
        if cv is None or r["method"] != decider_of(cv) or r["verdict"] not in DECIDED:
            continue
        verdicts.setdefault((r["n"], r["m"], r["seed"]), {})[cv] = r["verdict"]
    out = {}
    for key, d in verdicts.items():
        names = sorted(d)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                va, vb = d[a], d[b]
                if a == "gauss" or b == "gauss":
                    other, vg = (b, va) if a == "gauss" else (a, vb)
                    vo = d[other]
                    bad = (other == "nonneg" and vg == "injective" and vo == "not_injective") or \
                          (other.startswith("bias:") and vo == "injective" and vg == "not_injective")
                    label = f"gauss|{other}"
                elif a.startswith("bias:") and b.startswith("bias:"):
                    ratio = float(a[5:]) / float(b[5:])
                    bad = va != vb and _power_of_two(ratio)
                    label = f"{a}|{b}"
                else:
                    continue
                t = out.setdefault(label, {"pairs": 0, "differ": 0, "violations": 0,
                                           "examples": []})
                t["pairs"] += 1
                t["differ"] += va != vb
                if bad:
                    t["violations"] += 1
                    if len(t["examples"]) < 5:
                        t["examples"].append(list(key))
    return out


def _extrapolation_data(table, boots, n_min):
    ns = [n for n in sorted(table, key=int) if int(n) >= n_min and table[n]["ci"] is not None]
    if len(ns) < 4:
        return None
    B = min(len(boots[n]) for n in ns)
    boot = np.stack([boots[n][:B] for n in ns], axis=1)
    return ([int(n) for n in ns], [table[n]["estimate"] for n in ns],
            [table[n]["ci"] for n in ns], boot)


def _extrapolation(table, boots, n_min):
    """Both forms of :data:`benchmarks.phasefit.FORMS` on ``c50(n)``, n >= n_min,
    with their sensitivity to the largest and the smallest n used."""
    data = _extrapolation_data(table, boots, n_min)
    if data is None:
        return {"note": f"needs at least 4 sizes with intervals (n >= {n_min})"}
    x, y, ci, boot = data
    out = {"n_min": n_min, "ns": x, "statphys": STATPHYS}
    for form in F.FORMS:
        out[form] = F.extrapolate(x, y, ci, boot, form, reference=STATPHYS)
    by_max = []
    for j in range(4, len(x) + 1):
        e = {"max_n": x[j - 1]}
        for form in F.FORMS:
            r = F.extrapolate(x[:j], y[:j], ci[:j], boot[:, :j], form, reference=STATPHYS,
                              max_replicates=400)
            e[form] = {"c_inf": r["params"]["c_inf"], "ci": (r["ci"] or {}).get("c_inf"),
                       "statphys_in_ci": r.get("reference_in_ci")}
        by_max.append(e)
    out["by_max_n"] = by_max
    by_min = []
    for lo in sorted({2, 3, 4} - {n_min}):
        d = _extrapolation_data(table, boots, lo)
        if d is None:
            continue
        e = {"n_min": lo, "ns": d[0]}
        for form in F.FORMS:
            r = F.extrapolate(d[0], d[1], d[2], d[3], form, reference=STATPHYS,
                              max_replicates=400)
            e[form] = {"c_inf": r["params"]["c_inf"], "ci": (r["ci"] or {}).get("c_inf"),
                       "chi2": r["chi2"], "dof": r["dof"]}
        by_min.append(e)
    out["by_min_n"] = by_min
    verdicts = [out[f].get("reference_in_ci") for f in F.FORMS]
    cis = "; ".join(f"{f}: c_inf = {out[f]['params']['c_inf']:.2f}, 95 % CI "
                    + ("-" if not out[f]["ci"] else
                       f"[{out[f]['ci']['c_inf'][0]:.2f}, {out[f]['ci']['c_inf'][1]:.2f}]")
                    for f in F.FORMS)
    if all(v is True for v in verdicts):
        head = f"consistent with {STATPHYS} (inside the 95 % interval of c_inf for both forms)"
    elif all(v is False for v in verdicts):
        head = f"not consistent with {STATPHYS} (outside the 95 % interval of c_inf for both forms)"
    else:
        head = (f"inconclusive: {STATPHYS} is inside the 95 % interval of c_inf for one form and "
                "outside for the other")
    out["statement"] = f"{head}; n = {x[0]}..{x[-1]}; {cis}"
    out["consistent_with_statphys"] = {f: out[f].get("reference_in_ci") for f in F.FORMS}
    return out


def summarise(rows, resamples=2000, seed=0, n_min=3, target=0.1):
    """The summary of the phase rows (JSON-ready; keys ``n`` are strings).

    Returns
    -------
    dict with ``c50`` (the b = 0 curve: ``{"2": {"estimate", "ci", "layers",
    "unknown", ...}, ...}``), ``extrapolation``, ``curves`` (every curve,
    same records), ``n2`` (the closed form test), ``dss`` (Figure 2 against
    the exact curve), ``cross_checks``, ``target`` and ``constants``.
    """
    byc = {}
    for r in rows:
        cv = curve_of_row(r)
        if cv is not None:
            byc.setdefault(cv, []).append(r)
    curves, boots = {}, {}
    for cv in sorted(byc):
        recs = {}
        for n in sorted({r["n"] for r in byc[cv]}):
            rn = [r for r in byc[cv] if r["n"] == n]
            rec, b = curve_n_summary(rn, n, decider_of(cv), resamples=resamples, seed=seed + n)
            rec["target_met"] = rec["half_width"] is not None and rec["half_width"] <= target
            recs[str(n)] = rec
            if cv == "gauss":
                boots[str(n)] = b
        curves[cv] = recs
    gauss = curves.get("gauss", {})
    out = {"target_half_width": target, "rows": len(rows),
           "constants": {"c_star": critical_expansivity(), "lower_bound": LOWER_BOUND,
                         "statphys": STATPHYS, "upper_bound": UPPER_BOUND},
           "c50": {n: {k: v for k, v in rec.items() if k not in ("points", "band")}
                   for n, rec in gauss.items()},
           "extrapolation": _extrapolation(gauss, boots, n_min) if gauss else {},
           "curves": curves,
           "unknown_total": int(sum(rec["unknown"] for cr in curves.values()
                                    for rec in cr.values()))}
    if "2" in gauss:
        out["n2"] = _n2_block(gauss["2"]["points"], gauss["2"]["ci"])
    if gauss:
        out["dss"] = _dss_block(byc["gauss"])
    out["cross_checks"] = _pairs(rows)
    out["bias_bounds"] = _bias_bounds(curves)
    return out


def _bias_bounds(curves):
    """For every biased curve: ``c50_gauss(n) <= c50_bias(n) <= (n+1)/n c50_gauss(n+1)``.

    A biased layer ``x -> ReLU(W x + b)`` is the homogeneous layer ``y ->
    ReLU([W b] y)`` on R^(n+1) restricted to ``y_(n+1) = 1``, so it is
    injective when that one is; and it is injective only if ``ReLU(W x)``
    is (:func:`_pairs`). With ``b ~ N(0, s^2)`` and, by scale invariance,
    ``s = 1`` without loss, ``[W b]`` is an m x (n+1) Gaussian matrix:
    ``P_gauss(n+1, m) <= P_bias(n, m) <= P_gauss(n, m)`` for every m, so the
    50 % points in m are ordered the same way; both bounds tend to the same
    limit, and a bias cannot move the asymptotic threshold.
    """
    gauss = curves.get("gauss", {})
    out = {}
    for cv, recs in curves.items():
        if not cv.startswith("bias:"):
            continue
        rows = []
        for n, r in sorted(recs.items(), key=lambda kv: int(kv[0])):
            lo, up = gauss.get(n), gauss.get(str(int(n) + 1))
            if r["estimate"] is None or lo is None or lo["estimate"] is None:
                continue
            e = {"n": int(n), "c50_bias": r["estimate"], "ci": r["ci"],
                 "lower": lo["estimate"], "lower_ci": lo["ci"], "upper": None, "upper_ci": None}
            f = (int(n) + 1) / int(n)
            if up is not None and up["estimate"] is not None:
                e["upper"] = f * up["estimate"]
                e["upper_ci"] = [f * v for v in up["ci"]] if up["ci"] else None
            # consistent: the intervals allow lower <= bias <= upper
            ok = r["ci"] is None or lo["ci"] is None or lo["ci"][0] <= r["ci"][1]
            if e["upper_ci"] and r["ci"]:
                ok = ok and r["ci"][0] <= e["upper_ci"][1]
            e["consistent"] = bool(ok)
            rows.append(e)
        out[cv] = rows
    return out


def problems(summary):
    """Violated exact implications between curves (each is a soundness bug)."""
    return [{"kind": "phase cross-check", "curves": cv, **t}
            for cv, t in (summary.get("cross_checks") or {}).items() if t["violations"]]


def _fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def table_text(summary):
    """The c50 table (and the rest) as text."""
    lines = []
    for cv, recs in summary.get("curves", {}).items():
        lines.append(f"Exact phase transition, curve {cv}: 50 % point of P(injective), logistic "
                     "fit, 95 % stratified bootstrap interval")
        unver = sum(r["decided"] - r.get("verified", r["decided"]) for r in recs.values())
        lines.append(f"  every decided layer's certificate / witness verified: "
                     f"{'yes' if unver == 0 else f'NO ({unver} not verified)'}")
        lines.append(f"  {'n':>3s} {'c50':>6s} {'95% CI':>15s} {'+-':>5s} {'width':>6s} "
                     f"{'probit':>6s} {'local':>6s} {'isoton':>6s} {'layers':>6s} {'unk':>4s} "
                     f"{'gof p':>6s}")
        for n, r in sorted(recs.items(), key=lambda kv: int(kv[0])):
            ci = "-" if r["ci"] is None else f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
            gp = (r.get("gof") or {}).get("pvalue")
            lines.append(f"  {n:>3s} {_fmt(r['estimate']):>6s} {ci:>15s} "
                         f"{_fmt(r['half_width']):>5s} {_fmt(r['width']):>6s} "
                         f"{_fmt(r['probit']['estimate']):>6s} "
                         f"{_fmt((r.get('local') or {}).get('estimate')):>6s} "
                         f"{_fmt(r['isotonic']['estimate']):>6s} "
                         f"{r['layers']:6d} {r['unknown']:4d} {_fmt(gp, 3):>6s}"
                         + ("" if r.get("target_met", True) else "  (target not met)"))
    ex = summary.get("extrapolation") or {}
    for form in F.FORMS:
        e = ex.get(form)
        if not e:
            continue
        ci = (e.get("ci") or {}).get("c_inf")
        lines.append(f"Extrapolation {e['formula']} (n = {e['ns'][0]}..{e['ns'][-1]}): c_inf = "
                     f"{e['params']['c_inf']:.2f}, 95 % CI "
                     f"{'-' if ci is None else f'[{ci[0]:.2f}, {ci[1]:.2f}]'}, "
                     f"chi2 = {e['chi2']:.1f} / {e['dof']} dof")
    if ex.get("by_max_n"):
        lines.append("  c_inf against the largest n used: " + "; ".join(
            f"n<={d['max_n']}: " + ", ".join(
                f"{f} {d[f]['c_inf']:.2f}" + (f" [{d[f]['ci'][0]:.1f}, {d[f]['ci'][1]:.1f}]"
                                              if d[f]['ci'] else "") for f in F.FORMS)
            for d in ex["by_max_n"]))
    for d in ex.get("by_min_n") or []:
        lines.append(f"  with n >= {d['n_min']}: " + ", ".join(
            f"{f} c_inf {d[f]['c_inf']:.2f}" + (f" [{d[f]['ci'][0]:.2f}, {d[f]['ci'][1]:.2f}]"
                                               if d[f]['ci'] else "")
            + f" (chi2 {d[f]['chi2']:.1f} / {d[f]['dof']})" for f in F.FORMS))
    if ex.get("statement"):
        lines.append(f"  6.698: {ex['statement']}")
    n2 = summary.get("n2")
    if n2:
        lines.append(f"n = 2 closed form {n2['formula']}: over {n2['chi2_cells']} values of m, "
                     f"deviance {n2['deviance']:.1f} (Monte-Carlo p = "
                     f"{_fmt(n2['deviance_pvalue'], 3)}), Pearson chi2 {n2['chi2']:.1f} (p = "
                     f"{_fmt(n2['chi2_pvalue'], 3)}), smallest binomial p = "
                     f"{_fmt(n2['min_binom_pvalue'], 3)} (Bonferroni: {_fmt(n2['min_binom_pvalue_bonferroni'], 3)})")
        lines.append(f"  logistic c50 under the same design from the exact curve: "
                     f"{_fmt(n2['c50_population_logit'], 3)} (in the data's CI: "
                     f"{n2['c50_population_in_ci']}); the exact curve crosses 1/2 at c = "
                     f"{_fmt(n2['c50_closed_form_interpolated'], 3)}")
    for cv, bb in (summary.get("bias_bounds") or {}).items():
        if bb:
            lines.append(f"Bias sandwich c50_gauss(n) <= c50_{cv}(n) <= (n+1)/n c50_gauss(n+1): " +
                         "; ".join(f"n={e['n']}: {e['lower']:.2f} <= {e['c50_bias']:.2f} <= "
                                   f"{_fmt(e['upper'])}" + ("" if e["consistent"] else " (!)")
                                   for e in bb))
    d = summary.get("dss")
    if d:
        lines.append(f"Figure 2 test (DSS at x = -mean) against the exact verdicts: wrong on "
                     f"{d['wrong']} of {d['layers']} layers (predicts injective, is not)")
    for cv, t in (summary.get("cross_checks") or {}).items():
        lines.append(f"Cross-check {cv}: {t['pairs']} paired layers, verdicts differ on "
                     f"{t['differ']}, violated relations {t['violations']}")
    return "\n".join(lines)


def markdown_table(summary, curve="gauss"):
    """The c50 table of one curve in Markdown (for the README)."""
    recs = summary["curves"].get(curve, {})
    target = summary.get("target_half_width")
    out = ["| n | c50 (logistic) | 95 % CI | ± | 10-90 % width | probit | isotonic (95 % CI) "
           "| layers | unknown |", "|---|---|---|---|---|---|---|---|---|"]
    for n, r in sorted(recs.items(), key=lambda kv: int(kv[0])):
        ci = "-" if r["ci"] is None else f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
        iso = r["isotonic"]
        isos = _fmt(iso["estimate"]) + ("" if not iso["ci"] else
                                        f" [{iso['ci'][0]:.2f}, {iso['ci'][1]:.2f}]")
        hw = _fmt(r["half_width"]) + ("" if r.get("target_met", True) else
                                      f" (**target ±{target:g} not met**)")
        out.append(f"| {n} | {_fmt(r['estimate'])} | {ci} | {hw} | {_fmt(r['width'])} | "
                   f"{_fmt(r['probit']['estimate'])} | {isos} | {r['layers']} | {r['unknown']} |")
    return "\n".join(out)


def fill_readme(path, summary, curve="gauss"):
    """Replace the text between :data:`README_MARKERS` in ``path`` by
    :func:`markdown_table` of ``summary``; returns True if the file changed.

    Raises
    ------
    ValueError
        If the file does not hold both markers, in order.
    """
    path = pathlib.Path(path)
    text = path.read_text()
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"{path}: no {start} ... {end} block")
    new = text[:i + len(start)] + "\n\n" + markdown_table(summary, curve) + "\n\n" + text[j:]
    if new != text:
        path.write_text(new)
    return new != text


def readme_table(path):
    """The text between :data:`README_MARKERS` in ``path``, stripped (None without markers)."""
    text = pathlib.Path(path).read_text()
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    return None if i < 0 or j < i else text[i + len(start):j].strip()


# ================================================================ plots

def _plt():
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _finish(fig, path):
    if path is None:
        return fig
    plt = _plt()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _reference_lines(ax, vertical=True):
    for c, lab, ls in ((critical_expansivity(), "3.4 (Thm 6, lower bound)", "--"),
                       (STATPHYS, "6.698 (statistical physics)", ":"),
                       (UPPER_BOUND, "10.5 (upper bound)", "-.")):
        (ax.axvline if vertical else ax.axhline)(c, color="k", ls=ls, lw=1, label=lab)


def _wilson(k, N, z=1.96):
    if N == 0:
        return (np.nan, np.nan)
    p = k / N
    d = 1 + z * z / N
    mid = (p + z * z / (2 * N)) / d
    h = z * math.sqrt(p * (1 - p) / N + z * z / (4 * N * N)) / d
    return mid - h, mid + h


def plot_transition(summary, curve="gauss", path=None, ns=None):
    """P(injective) against c per n: exact frequencies (95 % Wilson bars),
    the fitted logistic curve and its 95 % bootstrap band, the n = 2 closed
    form, and the lines 3.4 / 6.698 / 10.5."""
    plt = _plt()
    recs = summary["curves"][curve]
    ns = sorted((int(n) for n in recs), key=int) if ns is None else ns
    fig, ax = plt.subplots(figsize=(8.5, 5))
    cmap = plt.get_cmap("viridis")
    for j, n in enumerate(ns):
        r = recs[str(n)]
        col = cmap(j / max(1, len(ns) - 1))
        pts = [p for p in r["points"] if p["decided"]]
        cs = np.array([p["c"] for p in pts])
        fr = np.array([p["injective"] / p["decided"] for p in pts])
        wl = np.array([_wilson(p["injective"], p["decided"]) for p in pts])
        ax.errorbar(cs, fr, yerr=[np.maximum(0, fr - wl[:, 0]), np.maximum(0, wl[:, 1] - fr)],
                    fmt="o", ms=2.5, lw=0.6, color=col, alpha=0.8)
        if r.get("band"):
            b = r["band"]
            ax.plot(b["c"], b["p"], "-", color=col, lw=1.3,
                    label=f"n = {n}: c50 = {_fmt(r['estimate'])} [{_fmt(r['ci'][0])}, "
                          f"{_fmt(r['ci'][1])}]")
            ax.fill_between(b["c"], b["lo"], b["hi"], color=col, alpha=0.2, lw=0)
    if curve == "gauss" and 2 in ns:
        ms = np.arange(4, 25)
        ax.plot(ms / 2, [float(p_injective_n2(m)) for m in ms], "x--", color="tab:red", ms=5,
                lw=0.8, label="n = 2 closed form 1 - m(m-2)/2^(m-1)")
    _reference_lines(ax)
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("c = m / n")
    ax.set_ylabel("P(injective)  (exact verdicts)")
    ax.set_ylim(-0.02, 1.02)
    label = {"gauss": "b = 0", "nonneg": "b = 0, injective on x >= 0"}.get(curve, curve)
    ax.set_title(f"Gaussian ReLU layers ({label}): P(injective) with logistic fits, 95 % bands")
    ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    return _finish(fig, path)


def plot_c50(summary, path=None, n_max_plot=300):
    """c50 against n with 95 % intervals (every curve), the finite-size
    extrapolations of the b = 0 curve, their ``c_inf`` with its 95 %
    interval drawn at the right edge, and the lines 3.4 / 6.698 / 10.5
    (log scale in n)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 5))
    marks = {"gauss": "o", "nonneg": "s"}
    for j, (cv, recs) in enumerate(sorted(summary["curves"].items())):
        ns = sorted((int(n) for n in recs if recs[n]["estimate"] is not None))
        if not ns:
            continue
        y = np.array([recs[str(n)]["estimate"] for n in ns])
        lo = np.array([recs[str(n)]["ci"][0] for n in ns])
        hi = np.array([recs[str(n)]["ci"][1] for n in ns])
        ax.errorbar(np.array(ns) * (1 + 0.015 * j), y, yerr=[y - lo, hi - y],
                    fmt=marks.get(cv, "^"), ms=4, capsize=2, label=f"c50(n), {cv}",
                    alpha=1.0 if cv == "gauss" else 0.6)
    ex = summary.get("extrapolation") or {}
    for k, (form, col) in enumerate(zip(F.FORMS, ("tab:red", "tab:purple"))):
        e = ex.get(form)
        if not e:
            continue
        xs = np.geomspace(e["ns"][0], n_max_plot, 200)
        fn = F.FORMS[form][0]
        ci = (e.get("ci") or {}).get("c_inf")
        ax.plot(xs, fn(xs, *e["params"].values()), "-", color=col, lw=1,
                label=f"{e['formula']} (n >= {e['ns'][0]}): c_inf = {e['params']['c_inf']:.2f}"
                      + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
        if ci:
            x = n_max_plot * (1.25 + 0.2 * k)
            c0 = e["params"]["c_inf"]
            ax.errorbar([x], [c0], yerr=[[c0 - ci[0]], [max(0.0, ci[1] - c0)]], fmt="D",
                        color=col, ms=4, capsize=3)
    _reference_lines(ax, vertical=False)
    ax.set_xscale("log")
    ax.set_ylim(3.0, 12.0)
    ax.set_xlabel("n (log); diamonds at the right: c_inf with its 95 % interval (clipped)")
    ax.set_ylabel("c50(n): 50 % point of P(injective)")
    ax.set_title("Finite-size 50 % points (95 % CI) and their extrapolation")
    ax.legend(fontsize=6.5, loc="upper left")
    fig.tight_layout()
    return _finish(fig, path)


def plot_dss(summary, path=None):
    """Figure 2's test against the exact curve on the same layers: left, the
    exact P(injective) and Figure 2's P(DSS w.r.t. -mean) per n; right, the
    fraction of layers where Figure 2 predicts injective wrongly, by c."""
    plt = _plt()
    d = summary["dss"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ns = sorted({p["n"] for p in d["points"]})
    cmap = plt.get_cmap("viridis")
    for j, n in enumerate(ns):
        pp = [p for p in d["points"] if p["n"] == n and p["layers"] >= 10]
        col = cmap(j / max(1, len(ns) - 1))
        c = [p["c"] for p in pp]
        a1.plot(c, [p["injective"] / p["layers"] for p in pp], "o-", color=col, ms=2, lw=1,
                label=f"n = {n} exact")
        a1.plot(c, [p["fig2_dss"] / p["layers"] for p in pp], "x:", color=col, ms=3, lw=1)
    a1.plot([], [], "kx:", label="Figure 2: P(DSS w.r.t. -mean)")
    a1.axvline(critical_expansivity(), color="r", lw=0.8, ls="--")
    a1.set_xlabel("c = m / n  (points with >= 10 layers)")
    a1.set_ylabel("probability")
    a1.legend(fontsize=6.5)
    for j, n in enumerate(ns):
        pp = [p for p in d["points"] if p["n"] == n and p["layers"] >= 10]
        a2.plot([p["c"] for p in pp], [p["fig2_wrong"] / p["layers"] for p in pp], "o-",
                color=cmap(j / max(1, len(ns) - 1)), ms=2, lw=1, label=f"n = {n}")
    a2.axvline(critical_expansivity(), color="r", lw=0.8, ls="--")
    a2.set_xlabel("c = m / n  (points with >= 10 layers)")
    a2.set_ylabel("fraction of layers: DSS at -mean but not injective")
    a2.legend(fontsize=6.5)
    a2.set_title(f"Figure 2 wrong on {d['wrong']} of {d['layers']} layers")
    fig.suptitle("Figure 2's DSS-at-the-mean test against exact injectivity (same layers)")
    fig.tight_layout()
    return _finish(fig, path)


def _main_curves(summary):
    """The curves to draw side by side: gauss, nonneg and the biased curve with
    the most layers (the other bias scales give the same verdicts: scale check)."""
    curves = summary["curves"]
    bias = [cv for cv in curves if cv.startswith("bias:")]
    best = max(bias, key=lambda cv: sum(r["layers"] for r in curves[cv].values()), default=None)
    return [cv for cv in ("gauss", best, "nonneg") if cv in curves]


def plot_variants(summary, path=None):
    """The new curves: c50(n) per curve (b = 0, biased, x >= 0), with the
    bias sandwich's upper bound (n+1)/n c50_gauss(n+1), and at the largest n
    they share, the fitted P(injective) curves with their bands."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    curves = summary["curves"]
    names = _main_curves(summary)
    common = set.intersection(*[{int(n) for n in curves[cv]} for cv in names]) if names else set()
    for cv in names:
        recs = curves[cv]
        ns = sorted(int(n) for n in recs if recs[n]["estimate"] is not None)
        y = [recs[str(n)]["estimate"] for n in ns]
        lo = [recs[str(n)]["estimate"] - recs[str(n)]["ci"][0] for n in ns]
        hi = [recs[str(n)]["ci"][1] - recs[str(n)]["estimate"] for n in ns]
        (line, *_) = a1.errorbar(ns, y, yerr=[lo, hi], fmt="o-", ms=3, capsize=2, lw=1,
                                 label=cv)
        if common:
            r = recs[str(max(common))]
            if r.get("band"):
                b = r["band"]
                a2.plot(b["c"], b["p"], "-", lw=1.3, label=cv, color=line.get_color())
                a2.fill_between(b["c"], b["lo"], b["hi"], color=line.get_color(), alpha=0.2)
        bb = (summary.get("bias_bounds") or {}).get(cv)
        if bb:
            up = [(e["n"], e["upper"]) for e in bb if e["upper"] is not None]
            if up:
                a1.plot(*zip(*up), "--", color=line.get_color(), lw=0.8,
                        label=f"{cv}: upper bound (n+1)/n c50_gauss(n+1)")
    a1.set_xlabel("n")
    a1.set_ylabel("c50(n) with 95 % CI")
    a1.legend(fontsize=7)
    if common:
        a2.set_title(f"n = {max(common)}")
    a2.axhline(0.5, color="grey", lw=0.5)
    a2.set_xlabel("c = m / n")
    a2.set_ylabel("fitted P(injective)")
    a2.legend(fontsize=7)
    fig.suptitle("New curves: biased layers b ~ N(0, s^2) (any s: same verdicts) and "
                 "injectivity on x >= 0")
    fig.tight_layout()
    return _finish(fig, path)


def write_plots(summary, out):
    """All phase plots into ``out``; returns the file names written."""
    out = pathlib.Path(out)
    made = []
    if "gauss" in summary["curves"]:
        plot_transition(summary, "gauss", out / "phase_transition.png")
        made.append("phase_transition.png")
        plot_c50(summary, out / "phase_c50_vs_n.png")
        made.append("phase_c50_vs_n.png")
    if summary.get("dss") and summary["dss"]["points"]:
        plot_dss(summary, out / "phase_dss_vs_exact.png")
        made.append("phase_dss_vs_exact.png")
    others = [cv for cv in _main_curves(summary) if cv != "gauss"]
    if others:
        plot_variants(summary, out / "phase_variants.png")
        made.append("phase_variants.png")
        for cv in others:
            name = f"phase_transition_{cv.replace(':', '')}.png"
            plot_transition(summary, cv, out / name)
            made.append(name)
    return made


# ================================================================ report

def _slim(row):
    """A row for the compressed raw rows: null fields dropped, timings rounded
    to 0.1 ms (the digits below are noise, and they are most of the bytes)."""
    from .methods import TIMING_KEYS
    return {k: (round(v, 4) if k in TIMING_KEYS and isinstance(v, float) else v)
            for k, v in row.items() if v is not None}


def read_rows(source):
    """The rows of a run directory (``DIR/rows.jsonl``), a ``rows.jsonl`` file, or a
    ``rows.jsonl.gz`` written by :func:`report`."""
    from .runner import ROWS_FILE
    source = pathlib.Path(source)
    if source.is_dir():
        source = source / ROWS_FILE
    if source.suffix == ".gz":
        with gzip.open(source, "rt") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    return load_rows(source)


def report(source, out, resamples=2000, n_min=3, target=0.1):
    """Read the rows of ``source`` (:func:`read_rows`), write ``out/summary.json``,
    ``out/table.txt`` (:func:`table_text`), the plots and ``out/rows.jsonl.gz``
    (the phase rows, :func:`_slim`). Returns the summary."""
    rows = [r for r in read_rows(source) if curve_of_row(r)]
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(rows, resamples=resamples, n_min=n_min, target=target)
    summary["plots"] = write_plots(summary, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=json_default))
    (out / "table.txt").write_text(table_text(summary) + "\n")
    rows.sort(key=lambda r: (r["family"], r.get("bias_scale") or 0, r["n"], r["m"], r["seed"],
                             r["method"]))
    with gzip.open(out / "rows.jsonl.gz", "wt", compresslevel=9) as fh:
        for r in rows:
            fh.write(json.dumps(_slim(r), default=json_default) + "\n")
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.phase",
                                 description="Summarise the phase-transition rows of a bench run "
                                             "(DIR/rows.jsonl, or a rows.jsonl[.gz] file): "
                                             "summary.json, plots, rows.jsonl.gz")
    ap.add_argument("run_dir", metavar="DIR|FILE")
    ap.add_argument("--out", required=True, metavar="OUT")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--n-min", type=int, default=3, help="smallest n in the extrapolation")
    ap.add_argument("--target", type=float, default=0.1, help="wanted half-width of the c50 CI")
    ap.add_argument("--readme", metavar="FILE",
                    help="also write the c50 table into FILE between "
                         f"{README_MARKERS[0]} and {README_MARKERS[1]}")
    a = ap.parse_args(argv)
    try:
        s = report(a.run_dir, a.out, a.resamples, a.n_min, a.target)
        if a.readme:
            fill_readme(a.readme, s)
    except (OSError, ValueError) as exc:
        print(f"benchmarks.phase: error: {exc}", file=sys.stderr)
        return 2
    print(table_text(s))
    bad = problems(s)
    for p in bad:
        print("!!! " + json.dumps(p), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
