"""Collapse: how far apart can two inputs with the same output be?

For a layer or network ``N`` that is not injective, a witness says *that*
two inputs collide. The collapse in a box says *how badly*:

    collapse_R(N) = max { ||z1 - z2||_inf : z1, z2 in [-R, R]^n, N(z1) = N(z2) }.

A rounding wedge (rows antiparallel only up to rounding) gives a number near
``1e-16 R``; a genuine failure gives a number of the order of ``R``.

Method
------
1. **Reduction.** If the layers after layer ``k`` are proved injective on the
   sets their inputs come from (``check_network(..., report_all_layers=True)``;
   Corollary 1 and Remark 1 of Puthawala et al.), then ``N(z1) = N(z2)`` iff
   the first ``k + 1`` layers agree, so only those are encoded.
2. **MILP.** Two copies of the (reduced) network over the box
   (:func:`solver.netmilp.encode_network`, big-M constants from
   :func:`solver.bounds.propagate_bounds`, never guessed), equal outputs,
   binaries ``p_j`` choosing the coordinate, ``t <= z1_j - z2_j + 2R (1 - p_j)``,
   ``sum p = 1``, maximise ``t`` (by the symmetry ``z1 <-> z2`` one sign
   suffices).
3. **Exact pair.** The two activation patterns of the MILP optimum define two
   closed polyhedra on which ``N`` is affine; an LP maximises ``z1_j - z2_j``
   over them (equal outputs, box), its optimal vertex is rebuilt in rational
   arithmetic from the tight rows, and the pair is checked exactly through
   every layer (:meth:`solver.network.Network.check_witness`) and against the
   box.

The reported value is that of the exact pair, so it is a proved *lower*
bound on the collapse; ``bound`` is the MILP's dual bound (an upper bound to
the solver's tolerances) and ``optimal`` says whether the MILP proved
optimality and the exact pair attains it (to 1e-6 relative). A MILP is a
search over a box with tolerances, never a proof of injectivity.

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022 (Theorem 1,
Corollary 1, Remark 1); Tjeng, Xiao, Tedrake, ICLR 2019 (MILP encodings).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .deadline import Deadline
from .exact import fmt_rational

__all__ = ["Collapse", "collapse", "DEFAULT_BACKEND", "DEFAULT_BACKEND_DEEP"]

#: HiGHS (scipy's) is the default for one layer: on the shared decoder's first
#: layer it finds and proves the optimum in ~3 s where SCIP needs 50-100 s
#: (measured, 2026-11-26; the LP relaxation of ``max t`` is weak, t = 2R, so
#: what matters is how fast the engine finds good pairs). For several layers
#: SCIP: on the two-copy 20-60-784 decoder MILP with a 2 s limit, HiGHS
#: returned after 24 s (scipy) / 28 s (ortools MathOpt), SCIP after 5 s.
DEFAULT_BACKEND = "scipy-highs"
DEFAULT_BACKEND_DEEP = "scip"


@dataclass(frozen=True)
class Collapse:
    """Result of :func:`collapse`.

    Attributes
    ----------
    value : Fraction or None, ``||z1 - z2||_inf`` of the exact pair (a proved
        lower bound on the collapse), None when no pair was found.
    z1, z2 : tuples of Fractions (exact; equal outputs checked exactly).
    box : R (the box is ``[-R, R]^n``).
    bound : float or None, the MILP's upper bound on the collapse.
    optimal : bool, MILP optimal and attained by the exact pair.
    layers : number of layers encoded (after the reduction).
    seconds : wall time; message : what happened; stats : counters.
    """
    value: Fraction | None
    z1: tuple | None
    z2: tuple | None
    box: float
    bound: float | None
    optimal: bool
    layers: int
    seconds: float
    message: str
    stats: dict

    def to_json(self) -> dict:
        return {"value": None if self.value is None else float(self.value),
                "value_exact": None if self.value is None else fmt_rational(self.value),
                "z1": None if self.z1 is None else [fmt_rational(v) for v in self.z1],
                "z2": None if self.z2 is None else [fmt_rational(v) for v in self.z2],
                "box": self.box, "bound": self.bound, "optimal": self.optimal,
                "layers_encoded": self.layers, "seconds": round(self.seconds, 6),
                "message": self.message, "stats": dict(self.stats)}


def _prefix(net, k):
    from .network import Network
    return Network(tuple(net.layers[:k + 1]))


def collapse(network, *, box, time_limit=None, backend=None, injective_after=None,
             start_pair=None, tighten=True) -> Collapse:
    """Largest ``||z1 - z2||_inf`` over ``z1, z2 in [-box, box]^n`` with equal outputs.

    Parameters
    ----------
    network : :class:`solver.network.Network` (a layer is a one-layer network;
        see :func:`solver.network.make_network`).
    box : R > 0.
    time_limit : seconds for the whole call (bounds, MILP, exact pair), or None.
    backend : MILP engine (:mod:`solver.backends`; default :data:`DEFAULT_BACKEND` for
        one layer, :data:`DEFAULT_BACKEND_DEEP` for several).
    injective_after : int or None. If given, the layers after this index are
        *known* (proved) injective on the sets their inputs come from, so only
        layers ``0..injective_after`` are encoded. The caller vouches for it.
    start_pair : optional known colliding pair ``(z1, z2)`` (e.g. a witness):
        the LP over its two closed regions gives a first exact pair, and the
        MILP is then asked only for better ones (scaled into the box when the
        network has no biases).
    tighten : LP bound tightening for the big-M constants.

    Returns
    -------
    Collapse (``value`` None when no pair was found, e.g. an injective
    network, or the limit was hit).

    Raises
    ------
    InputError for a non-positive box or a bad backend name.

    Examples
    --------
    >>> import numpy as np
    >>> from solver.network import make_network
    >>> net = make_network([np.array([[1.0, 0.0], [0.0, 1.0]])])   # ReLU(x): x <= 0 collapses
    >>> c = collapse(net, box=2.0)
    >>> float(c.value), c.optimal
    (2.0, True)
    """
    from .bounds import propagate_bounds
    from .netmilp import MilpBuilder, encode_network, solve_model
    from .lp import highs_lp
    from .network.pairs import PairDecider
    from .network.regions import region_of_pattern
    from .io import validate_box
    start = time.monotonic()
    R = validate_box(box)
    deadline = Deadline.after(time_limit, start).at

    def left(frac=1.0):
        return Deadline(deadline).share(frac)

    k = len(network.layers) - 1 if injective_after is None else int(injective_after)
    net = _prefix(network, k)
    n = net.n_in
    lo, hi = np.full(n, -R), np.full(n, R)
    Rq = Fraction(R)
    pd = PairDecider(net, n)
    stats = {}
    best = None          # (value, z1, z2) exact

    def consider(pair, how):
        nonlocal best
        if pair is None:
            return
        z1, z2 = pair
        ok, why = network.check_witness(z1, z2)
        if not ok:   # the reduction was wrong: the caller's claim about later layers is false
            raise AssertionError(f"internal: collapse pair fails through the network ({why})")
        if not all(-Rq <= v <= Rq for v in list(z1) + list(z2)):
            raise AssertionError("internal: collapse pair outside the box")
        val = max(abs(a - c) for a, c in zip(z1, z2))
        if best is None or val > best[0]:
            best = (val, tuple(z1), tuple(z2))
            stats["best_from"] = how

    sp = None
    if start_pair is not None:
        z1, z2 = [Fraction(v) for v in start_pair[0]], [Fraction(v) for v in start_pair[1]]
        top = max(abs(v) for v in z1 + z2)
        if top > Rq and _homogeneous(net):
            z1, z2 = [v * Rq / top for v in z1], [v * Rq / top for v in z2]
        if all(-Rq <= v <= Rq for v in z1 + z2):
            sp = (z1, z2)
            consider(sp, "start pair")
    # 1. pairs of the first layer alone collide in the whole network (cheap)
    if k > 0:
        first = collapse(_prefix(net, 0), box=R, time_limit=left(0.7), backend=backend,
                         start_pair=sp if sp is not None and
                         _prefix(net, 0).check_witness(*sp)[0] else None, tighten=tighten)
        if first.value is not None:
            consider((first.z1, first.z2), "first layer alone")
    # 2. a known colliding pair: the LP over its two closed regions (skipped
    # when the exact maps of wide layers would not fit in half the time left;
    # ~5e-5 s per unit and input coordinate, measured on the shared decoder)
    cost = 2 * 5e-5 * n * sum(L.W.shape[0] for L in net.layers) + 0.05 * n
    if sp is not None and (best is None or best[0] < 2 * Rq) and \
            (deadline is None or left() > 2 * cost):
        ra = region_of_pattern(net, _pattern(net, sp[0]), "all", R)
        rb = region_of_pattern(net, _pattern(net, sp[1]), "all", R)
        consider(_best_pair(pd, ra, rb, n, highs_lp, deadline), "start pair regions")
    if best is not None and best[0] >= 2 * Rq:
        stats["milp_status"] = "skipped: the pair attains the trivial bound 2R"
        return _result(best, R, 2 * R, True, k, network, start, stats)
    # 3. the MILP, asked only for pairs better than the incumbent (not started
    # with less than a quarter of the time left, or less than 5 s for several
    # layers: building it and the engine's own overrun take seconds)
    if deadline is not None and left() < max(0.25 * float(time_limit),
                                             5.0 if len(net.layers) > 1 else 0.0):
        stats["milp_status"] = "skipped: time limit"
        if best is None:
            return Collapse(None, None, None, R, None, False, k + 1, time.monotonic() - start,
                            "time limit reached before the MILP", stats)
        return _result(best, R, None, False, k, network, start, stats)
    bst = {}
    bounds = propagate_bounds(net, lo, hi, tighten=tighten, time_limit=left(0.3), stats=bst)
    stats["bound_lps"] = bst.get("lps", 0)
    B = MilpBuilder()
    e1 = encode_network(B, net, bounds, box=(lo, hi), prefix="a_")
    e2 = encode_network(B, net, bounds, box=(lo, hi), prefix="b_")
    B.add_rows([(1.0, e1.post[-1]), (-1.0, e2.post[-1])], 0.0, 0.0)
    p = B.add_binaries(n)
    cut = 0.0 if best is None else min(2 * R, float(best[0]) * (1 + 1e-6) + 1e-9 * R)
    t = B.add_var(cut, 2 * R, name="t", cost=-1.0)
    # t <= z1_j - z2_j + 2R (1 - p_j)
    B.add_rows([(1.0, np.full(n, t)), (-1.0, e1.z), (1.0, e2.z), (2 * R, p)], -np.inf, 2 * R)
    B.add_row(p, np.ones(n), 1.0, 1.0)
    stats.update(B.stats())
    budget = left()
    optimal = False
    bound = None
    if budget is not None and budget <= 0.05:
        stats["milp_status"] = "skipped: time limit"
    else:
        # leave time to rebuild the pair exactly (composed maps of every layer)
        share = 0.9 if len(net.layers) == 1 else 0.6
        engine = backend or (DEFAULT_BACKEND if len(net.layers) == 1 else DEFAULT_BACKEND_DEEP)
        sol, name = solve_model(B.build(), engine,
                                time_limit=None if budget is None else share * budget)
        stats.update(milp_backend=name, milp_status=sol.status.value,
                     milp_seconds=round(float(sol.seconds or 0.0), 6))
        bound = None if sol.bound is None else float(-sol.bound)
        if sol.status.value == "optimal" and sol.objective is not None:
            bound = float(-sol.objective) if bound is None else max(bound, float(-sol.objective))
        if sol.status.value == "infeasible" and best is not None:
            bound = cut       # nothing better than the incumbent (to the MILP's tolerance)
        if sol.x is not None:
            x = np.asarray(sol.x)
            ra = region_of_pattern(net, e1.decode_pattern(x), "all", R)
            rb = region_of_pattern(net, e2.decode_pattern(x), "all", R)
            before = best
            consider(_best_pair(pd, ra, rb, n, highs_lp, deadline), "MILP")
            if best is before:
                stats["milp_value"] = float(-sol.objective)
        # optimal: the exact pair meets the MILP's bound (relative 1e-6; no
        # absolute slack, so a pair far below the MILP's tolerance, e.g. in a
        # rounding wedge, is never called optimal)
        optimal = (best is not None and bound is not None and
                   sol.status.value in ("optimal", "infeasible") and
                   float(best[0]) >= bound * (1 - 1e-6))
    if best is None:
        return Collapse(None, None, None, R, bound, False, k + 1, time.monotonic() - start,
                        f"no colliding pair found in the box (MILP status "
                        f"{stats.get('milp_status')})", stats)
    return _result(best, R, bound, optimal, k, network, start, stats)


def _result(best, R, bound, optimal, k, network, start, stats):
    value, z1, z2 = best
    n = len(z1)
    msg = f"max ||z1 - z2||_inf over [-{R:g}, {R:g}]^{n}: exact pair at {float(value):.6g}"
    if Fraction(value) >= 2 * Fraction(R):
        msg += " = 2R, the largest possible (optimal, exactly)"
    else:
        msg += ((" (optimal to MILP tolerance)" if optimal else " (not proved optimal)")
                + (f", MILP bound {bound:.6g}" if bound is not None else ""))
    if k + 1 < len(network.layers):
        msg += f"; layers after {k} are injective on their inputs, so only layers 0..{k} encoded"
    return Collapse(value, z1, z2, R, bound, optimal, k + 1, time.monotonic() - start, msg, stats)


def _homogeneous(net):
    return all(not np.any(L.b) for L in net.layers)


def _pattern(net, z):
    """Activation pattern (True = pre-activation > 0) at an exact point; the
    closed region of this pattern contains z."""
    x = [Fraction(v) for v in z]
    out = []
    from .exact import layer_preactivations
    for L in net.layers:
        pre = layer_preactivations(L.W, L.b, x)
        out.append(np.array([v > 0 for v in pre]))
        x = L.activation.exact(pre)
    return out


def _best_pair(pd, ra, rb, n, fast_lp, deadline=None):
    """Maximise ``|z1_j - z2_j|`` over j, both signs, on the closed regions
    ``ra`` x ``rb`` with equal outputs (float LPs), then rebuild the best
    vertices exactly. Returns an exact pair or None (also when the deadline
    passes)."""
    sysm = pd._system(ra, rb)
    if sysm is None:
        return None
    A, a, E, e = sysm
    nv = 2 * n
    Af, af, _ = pd._floats(A, a)
    Ef, ef, _ = pd._floats(E, e)
    if not len(A):
        Af = np.zeros((0, nv))
    if not len(E):
        Ef = np.zeros((0, nv))
    Mf = np.vstack([Af, Ef])
    lo = np.concatenate([np.full(len(af), -np.inf), ef])
    hi = np.concatenate([af, ef])
    cands = []
    for j in range(n):
        for sg in (1, -1):
            if Deadline(deadline).expired():
                return None
            dvec = [0] * nv
            dvec[j], dvec[n + j] = sg, -sg
            dv = np.array(dvec, dtype=float)
            ok, u, _ = fast_lp(-dv, Mf, lo, hi)
            if ok and float(dv @ u) > 1e-12:
                cands.append((float(dv @ u), u, dvec))
    cands.sort(key=lambda c: -c[0])
    for val, u, dvec in cands[:5]:
        if Deadline(deadline).expired():
            return None
        x = pd._exact_point(A, a, E, e, Af, af, u, dvec)
        if x is not None:
            return [Fraction(v) for v in x[:n]], [Fraction(v) for v in x[n:]]
    return None
