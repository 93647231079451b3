"""Analysis of the rows: largest decided sizes, speed-ups, targets, the
summary (:func:`summarise`) and the text report (:func:`report_text`);
:func:`json_default` writes numpy values into ``results.json``."""
from __future__ import annotations

import json
import statistics

import numpy as np

from .inversion_suite import inversion_details, inversion_ratios, inversion_table
from .methods import DECIDED

__all__ = ["largest_decided", "speedups", "speedup_at_largest", "TARGETS", "targets",
           "speedup_by_size", "summarise", "report_text", "json_default"]


def largest_decided(rows):
    """Per (family, ratio, eps, method): the largest n at which at least half
    of the seeds were decided, with the median seconds there."""
    groups = {}
    for r in rows:
        if r["suite"] != "layers":
            continue
        groups.setdefault((r["family"], r["ratio"], r["eps"], r["method"], r["n"]), []).append(r)
    best = {}
    for (fam, c, eps, meth, n), grp in groups.items():
        dec = [r for r in grp if r["verdict"] in DECIDED]
        if 2 * len(dec) < len(grp):
            continue
        k = (fam, c, eps, meth)
        if k not in best or n > best[k]["n"]:
            best[k] = {"family": fam, "ratio": c, "eps": eps, "method": meth, "n": n,
                       "m": grp[0]["m"], "decided": len(dec), "seeds": len(grp),
                       "median_seconds": statistics.median(r["seconds"] for r in grp),
                       "verdicts": sorted({r["verdict"] for r in dec})}
    return sorted(best.values(), key=lambda d: (d["family"], d["ratio"], d["eps"] or 0,
                                                d["method"]))


def speedups(rows):
    """Speed-up of every method over exhaustive enumeration on the instances
    enumeration decided, measured in the same run: t_enumerate / t_method
    (the method must also have decided). Returns per-instance records."""
    by = {}
    for r in rows:
        by.setdefault((r["suite"], r["instance"]), {})[r["method"]] = r
    out = []
    for (suite, inst), meths in by.items():
        e = meths.get("enumerate")
        if e is None or e["verdict"] not in DECIDED:
            continue
        for meth, r in meths.items():
            if meth == "enumerate" or r["verdict"] not in DECIDED:
                continue
            out.append({"suite": suite, "instance": inst, "family": r["family"], "n": r["n"],
                        "m": r["m"], "ratio": r["ratio"], "method": meth,
                        "verdict": r["verdict"], "enumerate_seconds": e["seconds"],
                        "seconds": r["seconds"],
                        "speedup": e["seconds"] / max(r["seconds"], 1e-6),
                        "cells": e.get("cells")})
    return out


def speedup_at_largest(sp):
    """Median speed-up per method at the largest size (n, then m) where
    enumeration finished, overall and per family."""
    if not sp:
        return {}
    res = {}
    fams = sorted({s["family"] for s in sp})
    for scope in ["all"] + fams:
        pts = [s for s in sp if scope == "all" or s["family"] == scope]
        n, m = max((s["n"], s["m"]) for s in pts)
        at = [s for s in pts if (s["n"], s["m"]) == (n, m)]
        res[scope] = {"n": n, "m": m, "instances": len({s["instance"] for s in at}),
                      "enumerate_median_seconds": statistics.median(
                          s["enumerate_seconds"] for s in at),
                      "median_speedup": {meth: statistics.median(
                          s["speedup"] for s in at if s["method"] == meth)
                          for meth in sorted({s["method"] for s in at})}}
    return res


#: the performance targets of issue 7: (label, family, ratio, eps, n)
TARGETS = (
    ("Gaussian m = 6n, n = 10", "gauss", 6, None, 10),
    ("Gaussian m = 6n, n = 12", "gauss", 6, None, 12),
    ("Gaussian m = 8n, n = 10", "gauss", 8, None, 10),
    ("Gaussian m = 8n, n = 12", "gauss", 8, None, 12),
    ("[B; -DB] + 2n rows, n = 20", "construct", 4, None, 20),
    ("tilt 1e-3 of [B; -DB], n = 16", "tilt", 2, 1e-3, 16),
    ("tilt 1e-4 of [B; -DB], n = 16", "tilt", 2, 1e-4, 16),
    ("Gaussian m = 2.5n, n = 40 (witness < 5 s)", "gauss", 2.5, None, 40),
)


def targets(rows):
    """The issue-7 targets: per target size and method, decided / seeds, the
    verdicts and the median seconds (unknowns counted at their time)."""
    out = []
    for label, fam, c, eps, n in TARGETS:
        grp = [r for r in rows if r["suite"] == "layers" and r["family"] == fam
               and r["ratio"] == c and r["eps"] == eps and r["n"] == n]
        for meth in sorted({r["method"] for r in grp}):
            mr = [r for r in grp if r["method"] == meth]
            dec = [r for r in mr if r["verdict"] in DECIDED]
            out.append({"target": label, "method": meth, "n": n, "m": mr[0]["m"],
                        "decided": len(dec), "seeds": len(mr),
                        "verdicts": _count(dec, "verdict"),
                        "median_seconds": statistics.median(r["seconds"] for r in mr),
                        "max_seconds": max(r["seconds"] for r in mr)})
        if not grp:
            out.append({"target": label, "method": None, "n": n, "decided": 0, "seeds": 0,
                        "note": "not reached (the ladder stopped earlier, or not in this run)"})
    return out


def speedup_by_size(sp):
    """Median speed-up per method at every n where enumeration finished
    (all families and ratios pooled)."""
    out = []
    for n in sorted({s["n"] for s in sp}):
        at = [s for s in sp if s["n"] == n]
        out.append({"n": n, "instances": len({s["instance"] for s in at}),
                    "median_speedup": {meth: statistics.median(
                        s["speedup"] for s in at if s["method"] == meth)
                        for meth in sorted({s["method"] for s in at})}})
    return out


def summarise(rows, papers_data=None):
    sp = speedups([r for r in rows if r["suite"] == "layers"])
    summary = {
        "rows": len(rows),
        "verdicts": _count(rows, "verdict"),
        "largest_decided": largest_decided(rows),
        "targets": targets(rows),
        "speedup_at_largest_enumeration": speedup_at_largest(sp),
        "speedup_by_n": speedup_by_size(sp),
        "speedups": sp,
    }
    if any(r["suite"] == "inversion" for r in rows):
        summary["inversion"] = inversion_table(rows)
        summary["inversion_vs_nopeel"] = inversion_ratios(rows)
        summary["inversion_issue15"] = inversion_details(rows)
    if any(r["family"] == "phase" for r in rows):
        from .phase import curve_of_row
        from .phase import summarise as phase_summarise
        summary["phase_transition"] = phase_summarise([r for r in rows if curve_of_row(r)])
        dss = [r for r in rows if r["family"] == "phase" and r["method"] == "dss-mean"]
        summary["dss_mean_not_injective"] = sum(r["verdict"] == "not_injective" for r in dss)
        summary["dss_mean_rows"] = len(dss)
    return summary


def _count(rows, key):
    out = {}
    for r in rows:
        out[str(r.get(key))] = out.get(str(r.get(key)), 0) + 1
    return out


def report_text(results):
    """A human-readable summary (also written to ``summary.txt``)."""
    s = results["summary"]
    lines = [f"reluinj bench: {s['rows']} rows, verdicts {s['verdicts']}, "
             f"executor {results['config'].get('executor')}, "
             f"{results['config'].get('wall_seconds', 0):.1f} s wall"]
    stopped = results["config"].get("stopped_by")
    if stopped:
        lines.append(f"  stopped early ({stopped}): larger sizes were not started; "
                     "'largest n' figures are lower bounds")
    ld = s.get("largest_decided") or []
    if ld:
        lines.append("\nLargest n decided (>= half of the seeds) per family / ratio / method:")
        lines.append(f"  {'family':10s} {'c':>5s} {'eps':>6s} {'method':24s} {'n':>4s} {'m':>5s}"
                     f" {'dec':>5s} {'median s':>9s}  verdicts")
        for d in ld:
            eps = f"{d['eps']:g}" if d["eps"] else "-"
            lines.append(f"  {d['family']:10s} {d['ratio']:5g} {eps:>6s} {d['method']:24s} "
                         f"{d['n']:4d} {d['m']:5d} {d['decided']:2d}/{d['seeds']:<2d} "
                         f"{d['median_seconds']:9.3f}  {','.join(d['verdicts'])}")
    tg = [t for t in s.get("targets") or [] if t["seeds"]]
    if tg and not results["config"].get("quick"):
        lines.append("\nIssue-7 targets (decided/seeds, median s):")
        for t in tg:
            lines.append(f"  {t['target']:42s} {t['method']:24s} {t['decided']}/{t['seeds']} "
                         f"{t['median_seconds']:8.2f} s  {t['verdicts']}")
    inv = s.get("inversion") or []
    if inv:
        lines.append("\nInversion (in-range targets recovered exactly; median relative residual "
                     "off range; median s):")
        for t in inv:
            lines.append(f"  {t['generator']:5s} {t['n0']:3d}->{t['n_out']:<4d} d{t['depth']} "
                         f"{t['method']:18s} {t['range_success']}/{t['range_total']} "
                         f"rel.res(noise) {t['noise_median_rel_residual']:.3g} "
                         f"optimal {t['optimal']} {t['median_seconds']:8.3f} s")
    rat = s.get("inversion_vs_nopeel") or []
    if rat:
        lines.append("\nPeeled inversion against today's whole-network MIP (invert(peel=False)), "
                     "same run, median s and median per-instance ratio t_old / t_new:")
        for t in rat:
            o, n = t["old_counts"], t["new_counts"]
            lines.append(f"  {t['generator']:8s} {t['target']:5s} {t['old_method']:>16s} "
                         f"{t['old_median_seconds']:7.2f} s  {t['new_method']:>10s} "
                         f"{t['new_median_seconds']:7.2f} s  ratio {t['median_ratio']:7.1f}x  "
                         f"(exact/optimal/unique settled: old {o['exact']}/{o['optimal']}/"
                         f"{o['unique_settled']}, new {n['exact']}/{n['optimal']}/"
                         f"{n['unique_settled']} of {t['instances']})")
    det = s.get("inversion_issue15") or []
    if det:
        lines.append("\nIssue-15 generators, per target (status, unique, s, peeled, units fixed, "
                     "binaries left):")
        for d in det:
            lines.append(f"  {d['instance']:32s} {d['method']:18s} {d['verdict']:8s} "
                         f"opt={str(d['optimal'])[0]} unique={d['unique']!s:5s} "
                         f"{d['seconds']:7.2f} s peeled={d['peeled_layers']} "
                         f"fixed={d['units_fixed']} binaries={d['binaries_left']}")
    sl = s.get("speedup_at_largest_enumeration") or {}
    if sl:
        lines.append("\nSpeed-up over exhaustive enumeration (t_enum / t_method, same run), "
                     "at the largest size enumeration finished:")
        for scope, d in sl.items():
            sps = ", ".join(f"{k} {v:.1f}x" for k, v in d["median_speedup"].items())
            lines.append(f"  {scope:10s} n={d['n']} m={d['m']} ({d['instances']} inst., "
                         f"enum median {d['enumerate_median_seconds']:.3f} s): {sps}")
        lines.append("  median speed-up per n (all families pooled):")
        for d in s.get("speedup_by_n") or []:
            sps = ", ".join(f"{k} {v:.1f}x" for k, v in d["median_speedup"].items())
            lines.append(f"    n={d['n']:<3d} ({d['instances']} inst.): {sps}")
    p = results.get("papers") or {}
    if "c_star" in p:
        lines.append(f"\nTheorem 6: c* = {p['c_star']:.6f} (root of erfc(1/sqrt(2c))/2 = 1/c)")
    if "figure2" in p:
        lines.append("Figure 2 (P(DSS w.r.t. x = -mean)): c where P crosses 1/2 per n: "
                     + ", ".join(f"n={n}: {v:.2f}" if v is not None else f"n={n}: -"
                                 for n, v in p.get("figure2_c50", {}).items()))
    ph = s.get("phase_transition")
    if ph:
        from .phase import table_text
        lines.append(table_text(ph))
        lines.append(f"  bounds: {p.get('c_star', 3.4):.3f} (Thm 6), 10.5 (upper); "
                     f"statistical physics 6.698")
        lines.append(f"  Figure 2 test refuted injectivity on {s.get('dss_mean_not_injective')} of "
                     f"{s.get('dss_mean_rows')} phase instances (all cross-checked)")
    probs = results.get("problems") or []
    if probs:
        lines.append("\n" + "!" * 72)
        lines.append(f"!!! {len(probs)} PROBLEM(S): DISAGREEMENT / FAILED VERIFICATION / ERROR")
        for pr in probs[:50]:
            lines.append("!!!   " + json.dumps(pr, default=str))
        lines.append("!" * 72)
    else:
        lines.append("\nAll methods agree; every certificate and witness verified.")
    return "\n".join(lines)


def json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
