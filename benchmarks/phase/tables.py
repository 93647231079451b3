"""The phase summary as text (:func:`table_text`) and as the README's c50
table (:func:`markdown_table`, written between :data:`README_MARKERS` by
:func:`fill_readme`); :data:`RESULTS`, where the committed sweep lives."""
from __future__ import annotations

import pathlib

from .. import phasefit as F

__all__ = ["RESULTS", "README_MARKERS", "fmt", "table_text", "markdown_table", "fill_readme",
           "readme_table"]

#: the committed results of the sweep (relative to the checkout): the notebook, the README table
#: and the tests read ``RESULTS / "summary.json"``
RESULTS = pathlib.PurePosixPath("benchmarks/results/2026-11-27/phase")
#: the markers of the c50 table in README.md (:func:`fill_readme`)
README_MARKERS = ("<!-- phase-table -->", "<!-- /phase-table -->")


def fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def table_text(summary):
    """The c50 table (and the rest) as text."""
    lines = []
    for cv, recs in summary.get("curves", {}).items():
        lines.append(f"Exact phase transition, curve {cv}: 50 % point of P(injective), logistic "
                     "fit, 95 % stratified bootstrap interval")
        unver = sum(r["decided"] - r.get("verified", r["decided"]) for r in recs.values())
        lines.append(f"  every decided layer's certificate / witness verified: "
                     f"{'yes' if unver == 0 else f'NO ({unver} not verified)'}")
        lines.append(f"  {'n':>3s} {'c50':>6s} {'95% CI':>15s} {'+-':>5s} {'width':>6s} "
                     f"{'probit':>6s} {'local':>6s} {'isoton':>6s} {'layers':>6s} {'unk':>4s} "
                     f"{'gof p':>6s}")
        for n, r in sorted(recs.items(), key=lambda kv: int(kv[0])):
            ci = "-" if r["ci"] is None else f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
            gp = (r.get("gof") or {}).get("pvalue")
            lines.append(f"  {n:>3s} {fmt(r['estimate']):>6s} {ci:>15s} "
                         f"{fmt(r['half_width']):>5s} {fmt(r['width']):>6s} "
                         f"{fmt(r['probit']['estimate']):>6s} "
                         f"{fmt((r.get('local') or {}).get('estimate')):>6s} "
                         f"{fmt(r['isotonic']['estimate']):>6s} "
                         f"{r['layers']:6d} {r['unknown']:4d} {fmt(gp, 3):>6s}"
                         + ("" if r.get("target_met", True) else "  (target not met)"))
    ex = summary.get("extrapolation") or {}
    for form in F.FORMS:
        e = ex.get(form)
        if not e:
            continue
        ci = (e.get("ci") or {}).get("c_inf")
        lines.append(f"Extrapolation {e['formula']} (n = {e['ns'][0]}..{e['ns'][-1]}): c_inf = "
                     f"{e['params']['c_inf']:.2f}, 95 % CI "
                     f"{'-' if ci is None else f'[{ci[0]:.2f}, {ci[1]:.2f}]'}, "
                     f"chi2 = {e['chi2']:.1f} / {e['dof']} dof")
    if ex.get("by_max_n"):
        lines.append("  c_inf against the largest n used: " + "; ".join(
            f"n<={d['max_n']}: " + ", ".join(
                f"{f} {d[f]['c_inf']:.2f}" + (f" [{d[f]['ci'][0]:.1f}, {d[f]['ci'][1]:.1f}]"
                                              if d[f]['ci'] else "") for f in F.FORMS)
            for d in ex["by_max_n"]))
    for d in ex.get("by_min_n") or []:
        lines.append(f"  with n >= {d['n_min']}: " + ", ".join(
            f"{f} c_inf {d[f]['c_inf']:.2f}" + (f" [{d[f]['ci'][0]:.2f}, {d[f]['ci'][1]:.2f}]"
                                               if d[f]['ci'] else "")
            + f" (chi2 {d[f]['chi2']:.1f} / {d[f]['dof']})" for f in F.FORMS))
    if ex.get("statement"):
        lines.append(f"  6.698: {ex['statement']}")
    n2 = summary.get("n2")
    if n2:
        lines.append(f"n = 2 closed form {n2['formula']}: over {n2['chi2_cells']} values of m, "
                     f"deviance {n2['deviance']:.1f} (Monte-Carlo p = "
                     f"{fmt(n2['deviance_pvalue'], 3)}), Pearson chi2 {n2['chi2']:.1f} (p = "
                     f"{fmt(n2['chi2_pvalue'], 3)}), smallest binomial p = "
                     f"{fmt(n2['min_binom_pvalue'], 3)} (Bonferroni: {fmt(n2['min_binom_pvalue_bonferroni'], 3)})")
        lines.append(f"  logistic c50 under the same design from the exact curve: "
                     f"{fmt(n2['c50_population_logit'], 3)} (in the data's CI: "
                     f"{n2['c50_population_in_ci']}); the exact curve crosses 1/2 at c = "
                     f"{fmt(n2['c50_closed_form_interpolated'], 3)}")
    for cv, bb in (summary.get("bias_bounds") or {}).items():
        if bb:
            lines.append(f"Bias sandwich c50_gauss(n) <= c50_{cv}(n) <= (n+1)/n c50_gauss(n+1): " +
                         "; ".join(f"n={e['n']}: {e['lower']:.2f} <= {e['c50_bias']:.2f} <= "
                                   f"{fmt(e['upper'])}" + ("" if e["consistent"] else " (!)")
                                   for e in bb))
    d = summary.get("dss")
    if d:
        lines.append(f"Figure 2 test (DSS at x = -mean) against the exact verdicts: wrong on "
                     f"{d['wrong']} of {d['layers']} layers (predicts injective, is not)")
    for cv, t in (summary.get("cross_checks") or {}).items():
        lines.append(f"Cross-check {cv}: {t['pairs']} paired layers, verdicts differ on "
                     f"{t['differ']}, violated relations {t['violations']}")
    return "\n".join(lines)


def markdown_table(summary, curve="gauss"):
    """The c50 table of one curve in Markdown (for the README)."""
    recs = summary["curves"].get(curve, {})
    target = summary.get("target_half_width")
    out = ["| n | c50 (logistic) | 95 % CI | ± | 10-90 % width | probit | isotonic (95 % CI) "
           "| layers | unknown |", "|---|---|---|---|---|---|---|---|---|"]
    for n, r in sorted(recs.items(), key=lambda kv: int(kv[0])):
        ci = "-" if r["ci"] is None else f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]"
        iso = r["isotonic"]
        isos = fmt(iso["estimate"]) + ("" if not iso["ci"] else
                                        f" [{iso['ci'][0]:.2f}, {iso['ci'][1]:.2f}]")
        hw = fmt(r["half_width"]) + ("" if r.get("target_met", True) else
                                      f" (**target ±{target:g} not met**)")
        out.append(f"| {n} | {fmt(r['estimate'])} | {ci} | {hw} | {fmt(r['width'])} | "
                   f"{fmt(r['probit']['estimate'])} | {isos} | {r['layers']} | {r['unknown']} |")
    return "\n".join(out)


def fill_readme(path, summary, curve="gauss"):
    """Replace the text between :data:`README_MARKERS` in ``path`` by
    :func:`markdown_table` of ``summary``; returns True if the file changed.

    Raises
    ------
    ValueError
        If the file does not hold both markers, in order.
    """
    path = pathlib.Path(path)
    text = path.read_text()
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"{path}: no {start} ... {end} block")
    new = text[:i + len(start)] + "\n\n" + markdown_table(summary, curve) + "\n\n" + text[j:]
    if new != text:
        path.write_text(new)
    return new != text


def readme_table(path):
    """The text between :data:`README_MARKERS` in ``path``, stripped (None without markers)."""
    text = pathlib.Path(path).read_text()
    start, end = README_MARKERS
    i, j = text.find(start), text.find(end)
    return None if i < 0 or j < i else text[i + len(start):j].strip()
