"""The inversion suite: its methods and ladders, one inversion task
(:func:`run_inversion_task`), the agreement of its rows, and its tables
and ratios."""
from __future__ import annotations

import math
import statistics
import sys
import time
import traceback

import numpy as np

from .instances import DCGAN, DECODER, FULL_GENERATORS, ISSUE15_GENERATORS, NOPEEL, QUICK_GENERATORS, VAE400, make_generator, make_target
from .ladder import Ladder
from .methods import HardTimeout, QUICK_BACKENDS, available_backends, base_row, hard_limit

__all__ = ["inversion_ladders", "run_inversion_task", "mark_inversion_agreement",
           "inversion_ratios", "inversion_details", "inversion_table"]


def _inversion_methods(cfg, n0, widths, gen):
    try:
        from solver.backends import DEFAULT_BACKEND
    except ImportError:
        DEFAULT_BACKEND = None
    avail = list(available_backends())
    if cfg.backends is not None:
        mips = [b for b in cfg.backends if b in avail]
    elif cfg.quick:
        mips = [DEFAULT_BACKEND] if DEFAULT_BACKEND in avail else avail[:1]
    else:
        mips = [b for b in QUICK_BACKENDS if b in avail] or avail[:1]
    meths = [f"mip[{b}]" for b in mips]
    # today's whole-network MIP (invert(peel=False)) on the default backend, for the ratio;
    # it cannot read a sigmoid/tanh head or sparse layers (today's loader refused them)
    if gen not in ("vae400", "dcgan"):
        meths.append(f"{NOPEEL}[{mips[0]}]" if mips else NOPEEL)
    if gen == "rand" and (n0 == 2 or (not cfg.quick and n0 == 3 and sum(widths) <= 42)):
        meths.append("enumeration")
    if gen != "dcgan":
        meths.append("gradient-descent")
    if gen not in ("vae400", "dcgan"):
        meths.append("layerwise-lp")
    if cfg.methods:
        meths = [m for m in meths if any(m == t or m.startswith(t) for t in cfg.methods)]
    return meths


def inversion_ladders(cfg):
    """Inversion suite: the MIP (per backend) against region enumeration
    (small generators), gradient descent and layer-wise LP, on random
    generators and the MNIST decoder; targets in the range and off it.
    Needs :mod:`solver.inversion` (skipped with a note if missing)."""
    try:
        import solver.inversion  # noqa: F401
        import solver.inversion.baselines  # noqa: F401
    except ImportError as exc:
        print(f"[bench] note: inversion suite skipped, solver.inversion not importable ({exc})",
              file=sys.stderr)
        return []
    tl = cfg.tl()
    seeds = cfg.seeds or (2 if cfg.quick else 5)
    gens = [("rand", n0, w) for n0, w in (QUICK_GENERATORS if cfg.quick else FULL_GENERATORS)
            if cfg.max_n is None or n0 <= cfg.max_n]
    if DECODER.exists():
        gens.append(("mnist", 20, (60, 784)))
    for g, (n0, w) in ISSUE15_GENERATORS.items():
        if (VAE400 if g.startswith("vae") else DCGAN).exists() and \
                (cfg.max_n is None or n0 <= cfg.max_n):
            gens.append((g, n0, w))
    if cfg.families:
        gens = [g for g in gens if g[0] in cfg.families]
    ladders = []
    for gen, n0, widths in gens:
        rung = []
        big = gen in ("mnist",) + tuple(ISSUE15_GENERATORS)
        # issue 15's targets are stated for --time-limit 60
        tl_g = max(tl, 60.0) if gen in ISSUE15_GENERATORS and cfg.time_limit is None else tl
        for s in range(1 if big and cfg.quick else seeds):
            for target in ("range", "noise"):
                spec = {"gen": gen, "n0": n0, "widths": list(widths), "seed": 0, "tseed": s,
                        "target": target}
                name = (f"{gen}_{'-'.join(map(str, (n0, *widths)))}_{target}_t{s}")
                for meth in _inversion_methods(cfg, n0, widths, gen):
                    rung.append({"kind": "inversion", "suite": "inversion", "family": gen,
                                 "instance": name, "n": n0, "m": widths[-1], "seed": s,
                                 "ratio": None, "eps": None, "bias": True, "method": meth,
                                 "target": target, "depth": len(widths),
                                 "time_limit": tl_g, "spec": spec})
        ladders.append(Ladder(("inversion", gen, n0, tuple(widths)), [rung], rule="all"))
    return ladders


def _invert(method, net, x, time_limit, seed):
    from solver.inversion import baselines as B
    from solver.inversion.api import invert
    if method.startswith("mip["):
        return invert(net, x, backend=method[4:-1], time_limit=time_limit, seed=seed)
    if method.startswith(NOPEEL):
        be = method[len(NOPEEL) + 1:-1] or None
        return invert(net, x, backend=be, time_limit=time_limit, seed=seed, peel=False)
    if method == "enumeration":
        return B.invert_by_enumeration(net, x, time_limit=time_limit, max_regions=50000)
    if method == "gradient-descent":
        return B.gradient_descent(net, x, seed=seed, time_limit=time_limit)
    if method == "layerwise-lp":
        return B.layerwise_lp(net, x, time_limit=time_limit)
    raise ValueError(f"unknown inversion method {method!r}")


def run_inversion_task(task):
    """One inversion; the residual is recomputed here by a forward pass, an
    ``exact`` claim is checked against the tolerance and a non-injectivity
    witness in rational arithmetic."""
    row = base_row(task)
    row.update(target=task["target"], depth=task["depth"])
    spec = task["spec"]
    net = make_generator(spec)
    x, z0 = make_target(net, spec)
    tl = task.get("time_limit")
    hard = None if tl is None else 3.0 * tl + 30.0
    t0 = time.perf_counter()
    try:
        with hard_limit(hard):
            res = _invert(task["method"], net, x, tl, spec["tseed"])
    except HardTimeout:
        row.update(verdict="unknown", seconds=time.perf_counter() - t0, overran=True,
                   message=f"hard timeout after {hard:g} s")
        return row
    except Exception as exc:  # noqa: BLE001
        row.update(verdict="error", seconds=time.perf_counter() - t0,
                   message=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=6))
        return row
    row["seconds"] = time.perf_counter() - t0
    xn = float(np.max(np.abs(x)))
    tol_abs = 1e-6 * max(1.0, xn)
    peel = getattr(res, "peel", None) or {}
    space = getattr(res, "space", "output")
    row.update(verdict=res.status, optimal=bool(res.optimal), unique=res.unique,
               message=res.message, target_norm=xn, tol_abs=tol_abs,
               z0_residual=float(np.max(np.abs(net.forward(z0) - x))),
               bound=None if res.bound is None or not math.isfinite(res.bound)
               or space != "output" else float(res.bound),
               regions=(res.stats or {}).get("regions"), space=space,
               peeled_layers=peel.get("peeled_layers"), units_fixed=peel.get("units_fixed"),
               peel_stopped=peel.get("reason") if peel.get("stopped_at") is not None else None,
               binaries_left=getattr(res, "binaries", None),
               uniqueness_method=getattr(res, "uniqueness_method", None),
               witness=False)
    ok, why = True, "no claim"
    if res.z is not None:
        z = np.asarray(res.z)
        r = net.forward(z) - x
        row["residual"] = float(np.max(np.abs(r)))
        row["objective"] = float(np.max(np.abs(r))) if res.norm == "linf" else float(np.abs(r).sum())
        row["relative_residual"] = row["residual"] / max(xn, 1e-300)
        if res.status == "exact" and space == "pre-activation":
            # a sigmoid/tanh head: the exact problem is the last layer's
            # pre-activations against act^-1(x); recomputed here layer by layer
            h = z
            for L in net.layers[:-1]:
                h = L.activation.forward(L.W @ h + L.b)
            L = net.layers[-1]
            ystar = L.activation.inverse(x)
            pre = float(np.max(np.abs(L.W @ h + L.b - ystar)))
            tol_pre = 1e-6 * max(1.0, float(np.max(np.abs(ystar))))
            row["pre_activation_residual"] = pre
            ok = pre <= tol_pre * (1 + 1e-9)
            why = "pre-activation residual within tolerance" if ok else \
                f"'exact' but pre-activation residual {pre:.3g} > {tol_pre:.3g}"
        elif res.status == "exact":
            ok = row["residual"] <= tol_abs * (1 + 1e-9)
            why = "residual within tolerance" if ok else \
                f"'exact' but residual {row['residual']:.3g} > {tol_abs:.3g}"
    else:
        row["residual"] = row["objective"] = row["relative_residual"] = None
        if res.status in ("exact", "nearest"):
            ok, why = False, f"{res.status} without a point"
    if ok and res.witness is not None:
        ok, why = net.check_witness(res.witness.x1, res.witness.x2)
        row["witness"] = True
    row["verified"], row["check"] = bool(ok), why
    return row


def mark_inversion_agreement(rows):
    """Cross-check inversion rows (in place): a claim of optimality must not
    be beaten by another method's point (nor, for in-range targets, by the
    planted z0) beyond tolerance. Returns the problems."""
    problems = []
    groups = {}
    for r in rows:
        if r["suite"] == "inversion":
            groups.setdefault(r["instance"], []).append(r)
    for inst, grp in groups.items():
        found = [r["objective"] for r in grp if r.get("objective") is not None]
        best = min(found) if found else math.inf
        if grp[0].get("target") == "range":
            best = min(best, grp[0].get("z0_residual") or 0.0)
        contradicted = []
        for r in grp:
            if r.get("optimal") and r.get("objective") is not None:
                # optimality is claimed to the MIP's relative gap (solver.inversion.MIP_GAP)
                slack = 10 * r["tol_abs"] * (1 if r["objective"] == r["residual"] else
                                             max(1, r["m"])) + 1.01e-4 * r["objective"]
                if r["objective"] > best + slack:
                    contradicted.append(r)
        bad_methods = {r["method"] for r in contradicted}
        for r in grp:
            beats = bool(contradicted) and r.get("objective") is not None and \
                r["objective"] <= best + 1e-12 and r["method"] not in bad_methods
            r["agree_override"] = not (r["method"] in bad_methods or beats)
        if contradicted:
            problems.append({"kind": "disagreement", "suite": "inversion", "instance": inst,
                             "reason": "optimality claimed but a better point exists",
                             "claims": {r["method"]: r["objective"] for r in contradicted},
                             "best": best})
    return problems


def inversion_ratios(rows):
    """Per generator and target kind: median seconds of the peeled inversion
    (``mip[b]``) and of today's whole-network MIP (``mip-nopeel[b]``) on the
    same instances of this run, and the median per-instance ratio
    ``t_nopeel / t_peel`` (both capped at their time limit)."""
    inv = [r for r in rows if r["suite"] == "inversion"]
    out = []
    for fam, target in sorted({(r["family"], r["target"]) for r in inv}):
        grp = [r for r in inv if r["family"] == fam and r["target"] == target]
        for old in sorted({r["method"] for r in grp if r["method"].startswith(NOPEEL)}):
            new = "mip" + old[len(NOPEEL):]
            pairs = []
            for inst in sorted({r["instance"] for r in grp}):
                a = [r for r in grp if r["instance"] == inst and r["method"] == old]
                b = [r for r in grp if r["instance"] == inst and r["method"] == new]
                if a and b:
                    pairs.append((a[0], b[0]))
            if not pairs:
                continue
            out.append({"generator": fam, "target": target, "old_method": old,
                        "new_method": new,
                        "instances": len(pairs),
                        "old_median_seconds": statistics.median(a["seconds"] for a, _ in pairs),
                        "new_median_seconds": statistics.median(b["seconds"] for _, b in pairs),
                        "median_ratio": statistics.median(a["seconds"] / max(b["seconds"], 1e-9)
                                                          for a, b in pairs),
                        "old_counts": {"exact": sum(a["verdict"] == "exact" for a, _ in pairs),
                                "optimal": sum(bool(a.get("optimal")) for a, _ in pairs),
                                "unique_settled": sum(a.get("unique") is not None
                                                      for a, _ in pairs)},
                        "new_counts": {"exact": sum(b["verdict"] == "exact" for _, b in pairs),
                                "optimal": sum(bool(b.get("optimal")) for _, b in pairs),
                                "unique_settled": sum(b.get("unique") is not None
                                                      for _, b in pairs)}})
    return out


def inversion_details(rows):
    """Per-target rows of issue 15's generators: status, unique, seconds,
    peeled layers, units fixed, binaries left."""
    keep = ("instance", "method", "target", "verdict", "optimal", "unique", "uniqueness_method",
            "seconds", "space", "residual", "bound", "peeled_layers", "units_fixed",
            "binaries_left", "peel_stopped", "verified")
    return [{k: r.get(k) for k in keep} for r in sorted(
        (r for r in rows if r["suite"] == "inversion" and r["family"] in ISSUE15_GENERATORS),
        key=lambda r: (r["instance"], r["method"]))]


def inversion_table(rows):
    """Per generator and method: success rate on in-range targets (status
    exact), median residual on off-range targets, median seconds."""
    out = []
    inv = [r for r in rows if r["suite"] == "inversion"]
    for key in sorted({(r["family"], r["n"], r["m"], r["depth"], r["method"]) for r in inv}):
        fam, n, m, depth, meth = key
        grp = [r for r in inv if (r["family"], r["n"], r["m"], r["depth"], r["method"]) == key]
        rng_ = [r for r in grp if r["target"] == "range"]
        noi = [r for r in grp if r["target"] == "noise" and r.get("relative_residual") is not None]
        out.append({"generator": fam, "n0": n, "n_out": m, "depth": depth, "method": meth,
                    "range_success": sum(r["verdict"] == "exact" for r in rng_),
                    "range_total": len(rng_),
                    "range_median_rel_residual": statistics.median(
                        [r["relative_residual"] for r in rng_
                         if r.get("relative_residual") is not None] or [math.nan]),
                    "noise_median_rel_residual": statistics.median(
                        [r["relative_residual"] for r in noi] or [math.nan]),
                    "optimal": sum(bool(r.get("optimal")) for r in grp),
                    "median_seconds": statistics.median(r["seconds"] for r in grp)})
    return out
