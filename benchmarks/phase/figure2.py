"""Figure 2's test of Puthawala et al. (a DSS w.r.t. x = -mean of the
normalised rows) against the exact verdicts on the same b = 0 layers."""
from __future__ import annotations

import math

import numpy as np

from .. import phasefit as F
from .curves import DECIDED

__all__ = ["dss_block"]


def dss_block(rows):
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
