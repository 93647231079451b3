"""The benchmark suites as plans: :class:`Config`, the layer tables and
ladders, the phase study's ladders (:mod:`benchmarks.phase`), the papers'
numbers, and :func:`build_plan`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instances import instance_name
from .inversion_suite import inversion_ladders
from .ladder import Ladder
from .methods import QUICK_BACKENDS, available_backends, bruteforce_ok, enumeration_available

__all__ = ["SUITES", "Config", "N_FULL", "QUICK_LAYERS", "FULL_LAYERS", "layer_methods",
           "layer_ladders", "phase_settings", "phase_ladders", "papers_numbers", "build_plan"]


SUITES = ("layers", "inversion", "papers")


@dataclass
class Config:
    quick: bool = False
    time_limit: float | None = None
    seeds: int | None = None
    max_n: int | None = None
    backends: list | None = None       # None: available ones
    methods: list | None = None        # restrict methods (labels or prefixes)
    families: list | None = None
    ratios: list | None = None         # restrict the layers suite to these m/n
    extra: dict = field(default_factory=dict)

    def tl(self):
        return self.time_limit if self.time_limit is not None else (20.0 if self.quick else 60.0)


N_FULL = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 64)


# (family, ratio c = m/n, eps, sizes)
QUICK_LAYERS = (
    ("gauss", 2, None, (2, 3, 4)), ("gauss", 4, None, (2, 3, 4)), ("gauss", 6, None, (2, 3, 4)),
    ("gaussbias", 4, None, (2, 3)),
    ("construct", 2, None, (2, 3, 4)), ("construct", 4, None, (2, 3)),
    ("shifted", 3, None, (2, 3)),
    ("tilt", 2, 1e-3, (2, 3, 4)),
    ("int", 4, None, (2, 3)), ("intbias", 4, None, (2, 3)),
)


FULL_LAYERS = (
    [("gauss", c, None, N_FULL) for c in (2, 2.5, 3, 4, 6, 8)]
    + [("gaussbias", c, None, N_FULL) for c in (2, 4, 6, 8)]
    + [("construct", c, None, N_FULL) for c in (2, 3, 4, 8)]
    + [("shifted", c, None, N_FULL) for c in (2, 4)]
    + [("tilt", 2, 1e-3, N_FULL), ("tilt", 2, 1e-4, N_FULL), ("tilt", 3, 1e-3, N_FULL)]
    + [("int", c, None, N_FULL) for c in (3, 4, 6)]
    + [("intbias", c, None, N_FULL) for c in (3, 6)]
)


def layer_methods(cfg, backends=None, enumeration=None):
    """Method labels for the layers suite."""
    if backends is None:
        backends = list(available_backends()) if cfg.backends is None else list(cfg.backends)
    if cfg.quick and cfg.backends is None:
        pref = [b for b in QUICK_BACKENDS if b in backends]
        backends = pref or backends[:3]
    methods = ["tree"] + [f"milp[{b}]" for b in backends]
    if not cfg.quick and "highs" in backends:
        methods.append("milp-fewactive[highs]")
    if enumeration is None:
        enumeration = enumeration_available()
    if enumeration:
        methods.append("enumerate")
    methods.append("bruteforce")
    if cfg.methods:
        methods = [m for m in methods if any(m == s or m.startswith(s) for s in cfg.methods)]
    return methods


def layer_ladders(cfg, methods):
    table = QUICK_LAYERS if cfg.quick else FULL_LAYERS
    seeds = cfg.seeds or (2 if cfg.quick else 5)
    tl = cfg.tl()
    ladders = []
    for fam, c, eps, sizes in table:
        if cfg.families and fam not in cfg.families:
            continue
        if cfg.ratios and not any(abs(c - r) < 1e-9 for r in cfg.ratios):
            continue
        sizes = [n for n in sizes if cfg.max_n is None or n <= cfg.max_n]
        for meth in methods:
            rungs, seen = [], set()
            for n in sizes:
                m = int(round(c * n))
                if meth == "bruteforce" and not bruteforce_ok(n, m, cfg.quick):
                    break
                if (n, m) in seen:
                    continue
                seen.add((n, m))
                rung = []
                for s in range(seeds):
                    spec = {"family": fam, "n": n, "m": m, "seed": s, "eps": eps}
                    rung.append({"kind": "layer", "suite": "layers", "family": fam,
                                 "instance": instance_name(spec), "n": n, "m": m, "seed": s,
                                 "ratio": c, "eps": eps,
                                 "bias": fam in ("gaussbias", "shifted", "intbias"),
                                 "method": meth, "time_limit": tl, "spec": spec})
                rungs.append(rung)
            if rungs:
                ladders.append(Ladder(("layers", fam, c, eps, meth), rungs))
    return ladders


def phase_settings(cfg):
    """Settings of the phase study (:func:`benchmarks.phase.settings`)."""
    from .phase import settings
    return settings(cfg)


def phase_ladders(cfg):
    """The exact phase transition: adaptive ladders, one per (curve, n)
    (:class:`benchmarks.phase.AdaptiveLadder`)."""
    from .phase import ladders
    return ladders(cfg)


def papers_numbers(cfg):
    """Theorem 6's c* and Figure 2 (computed in this process: NumPy only)."""
    from . import papers as P
    cstar = P.critical_expansivity()
    if cfg.extra.get("figure2") is False:
        return {"c_star": cstar, "c_star_equation": "erfc(1/sqrt(2c))/2 = 1/c",
                "lower_bound": P.LOWER_BOUND, "upper_bound": P.UPPER_BOUND,
                "statphys": P.STATPHYS}
    if cfg.quick:
        f2 = P.figure2(ns=(5, 10, 20), cs=np.arange(1.5, 8.01, 0.5), trials=40)
    else:
        f2 = P.figure2(ns=(5, 10, 20, 50, 100), cs=np.arange(1.5, 8.01, 0.25), trials=200)
    c50 = {}
    for n in sorted({p["n"] for p in f2}):
        pts = [p for p in f2 if p["n"] == n]
        c50[n] = P.fifty_percent_point([p["c"] for p in pts], [p["p_dss"] for p in pts])
    return {"c_star": cstar, "c_star_equation": "erfc(1/sqrt(2c))/2 = 1/c",
            "lower_bound": P.LOWER_BOUND, "upper_bound": P.UPPER_BOUND,
            "statphys": P.STATPHYS, "figure2": f2, "figure2_c50": c50}


def build_plan(cfg, suites):
    ladders = []
    info = {}
    if "layers" in suites:
        methods = layer_methods(cfg)
        info["layer_methods"] = methods
        ladders += layer_ladders(cfg, methods)
    if "inversion" in suites:
        ladders += inversion_ladders(cfg)
    if "papers" in suites:
        ladders += phase_ladders(cfg)
        info["phase"] = phase_settings(cfg)
    return ladders, info
