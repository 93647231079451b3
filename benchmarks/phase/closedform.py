"""The n = 2 test of the phase study: the frequencies of the b = 0 curve at
n = 2 against the closed form :func:`benchmarks.papers.p_injective_n2`."""
from __future__ import annotations

import numpy as np

from .. import phasefit as F
from ..papers import p_injective_n2

__all__ = ["n2_block"]


def n2_block(points, fit_ci):
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
