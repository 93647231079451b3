"""Exact relations between the curves of the phase study, checked on the
rows (:func:`cross_checks`: the same matrices under b = 0, a bias, x >= 0)
and on the 50 % points (:func:`bias_bounds`: the bias sandwich). A violated
relation is a soundness bug (:func:`benchmarks.phase.problems`)."""
from __future__ import annotations

import math

from .curves import DECIDED, curve_of_row, decider_of

__all__ = ["cross_checks", "bias_bounds"]


def _power_of_two(x):
    m, _ = math.frexp(x)
    return m == 0.5


def cross_checks(rows):
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


def bias_bounds(curves):
    """For every biased curve: ``c50_gauss(n) <= c50_bias(n) <= (n+1)/n c50_gauss(n+1)``.

    A biased layer ``x -> ReLU(W x + b)`` is the homogeneous layer ``y ->
    ReLU([W b] y)`` on R^(n+1) restricted to ``y_(n+1) = 1``, so it is
    injective when that one is; and it is injective only if ``ReLU(W x)``
    is (:func:`cross_checks`). With ``b ~ N(0, s^2)`` and, by scale invariance,
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
