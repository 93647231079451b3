"""The finite-size extrapolation of c50(n) (both forms of
:data:`benchmarks.phasefit.FORMS`) with its sensitivity to the range of n,
against the statistical-physics value."""
from __future__ import annotations

import numpy as np

from .. import phasefit as F
from ..papers import STATPHYS

__all__ = ["extrapolation"]


def _extrapolation_data(table, boots, n_min):
    ns = [n for n in sorted(table, key=int) if int(n) >= n_min and table[n]["ci"] is not None]
    if len(ns) < 4:
        return None
    B = min(len(boots[n]) for n in ns)
    boot = np.stack([boots[n][:B] for n in ns], axis=1)
    return ([int(n) for n in ns], [table[n]["estimate"] for n in ns],
            [table[n]["ci"] for n in ns], boot)


def extrapolation(table, boots, n_min):
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
