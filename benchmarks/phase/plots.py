"""The plots of the phase study, drawn from the summary alone
(:func:`write_plots` writes them all)."""
from __future__ import annotations

import math
import pathlib

import numpy as np

from .. import phasefit as F
from ..papers import STATPHYS, UPPER_BOUND, critical_expansivity, p_injective_n2
from ..plots import pyplot
from .tables import fmt

__all__ = ["plot_transition", "plot_c50", "plot_dss", "plot_variants", "write_plots"]


def _finish(fig, path):
    if path is None:
        return fig
    plt = pyplot()
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
    plt = pyplot()
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
                    label=f"n = {n}: c50 = {fmt(r['estimate'])} [{fmt(r['ci'][0])}, "
                          f"{fmt(r['ci'][1])}]")
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
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
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
