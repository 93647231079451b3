"""Benchmark for issue 11: how injective are Gaussian layers and the MNIST decoders?

``python benchmarks/stability.py --out DIR [--quick] [--time-limit S]`` writes
``DIR/rows.json`` (one row per solve), ``DIR/summary.json`` and the plots
``DIR/sigma_vs_c.png``, ``DIR/gap.png``. Sections:

1. **Gaussian sweep** (b = 0, m = c n): per layer the exact verdict, σ*
   (certified), Theorem 4's C(W) = σ*/sqrt(2m), the sharper σ*/sqrt(2h), and
   the best upper bound on the true inverse Lipschitz constant from the pair
   search. Per (n, c): P(injective) from the exact verdicts and the quartiles
   of σ*/sqrt(m) (0 for non-injective layers), which must vanish as c falls
   towards the threshold.
2. **How tight is Theorem 4**: ``upper / C(W)`` and ``upper / (σ*/sqrt(2h))``
   on the injective layers; on n <= 3 a heavier pair search (``--heavy``
   starts) shows how close ``upper`` is to the true constant (it moves little).
3. **Speed**: the σ* search against exhaustive cell enumeration with one SVD
   per cell (the definition), same layers, same run.
4. **MNIST decoders** (``../shared/models``): the 20→60→784 decoder is not
   injective; its collapse in [-5, 5]^20. The 20→400→784 decoder's first
   layer (400×20, bias): σ* bounds within the time limit.

Everything is decided by the solver's exact machinery; speed figures are
wall-clock seconds on this machine in one run.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"


def gaussian_layer(n, m, seed):
    return np.random.default_rng([n, m, seed]).standard_normal((m, n))


def solve_row(W, b=None, *, time_limit=None, n_random=20, **extra):
    from solver.stability import stability
    t0 = time.monotonic()
    r = stability(W, b, time_limit=time_limit, n_random=n_random, collapse=False)
    m, n = W.shape
    search = r.stats.get("search", {})
    return {"m": m, "n": n, "c": round(m / n, 6), "verdict": r.verdict.value, "status": r.status,
            "sigma": r.sigma, "sigma_lower": None if r.sigma_lower is None else float(r.sigma_lower),
            "constant": r.constant, "constant_lower": r.constant_lower,
            "constant_sharp": r.constant_sharp, "hyperplanes": r.hyperplanes, "upper": r.upper,
            "nodes": search.get("nodes"), "seconds": round(time.monotonic() - t0, 4), **extra}


def gaussian_sweep(ns, cs, seeds, time_limit, log=print):
    rows = []
    for n in ns:
        for c in cs:
            m = int(round(c * n))
            for s in range(seeds[n] if isinstance(seeds, dict) else seeds):
                W = gaussian_layer(n, m, s)
                row = solve_row(W, time_limit=time_limit, family="gauss", seed=s)
                rows.append(row)
            pts = [r for r in rows if r["n"] == n and r["m"] == m]
            log(f"n={n} m={m}: injective {sum(r['verdict'] == 'injective' for r in pts)}/{len(pts)}, "
                f"unknown {sum(r['status'] == 'unknown' for r in pts)}, "
                f"median {np.median([r['seconds'] for r in pts]):.2f} s")
    return rows


def _q(v, p):
    return float(np.quantile(v, p)) if len(v) else None


def summarize(rows):
    """Per (n, c): P(injective), quartiles of σ*/sqrt(m) and of C(W), the
    tightness ratios. Layers whose σ* search stopped (``unknown``) are counted
    and left out of the σ* quartiles."""
    out = {}
    for n in sorted({r["n"] for r in rows}):
        pts = []
        for m in sorted({r["m"] for r in rows if r["n"] == n}):
            rs = [r for r in rows if r["n"] == n and r["m"] == m]
            dec = [r for r in rs if r["verdict"] in ("injective", "not_injective")]
            ex = [r for r in rs if r["status"] == "exact"]
            s = [r["sigma"] / math.sqrt(m) for r in ex]
            C = [r["constant"] for r in ex]
            inj = [r for r in ex if r["verdict"] == "injective" and r["upper"] is not None]
            gap = [r["upper"] / r["constant"] for r in inj]
            gap_h = [r["upper"] / r["constant_sharp"] for r in inj]
            up_sig = [r["upper"] / r["sigma"] for r in inj]
            pts.append({"m": m, "c": round(m / n, 6), "layers": len(rs),
                        "decided": len(dec), "unknown_sigma": len(rs) - len(ex),
                        "p_injective": (sum(r["verdict"] == "injective" for r in dec) / len(dec))
                        if dec else None,
                        "sigma_over_sqrt_m": [_q(s, p) for p in (0.25, 0.5, 0.75)],
                        "constant": [_q(C, p) for p in (0.25, 0.5, 0.75)],
                        "upper_over_constant": [_q(gap, p) for p in (0.25, 0.5, 0.75)],
                        "upper_over_constant_sharp": [_q(gap_h, p) for p in (0.25, 0.5, 0.75)],
                        "upper_over_sigma": [_q(up_sig, p) for p in (0.25, 0.5, 0.75)],
                        "median_seconds": float(np.median([r["seconds"] for r in rs]))})
        out[str(n)] = pts
    return out


def _series(summary, key, plt):
    """Per n: (n, colour, points whose ``key`` has a median, their c)."""
    cmap = plt.get_cmap("viridis")
    ns = sorted(summary, key=int)
    for k, n in enumerate(ns):
        pts = [p for p in summary[n] if p[key] is not None and
               (not isinstance(p[key], list) or p[key][1] is not None)]
        yield n, cmap(k / max(1, len(ns) - 1)), pts, [p["c"] for p in pts]


def plot_sigma_vs_c(summary, path):
    from .plots import pyplot
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n, col, pts, cs in _series(summary, "sigma_over_sqrt_m", plt):
        a1.plot(cs, [p["sigma_over_sqrt_m"][1] for p in pts], "o-", color=col, ms=3,
                label=f"n = {n}: median σ*/√m")
        a1.fill_between(cs, [p["sigma_over_sqrt_m"][0] for p in pts],
                        [p["sigma_over_sqrt_m"][2] for p in pts], color=col, alpha=0.15)
    for n, col, pts, cs in _series(summary, "p_injective", plt):
        a2.plot(cs, [p["p_injective"] for p in pts], "o-", color=col, ms=3, label=f"n = {n}")
    a1.set_xlabel("c = m / n")
    a1.set_ylabel("σ* / √m   (median, quartile band)")
    sec = a1.secondary_yaxis("right", functions=(lambda y: y / math.sqrt(2),
                                                 lambda y: y * math.sqrt(2)))
    sec.set_ylabel("C(W) = σ*/√(2m)")
    a1.set_title("σ* = min_x σ_min(W_S(x)) (certified), 0 if not injective")
    a1.legend(fontsize=7)
    a2.set_xlabel("c = m / n")
    a2.set_ylabel("P(injective)  (exact verdicts, same layers)")
    a2.set_ylim(-0.02, 1.02)
    for a in (a1, a2):
        a.axvline(3.4, color="k", ls="--", lw=0.8)
    a2.axhline(0.5, color="grey", lw=0.5)
    a2.legend(fontsize=7)
    fig.suptitle("Gaussian layers, b = 0: stability vanishes with P(injective)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gap(summary, path, heavy=()):
    """Left: upper / C(W) against sqrt(2m) (dotted). Right: upper / sigma*:
    where the best pair found sits between Theorem 4's bound and sigma*."""
    from .plots import pyplot
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n, col, pts, cs in _series(summary, "upper_over_constant", plt):
        a1.plot(cs, [p["upper_over_constant"][1] for p in pts], "o-", color=col, ms=3,
                label=f"n = {n}: median upper / C(W)")
        a1.plot(cs, [math.sqrt(2 * c * int(n)) for c in cs], ":", color=col, lw=1)
        a2.plot(cs, [p["upper_over_sigma"][1] for p in pts], "o-", color=col, ms=3,
                label=f"n = {n}: median")
        a2.fill_between(cs, [p["upper_over_sigma"][0] for p in pts],
                        [p["upper_over_sigma"][2] for p in pts], color=col, alpha=0.15)
    if heavy:
        a2.plot([h["m"] / h["n"] for h in heavy], [h["upper_heavy"] / h["sigma"] for h in heavy],
                "kx", ms=4, label=f"n <= 3, heavy search (each layer)")
    a1.set_xlabel("c = m / n")
    a1.set_ylabel("upper / C(W)   (dotted: sqrt(2m))")
    a1.set_title("Theorem 4's bound against the best pair found")
    a1.legend(fontsize=7)
    a2.set_xlabel("c = m / n")
    a2.set_ylabel("upper / sigma*")
    a2.set_title("the best pair is (nearly) Theorem 4's cell pair")
    a2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def heavy_pairs(rows, heavy, log=print):
    """n <= 3 injective layers: the pair search with ``heavy`` random starts
    against the default 20 (how close upper is to the true constant)."""
    from solver.stability import stability
    out = []
    for r in rows:
        if r["n"] > 3 or r["verdict"] != "injective" or r["status"] != "exact":
            continue
        W = gaussian_layer(r["n"], r["m"], r["seed"])
        h = stability(W, n_random=heavy)
        out.append({"n": r["n"], "m": r["m"], "seed": r["seed"], "upper_default": r["upper"],
                    "upper_heavy": h.upper, "constant": r["constant"],
                    "constant_sharp": r["constant_sharp"], "sigma": r["sigma"]})
    if out:
        rel = [o["upper_default"] / o["upper_heavy"] - 1 for o in out]
        log(f"heavy pair search ({heavy} starts) on {len(out)} layers, n <= 3: default upper is "
            f"above the heavy one by median {np.median(rel):.2e}, max {max(rel):.2e}")
    return out


def speed_vs_enumeration(cases, log=print):
    """The sigma* search against the definition (every cell enumerated, one
    SVD each) on injective layers: for each (n, m) the first seed whose layer
    is injective."""
    from solver import check_layer
    from solver.enumeration import enumerate_cells
    from solver.sigma_search import sigma_star
    out = []
    for n, m in cases:
        s = next(s for s in range(100) if
                 check_layer(gaussian_layer(n, m, s)).verdict.value == "injective")
        W = gaussian_layer(n, m, s)
        t0 = time.monotonic()
        o = sigma_star(W)
        t_bb = time.monotonic() - t0
        t0 = time.monotonic()
        E = enumerate_cells(W)
        best = math.inf
        for c in E.cells:
            P = [i for i, v in enumerate(c.sign) if v > 0]
            best = min(best, np.linalg.svd(W[P], compute_uv=False)[-1] if len(P) >= n else 0.0)
        t_en = time.monotonic() - t0
        agree = (o.status == "zero" and best == 0.0) or (o.status == "exact" and
                                                         abs(o.sigma - best) <= 1e-12 * best)
        out.append({"n": n, "m": m, "seed": s, "sigma_search_s": round(t_bb, 3),
                    "enumeration_s": round(t_en, 3), "cells": len(E.cells),
                    "nodes": o.stats.get("nodes"), "agree": bool(agree),
                    "ratio": round(t_en / max(t_bb, 1e-9), 2)})
        log(f"speed n={n} m={m} seed={s}: sigma search {t_bb:.2f} s ({o.stats.get('nodes')} nodes), "
            f"enumeration {t_en:.2f} s ({len(E.cells)} cells), agree={agree}")
    return out


def mnist(time_limit, log=print):
    from solver.network_io import load_network
    from solver.stability import stability
    out = {}
    p60 = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"
    if p60.exists():
        t0 = time.monotonic()
        r = stability(load_network(p60), box=5.0, time_limit=time_limit)
        d = r.to_json()
        out["decoder_20_60_784"] = {k: d[k] for k in ("verdict", "status", "constant", "upper",
                                                       "seconds", "message")}
        out["decoder_20_60_784"]["collapse"] = {k: d["collapse"][k] for k in
                                                ("value", "value_exact", "box", "bound", "optimal",
                                                 "message")} if d["collapse"] else None
        # layer 0 alone: sigma* = 0, and its collapse
        L0 = load_network(p60).layers[0]
        r0 = stability(L0.W, L0.b, box=5.0, time_limit=time_limit)
        out["decoder_20_60_784_layer0"] = {"verdict": r0.verdict.value, "sigma": r0.sigma,
                                           "collapse": None if r0.collapse is None else
                                           float(r0.collapse.value),
                                           "seconds": round(r0.seconds, 3)}
        log(f"20-60-784: {d['verdict']}, collapse in [-5,5]^20 = "
            f"{d['collapse']['value'] if d['collapse'] else None} ({time.monotonic() - t0:.1f} s)")
    p400 = SHARED / "models" / "mnist_vae_decoder_20_400_784.npz"
    if p400.exists():
        z = np.load(p400)
        W0, b0 = z["W0"], z["b0"]
        t0 = time.monotonic()
        r = stability(W0, b0, time_limit=time_limit)
        d = r.to_json()
        out["decoder_20_400_784_layer0"] = {k: d[k] for k in (
            "verdict", "status", "sigma", "sigma_lower", "constant", "constant_lower",
            "constant_sharp", "hyperplanes", "upper", "seconds", "message")}
        out["decoder_20_400_784_layer0"]["active_rows_at_x"] = len(d["active"])
        out["decoder_20_400_784_layer0"]["search"] = r.stats.get("search")
        out["decoder_20_400_784_layer0"]["check"] = r.stats.get("check")
        log(f"20-400-784 layer 0: {d['verdict']}, status {d['status']}, sigma* <= {d['sigma']}, "
            f">= {d['sigma_lower']}, upper {d['upper']} ({time.monotonic() - t0:.1f} s)")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="small grid (about a minute)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="per layer")
    ap.add_argument("--heavy", type=int, default=200, help="random starts of the heavy pair search")
    ap.add_argument("--mnist-time-limit", type=float, default=120.0)
    ap.add_argument("--replot", action="store_true", help="only redraw the plots from DIR")
    ap.add_argument("--reuse-rows", action="store_true",
                    help="read DIR/rows.json instead of re-running the sweep")
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []

    def log(s):
        print(s, flush=True)
        lines.append(s)

    t_start = time.monotonic()
    if args.quick:
        ns, cs, seeds = (3,), [2.0, 4.0, 6.0, 8.0], 4
        speed_cases = [(3, 18)]
    else:
        ns = (3, 4, 5, 6)
        cs = [float(c) for c in np.arange(2.0, 10.01, 1.0)]
        seeds = {3: 20, 4: 12, 5: 8, 6: 5}
        speed_cases = [(3, 18), (3, 30), (4, 24), (4, 32)]
    rows_path = out / "rows.json"
    if args.replot:
        doc = json.loads((out / "summary.json").read_text())
        plot_sigma_vs_c(doc["summary"], out / "sigma_vs_c.png")
        plot_gap(doc["summary"], out / "gap.png", doc["heavy_pairs"])
        return 0
    if args.reuse_rows and rows_path.exists():
        rows = json.loads(rows_path.read_text())
        log(f"reusing {len(rows)} rows from {rows_path}")
    else:
        rows = gaussian_sweep(ns, cs, seeds, args.time_limit, log)
        rows_path.write_text(json.dumps(rows))
    summary = summarize(rows)
    inj = [r for r in rows if r["n"] <= 3 and r["verdict"] == "injective" and r["status"] == "exact"]
    heavy = heavy_pairs(inj[::max(1, len(inj) // (6 if args.quick else 40))], args.heavy, log)
    speed = speed_vs_enumeration(speed_cases, log)
    models = {} if args.quick else mnist(args.mnist_time_limit, log)
    doc = {"summary": summary, "heavy_pairs": heavy, "speed": speed, "mnist": models,
           "settings": {"ns": list(ns), "cs": cs, "seeds": seeds, "time_limit": args.time_limit,
                        "heavy": args.heavy, "quick": args.quick,
                        "command": "python benchmarks/stability.py " + " ".join(argv or sys.argv[1:])},
           "seconds": round(time.monotonic() - t_start, 1)}
    (out / "summary.json").write_text(json.dumps(doc, indent=1))
    plot_sigma_vs_c(summary, out / "sigma_vs_c.png")
    plot_gap(summary, out / "gap.png", heavy)
    (out / "log.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
