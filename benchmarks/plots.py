"""Plots of a benchmark run (matplotlib, optional): time against size,
speed-ups, agreement, inversion (:func:`write_plots`)."""
from __future__ import annotations

import math
import statistics
import sys

import numpy as np

from .inversion_suite import inversion_table
from .methods import DECIDED

__all__ = ["plot_inversion", "pyplot", "method_style", "plot_time_vs_size", "plot_speedups",
           "plot_agreement", "write_plots"]


def plot_inversion(rows, path):
    plt = pyplot()
    table = inversion_table(rows)
    if not table:
        return False
    style = method_style({t["method"] for t in table})
    gens = sorted({(t["generator"], t["n0"], t["n_out"], t["depth"]) for t in table})
    labels = [f"{g}:{n}->{m} (d{d})" for g, n, m, d in gens]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(1, len(style))
    for k, meth in enumerate(sorted(style)):
        col, mk = style[meth]
        xs, succ, secs = [], [], []
        for gi, g in enumerate(gens):
            t = [t for t in table if (t["generator"], t["n0"], t["n_out"], t["depth"]) == g
                 and t["method"] == meth]
            if t:
                xs.append(gi)
                succ.append(t[0]["range_success"] / max(1, t[0]["range_total"]))
                secs.append(max(t[0]["median_seconds"], 1e-4))
        a1.bar([x + k * width for x in xs], succ, width, color=col, label=meth)
        a2.plot(xs, secs, marker=mk, color=col, label=meth)
    for a in (a1, a2):
        a.set_xticks(range(len(gens)))
        a.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    a1.set_ylabel("in-range targets recovered (exact)")
    a2.set_ylabel("median seconds (log)")
    a2.set_yscale("log")
    a1.legend(fontsize=7)
    fig.suptitle("Inversion: MIP vs region enumeration vs gradient descent vs layer-wise LP")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def pyplot():
    """``matplotlib.pyplot`` for the plots of every benchmark script: the
    file backend ``Agg`` unless pyplot is loaded already (a notebook keeps its
    inline backend; the plots are saved to files either way)."""
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _jitter(style, meth, step):
    """The factor that spreads the methods' points at one x (log axes)."""
    return 1 + step * (sorted(style).index(meth) - len(style) / 2)


def _median_line(ax, pts, x, y, col, mk, label, **kw):
    """The median of ``y`` over the points at each distinct ``x``, as a line."""
    xs = sorted({x(p) for p in pts})
    med = [statistics.median(y(p) for p in pts if x(p) == v) for v in xs]
    ax.plot(xs, med, "-", color=col, marker=mk, ms=4, label=label, **kw)


def method_style(methods):
    plt = pyplot()
    cmap = plt.get_cmap("tab10")
    marks = "os^vDP*Xh<>"
    return {m: (cmap(k % 10), marks[k % len(marks)]) for k, m in enumerate(sorted(methods))}


def plot_time_vs_size(rows, path):
    plt = pyplot()
    rows = [r for r in rows if r["suite"] == "layers" and r["seconds"] is not None]
    if not rows:
        return False
    fams = sorted({r["family"] for r in rows})
    style = method_style({r["method"] for r in rows})
    cols = min(3, len(fams))
    nrow = math.ceil(len(fams) / cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(5 * cols, 3.6 * nrow), squeeze=False)
    for ax, fam in zip(axes.flat, fams):
        fr = [r for r in rows if r["family"] == fam]
        for meth in sorted({r["method"] for r in fr}):
            col, mk = style[meth]
            mr = [r for r in fr if r["method"] == meth]
            dec = [r for r in mr if r["verdict"] in DECIDED]
            unk = [r for r in mr if r["verdict"] not in DECIDED]
            jit = _jitter(style, meth, 0.03)
            ax.scatter([r["n"] * jit for r in dec], [max(r["seconds"], 1e-4) for r in dec],
                       color=col, marker=mk, s=10, alpha=0.5)
            ax.scatter([r["n"] * jit for r in unk], [max(r["seconds"], 1e-4) for r in unk],
                       facecolors="none", edgecolors=col, marker=mk, s=14, alpha=0.7)
            _median_line(ax, mr, lambda r: r["n"], lambda r: max(r["seconds"], 1e-4), col, mk,
                         meth, lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{fam}")
        ax.set_xlabel("n (log)")
        ax.set_ylabel("seconds (log); hollow = unknown")
        ax.grid(True, which="both", lw=0.3)
    for ax in list(axes.flat)[len(fams):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.suptitle("Time to a verified verdict against size (median line over ratios and seeds)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_speedups(sp, path):
    plt = pyplot()
    if not sp:
        return False
    style = method_style({s["method"] for s in sp})
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for meth in sorted(style):
        col, mk = style[meth]
        pts = [s for s in sp if s["method"] == meth]
        jit = _jitter(style, meth, 0.02)
        ax.scatter([s["m"] * jit for s in pts], [s["speedup"] for s in pts], color=col,
                   marker=mk, s=10, alpha=0.35)
        _median_line(ax, pts, lambda s: s["m"], lambda s: s["speedup"], col, mk, meth)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m (rows), log")
    ax.set_ylabel("t_enumerate / t_method (log)")
    ax.set_title("Speed-up over exhaustive enumeration, same run (instances it decided)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_agreement(rows, path):
    plt = pyplot()
    if not rows:
        return False
    meths = sorted({(r["suite"], r["method"]) for r in rows})
    cats = [("agrees (decided)", "tab:green"), ("unknown", "tab:gray"),
            ("disagrees / unverified", "tab:red"), ("error", "black")]

    def cat(r):
        if r["verdict"] == "error":
            return 3
        if r["agree"] is False or r["verified"] is False:
            return 2
        return 0 if r["verdict"] in DECIDED or r["suite"] == "inversion" else 1
    counts = np.zeros((len(meths), len(cats)))
    for r in rows:
        counts[meths.index((r["suite"], r["method"])), cat(r)] += 1
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(meths) + 1.5))
    left = np.zeros(len(meths))
    for k, (lab, col) in enumerate(cats):
        ax.barh(range(len(meths)), counts[:, k], left=left, color=col, label=lab)
        left += counts[:, k]
    ax.set_yticks(range(len(meths)))
    ax.set_yticklabels([f"{s}: {m}" for s, m in meths], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    bad = int(counts[:, 2].sum() + counts[:, 3].sum())
    ax.set_title("Agreement between methods" + (f": {bad} PROBLEMS" if bad else ": all agree"))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.5 / (len(meths) + 4)),
              ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_plots(results, out):
    rows = results["rows"]
    made = []
    try:
        if plot_time_vs_size(rows, out / "time_vs_size.png"):
            made.append("time_vs_size.png")
        if plot_speedups(results["summary"]["speedups"], out / "speedup_vs_enumeration.png"):
            made.append("speedup_vs_enumeration.png")
        if plot_agreement(rows, out / "agreement.png"):
            made.append("agreement.png")
        p = results.get("papers") or {}
        from . import papers as P
        if p.get("figure2"):
            P.plot_figure2(p["figure2"], out / "figure2.png")
            made.append("figure2.png")
        ph = results["summary"].get("phase_transition")
        if ph and ph.get("curves"):
            from .phase import write_plots as phase_plots
            made += phase_plots(ph, out)
        inv = [r for r in rows if r["suite"] == "inversion"]
        if inv:
            if plot_inversion(inv, out / "inversion.png"):
                made.append("inversion.png")
    except ImportError as exc:
        print(f"[bench] note: plots skipped ({exc})", file=sys.stderr)
    return made
