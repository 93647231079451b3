"""The summary of the phase rows (:func:`summarise`): per (curve, n) the
logistic and probit fits with bootstrap intervals (:func:`curve_n_summary`),
then the extrapolation, the n = 2 closed form, Figure 2's test and the
cross-checks between curves (:func:`problems`: the violated ones)."""
from __future__ import annotations

import numpy as np

from .. import phasefit as F
from ..papers import LOWER_BOUND, STATPHYS, UPPER_BOUND, critical_expansivity
from .closedform import n2_block
from .crosschecks import bias_bounds, cross_checks
from .curves import DECIDED, curve_of_row, decider_of
from .extrapolation import extrapolation
from .figure2 import dss_block
from .sampler import counts_by_m

__all__ = ["curve_n_summary", "summarise", "problems"]


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
           "extrapolation": extrapolation(gauss, boots, n_min) if gauss else {},
           "curves": curves,
           "unknown_total": int(sum(rec["unknown"] for cr in curves.values()
                                    for rec in cr.values()))}
    if "2" in gauss:
        out["n2"] = n2_block(gauss["2"]["points"], gauss["2"]["ci"])
    if gauss:
        out["dss"] = dss_block(byc["gauss"])
    out["cross_checks"] = cross_checks(rows)
    out["bias_bounds"] = bias_bounds(curves)
    return out


def problems(summary):
    """Violated exact implications between curves (each is a soundness bug)."""
    return [{"kind": "phase cross-check", "curves": cv, **t}
            for cv, t in (summary.get("cross_checks") or {}).items() if t["violations"]]
