"""The plan of the phase study: settings, the harness tasks of one layer, and
the adaptive sampler (:func:`plan_round`, :class:`AdaptiveLadder`): a
coarse grid of ``c`` first, then rounds of layers where the fitted
probability is between 0.05 and 0.95, until the bootstrap interval of the
50 % point is at most ``+-target``."""
from __future__ import annotations

import math

import numpy as np

from .. import phasefit as F
from ..instances import instance_name
from ..ladder import Ladder
from ..methods import bruteforce_cost
from ..papers import phase_grid
from .curves import DECIDED, parse_curve

__all__ = ["QUICK", "FULL", "MAX_UNKNOWN_FRACTION", "settings", "make_task", "layer_tasks",
           "counts_by_m", "plan_round", "AdaptiveLadder", "ladders"]

#: the adaptive sampler stops a ladder whose last round had more unknowns than this
MAX_UNKNOWN_FRACTION = 0.2


QUICK = {"ns": [2, 3, 4], "c_min": None, "c_max": 10.0, "c_step": 1.0, "seeds": 6,
         "ci": 0.5, "max_layers": 150, "min_band": 0, "curves": ["gauss"]}
FULL = {"ns": list(range(2, 9)), "c_min": None, "c_max": 10.0, "c_step": 0.5, "seeds": 8,
        "ci": 0.1, "max_layers": 2500, "min_band": 400, "curves": ["gauss"]}



def settings(cfg):
    """Phase-study settings from a :class:`benchmarks.harness.Config`
    (``cfg.extra["phase_<key>"]`` overrides the defaults; ``c_min`` None:
    each curve's own, 2 for ``b = 0`` and biased layers, 1 on ``x >= 0``)."""
    d = dict(QUICK if cfg.quick else FULL)
    for k in d:
        if cfg.extra.get("phase_" + k) is not None:
            d[k] = cfg.extra["phase_" + k]
    if cfg.max_n is not None:
        d["ns"] = [n for n in d["ns"] if n <= cfg.max_n]
    d["curves"] = [parse_curve(c)["name"] for c in d["curves"]]
    return d


def make_task(curve, n, m, seed, method, time_limit):
    """One harness task of the phase suite."""
    spec = {"family": curve["family"], "n": n, "m": m, "seed": seed}
    if curve["s"] is not None:
        spec["s"] = curve["s"]
    task = {"kind": "layer", "suite": "papers", "family": curve["family"],
            "instance": instance_name(spec), "n": n, "m": m, "seed": seed,
            "ratio": round(m / n, 6), "eps": None, "bias": curve["s"] is not None,
            "method": method, "time_limit": time_limit, "spec": spec}
    if curve["s"] is not None:
        task["row_extra"] = {"bias_scale": curve["s"]}
    return task


def layer_tasks(curve, n, m, seed, time_limit):
    """The tasks of one layer: the curve's decider, and for ``b = 0`` the
    Figure 2 test and (tiny layers) the exact brute force on the same layer."""
    meths = [curve["decider"]]
    if curve["name"] == "gauss":
        meths.append("dss-mean")
    if curve["name"] != "nonneg" and bruteforce_cost(n, m) <= 2500:
        meths.append("bruteforce")
    return [make_task(curve, n, m, seed, meth, time_limit) for meth in meths]


def counts_by_m(rows, decider):
    """``{m: [injective, decided, unknown]}`` over the rows of ``decider``."""
    out = {}
    for r in rows:
        if r["method"] != decider:
            continue
        t = out.setdefault(int(r["m"]), [0, 0, 0])
        if r["verdict"] in DECIDED:
            t[1] += 1
            t[0] += r["verdict"] == "injective"
        else:
            t[2] += 1
    return out


def plan_round(counts, n, target, m_range, max_layers, resamples=400, seed=0, min_band=0):
    """The next round of the adaptive sampler, from the counts so far.

    Parameters
    ----------
    counts : ``{m: [injective, decided, unknown]}``.
    n : the input dimension; target : wanted half-width of the 95 % interval of c50.
    m_range : ``(m_lo, m_hi)``, the rows allowed; max_layers : cap on all layers of this n.
    min_band : do not stop before this many decided layers lie in the band
        (an interval estimated from few layers can be short by chance, and
        stopping on it would keep that chance; the rule guards against it).

    Returns
    -------
    ``(allocation, status)``: ``allocation`` maps ``m`` to the number of new
    layers (empty: stop); ``status`` is a dict with the current fit,
    interval, half-width and the reason for stopping (or None).

    Notes
    -----
    New layers go to every ``m`` whose fitted probability is in [0.05, 0.95]
    (and the two ``m`` around the fitted c50), in proportion to ``p (1 - p)``
    (the information a layer gives about the location of the curve). The
    round size aims at the target assuming the half-width shrinks like
    ``1 / sqrt(layers in the band)``: 60 % of the estimated shortfall, between
    24 and 240 layers.
    """
    ms = sorted(counts)
    c = np.array([m / n for m in ms])
    k = np.array([counts[m][0] for m in ms])
    N = np.array([counts[m][1] for m in ms])
    total = sum(sum(v[1:]) for v in counts.values())
    boot = F.bootstrap_transition(c, k, N, n_resamples=resamples, seed=seed)
    fit = boot["fit"]
    hw = F.half_width(boot["c50_ci"], fit.c50)
    status = {"c50": fit.c50, "ci": boot["c50_ci"], "half_width": hw, "layers": total,
              "stop": None}
    if fit.c50 is None:
        status["stop"] = "no transition in the sampled range (all verdicts equal)"
        return {}, status
    m_lo, m_hi = m_range
    cand = np.arange(m_lo, m_hi + 1)
    p = fit.p(cand / n)
    band = set(cand[(p >= 0.05) & (p <= 0.95)].tolist())
    centre = fit.c50 * n
    band |= {m for m in (math.floor(centre), math.ceil(centre)) if m_lo <= m <= m_hi}
    band = sorted(band)
    in_band = sum(counts.get(m, [0, 0, 0])[1] for m in band)
    status["band_layers"] = in_band
    if hw is not None and hw <= 0.9 * target and in_band >= min_band:
        status["stop"] = "target reached"
        return {}, status
    if total >= max_layers:
        status["stop"] = "layer cap reached"
        return {}, status
    if not band:
        status["stop"] = "the fitted transition lies outside the allowed range"
        return {}, status
    w = np.array([max(0.0475, float(fit.p(m / n)) * (1 - float(fit.p(m / n)))) for m in band])
    ratio = (hw / target) ** 2 if hw is not None else 4.0
    want = int(round(0.6 * max(in_band, 20) * max(ratio - 1.0, 0.25)))
    want = max(want, min_band - in_band)
    size = int(min(max(want, 24), 240, max_layers - total))
    if size <= 0:
        status["stop"] = "layer cap reached"
        return {}, status
    raw = size * w / w.sum()
    alloc = np.floor(raw).astype(int)
    for j in np.argsort(-(raw - alloc))[: size - alloc.sum()]:     # largest remainders
        alloc[j] += 1
    return {m: int(a) for m, a in zip(band, alloc) if a > 0}, status


class AdaptiveLadder(Ladder):
    """One (curve, n) of the phase study: a coarse grid first, then rounds
    from :func:`plan_round` until the interval of c50 meets the target.

    Deterministic given the rows (the bootstrap in :func:`plan_round` is
    seeded), so a resumed run replays the same rounds and reuses the stored
    rows. Seeds at each ``m`` are consecutive from 0.
    """

    def __init__(self, curve, n, st, time_limit):
        self.curve, self.n, self.st, self.tl = curve, n, st, time_limit
        c_min = st["c_min"] if st.get("c_min") is not None else curve["c_min"]
        grid = phase_grid(n, c_min, st["c_max"], st["c_step"])
        self.m_range = (int(round(c_min * n)), int(round(st["c_max"] * n)))
        self.next_seed = {m: 0 for m in grid}
        self.rows = []
        self.log = []
        super().__init__(("papers", curve["name"], n), [self._tasks({m: st["seeds"] for m in grid})],
                         rule="adaptive")

    def _tasks(self, alloc):
        tasks = []
        for m in sorted(alloc):
            s0 = self.next_seed.get(m, 0)
            for seed in range(s0, s0 + alloc[m]):
                tasks += layer_tasks(self.curve, self.n, m, seed, self.tl)
            self.next_seed[m] = s0 + alloc[m]
        return tasks

    def next_rung(self, ri, rows):
        self.rows += rows
        dec = [r for r in rows if r["method"] == self.curve["decider"]]
        unknown = sum(r["verdict"] not in DECIDED for r in dec)
        if dec and unknown > MAX_UNKNOWN_FRACTION * len(dec):
            self.log.append({"round": ri, "stop": f"{unknown} of {len(dec)} unknown"})
            return None
        alloc, status = plan_round(counts_by_m(self.rows, self.curve["decider"]), self.n,
                                   self.st["ci"], self.m_range, self.st["max_layers"],
                                   resamples=1000, seed=ri, min_band=self.st.get("min_band", 0))
        status["round"] = ri
        self.log.append(status)
        return self._tasks(alloc) if alloc else None


def ladders(cfg):
    """The adaptive ladders of the phase study, one per (curve, n)."""
    st = settings(cfg)
    tl = cfg.tl()
    return [AdaptiveLadder(parse_curve(c), n, st, tl) for c in st["curves"] for n in st["ns"]]
