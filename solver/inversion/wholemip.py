"""The whole-network MIP inversion (``invert(peel=False)``, and the nearest
point of piecewise-linear heads on the default path): the algorithm of the
package docstring (:mod:`solver.inversion`), steps 1-5.

References
----------
R. Balestriero, S. Paris, R. Baraniuk, "Max-affine spline insights into deep
generative networks", Proposition 4 (inversion is an integer program).
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..deadline import Deadline
from .exactpair import exact_pair
from .mipmodel import (ambiguous_outputs, inversion_model, output_bounds, relaxation_infeasible,
                       solve_mip, target_tighten)
from .candidates import polish
from .problem import (DEFAULT_DELTA, DEFAULT_LATENT_BOX, DEFAULT_TOL, MIP_GAP, NORM_NAMES,
                      InversionResult, activation_pattern, make_result,
                      require_dense_piecewise_linear, residual_norm, tolerance, validate_inputs)

__all__ = ["invert_whole_mip"]


def _interval_search(network, x, lo, hi, bounds, lower, upper, *, tighten, deadline,
                     backend, threads, verbose, stats):
    """Nearest point in L-infinity: search over the intervals between
    consecutive target values.

    With ``t`` restricted to ``[e_k, e_{k+1}]`` (consecutive values of
    ``|x_i|`` of the relevant sign) every output unit's piece is decided, so
    the model has only the hidden units' binaries (and target tightening
    fixes most of those, once, at ``upper``: valid for every smaller ``t``).
    Feasibility is monotone in ``k``. The LP relaxation screens intervals
    (bisection; an LP-infeasible interval is a proof). The MIP of the
    incumbent's interval is solved first (fast: it is feasible), then
    bisection over the intervals below proves or improves it; the MIP optimum
    of the smallest feasible interval is the global optimum. Proving an
    interval just below the optimum infeasible is the expensive step, so each
    of those MIPs gets at most half of the remaining time; when one stops, the
    best point is returned unproved.

    Returns ``(status, sol, enc, lower, phase)`` with status ``"solved"``,
    ``"infeasible"`` or ``"stopped"``.
    """
    from ..backends import MilpStatus
    from ..lp import PersistentLP
    a = network.layers[-1].activation.slope
    vals = x[x > 0] if a < 1 else -x[x < 0]
    edges = np.unique(np.concatenate([[lower, upper], vals[(vals > lower) & (vals < upper)]]))
    K = len(edges) - 1
    info = stats["nearest_phase"] = {"intervals": int(K), "r_ub": upper, "mips": 0,
                                     "mip_seconds": 0.0}
    bnd, fx = bounds, None
    if tighten:
        tst = {}
        b2, f2, infeasible = target_tighten(
            network, x, lo, hi, bounds, "linf", upper, stats=tst,
            deadline=Deadline(deadline).portion(0.3).at)
        info["tightening"] = tst
        if not infeasible:  # infeasible would contradict the incumbent: ignore
            bnd, fx = b2, f2

    def model(k):
        return inversion_model(network, x, lo, hi, bnd, "linf", float(edges[k + 1]),
                               r_lb=float(edges[k]), fixed=fx)

    def lp_feasible(k):
        B, enc, rv, _ = model(k)
        lp = PersistentLP(B.matrix(), B.row_lb, B.row_ub, B.lb, B.ub)
        # stopped at the deadline: not a proof, so "feasible"
        return lp.extreme(int(rv[0]), +1, Deadline(deadline).remaining(floor=1e-3))[1] \
            != "infeasible"

    lo_k, hi_k = 0, K - 1
    screens = 0
    while lo_k < hi_k and not Deadline(deadline).expired():
        mid = (lo_k + hi_k) // 2
        screens += 1
        if lp_feasible(mid):
            hi_k = mid
        else:
            lo_k = mid + 1
    info["lp_screens"] = screens
    if lo_k > 0:
        lower = max(lower, float(edges[lo_k]))
    results = {}

    def mip(k, cap=None):
        """'optimal' / 'feasible' (limit hit with a point) / 'infeasible' / 'unknown'."""
        B, enc, rv, ob = model(k)
        dl = Deadline(deadline).portion(1.0 if cap is None else cap).at
        sol, name = solve_mip(B, backend, dl, threads, verbose)
        info["mips"] += 1
        info["mip_seconds"] = round(info["mip_seconds"] + sol.seconds, 4)
        info.setdefault("binaries", B.stats()["binaries"])
        results[k] = (sol, enc, name)
        if sol.status is MilpStatus.INFEASIBLE:
            return "infeasible"
        if sol.status is MilpStatus.OPTIMAL:
            return "optimal"
        return "feasible" if sol.x is not None else "unknown"

    # (a) the incumbent's interval (feasible: it contains the incumbent), or the
    # first feasible one above it
    inc_k = int(np.clip(np.searchsorted(edges, upper * (1 - 1e-6), side="right") - 1, 0, K - 1))
    k = max(lo_k, inc_k)
    good = None
    while True:
        s1 = mip(k)
        if s1 in ("optimal", "feasible"):
            good = k
            break
        if s1 == "unknown" or k == K - 1:
            break
        lower = max(lower, float(edges[k + 1]))
        k += 1
    if good is None:
        sol, enc, name = results.get(k, (None, None, None))
        return "stopped", sol, enc, lower, None
    # (b) bisection over the intervals below. Infeasibility of interval j proves
    # every interval below it infeasible too (monotone), so ``lower`` only grows.
    # A MIP that stops (at most a quarter of the remaining time each: proofs
    # just below the optimum are the hard part) is passed over as if
    # infeasible, unproved: the search still finds the smallest interval whose
    # MIP is quickly feasible.
    lo_b = lo_k
    while lo_b < good and not Deadline(deadline).expired():
        mid = (lo_b + good) // 2
        s2 = mip(mid, cap=0.25)
        if s2 in ("optimal", "feasible"):
            good = mid
        else:
            lo_b = mid + 1
            if s2 == "infeasible":
                lower = max(lower, float(edges[mid + 1]))
    sol, enc, name = results[good]
    proved = lower >= edges[good] and sol.status is MilpStatus.OPTIMAL
    info["interval"] = [float(edges[good]), float(edges[good + 1])]
    info["proved_lower"] = lower
    return ("solved" if proved else "stopped"), sol, enc, lower, \
        (bnd, fx, float(edges[good + 1]), name, float(edges[good]))


def _level_search(solve_at, lower, upper, norm_tol, network, x, lo, hi, bounds, norm,
                  tighten, deadline, stats):
    """Nearest point for L1 (or identity outputs): MIPs with residual
    ``<= rho``; the LP relaxation screens levels (bisection on a log scale),
    then ``rho`` grows by 4x until the MIP is feasible, and that MIP's
    optimum is the global one. Returns like :func:`_interval_search`."""
    rho = upper
    if lower < upper / 4 and tighten:
        lo0 = max(lower, norm_tol)
        lo_r, hi_r = lo0, upper
        screens = 0
        while hi_r / lo_r > 4 and screens < 12 and not Deadline(deadline).expired():
            mid = math.sqrt(lo_r * hi_r)
            screens += 1
            if relaxation_infeasible(network, x, lo, hi, bounds, norm, mid, deadline):
                lo_r = mid
            else:
                hi_r = mid
        if lo_r > lo0:
            lower = max(lower, lo_r)
        stats["screening"] = {"lps": screens, "lower": lower, "first_level": hi_r}
        rho = hi_r
    levels = 0
    while True:
        levels += 1
        key = "nearest_phase" if levels == 1 else f"nearest_phase_{levels}"
        st, sol, enc, ph = solve_at(rho, key)
        if st == "infeasible" and rho < upper:
            lower = max(lower, rho)
            rho = min(upper, 4 * rho)
            continue
        break
    stats["levels"] = levels
    if st == "stopped" and sol is not None and sol.bound is not None and np.isfinite(sol.bound):
        # no point of the model (residual <= rho) is below the MIP bound, and
        # points outside the model have residual > rho
        lower = max(lower, min(float(sol.bound), rho))
    return st, sol, enc, lower, ph


def invert_whole_mip(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, time_limit=None,
                     backend=None, uniqueness=True, delta=DEFAULT_DELTA, tol=DEFAULT_TOL,
                     tighten=True, threads=1, verbose=False, seed=0, exact_phase=True,
                     lower0=0.0, start=None, stats=None, method_prefix="mip"
                     ) -> InversionResult:
    """Invert a ReLU generator by mixed-integer programming over the whole
    network (the algorithm of the module docstring; ``invert(peel=False)``).

    ``exact_phase=False`` skips the exact-phase MIP when the caller has
    already proved that no ``z`` reproduces the target (``lower0``: a proved
    lower bound on the residual in ``norm``); ``start`` and ``stats`` let the
    caller's time and counters continue.

    Parameters
    ----------
    network : :class:`solver.network.Network` (relu / leaky / identity layers).
    x : array of length ``network.n_out``, the target.
    norm : ``"linf"`` (default) or ``"l1"``: the residual minimised.
    latent_box : float R (box ``[-R, R]^n``; default 5.0), array of R's, or
        ``(lo, hi)``. Always reported in the result.
    time_limit : seconds for everything (bounds, MIPs), or None.
    backend : MILP backend name (default :data:`solver.backends.DEFAULT_BACKEND`).
    uniqueness : run the uniqueness MIP (default True).
    delta : separation for uniqueness, ``||z' - z||_inf >= delta`` (default 1e-3).
    tol : relative tolerance: ``exact`` means
        ``||G(z) - x||_inf <= tol * max(1, ||x||_inf)`` in floating point.
    tighten : LP bound tightening (default True); interval bounds otherwise.
    threads : passed to the backend.
    seed : for the gradient-descent restarts that seed the nearest phase.

    Returns
    -------
    :class:`InversionResult`; ``to_json()`` gives ``{"status", "z",
    "residual", "optimal", "unique", "second_preimage", "seconds", "method",
    "latent_box", ...}``.

    Notes
    -----
    ``optimal`` and ``unique`` are statements about the box and hold to the
    MILP backend's feasibility and gap tolerances: the MIP is solved in
    floating point. The residual of the returned ``z`` is recomputed by a
    floating-point forward pass; a non-injectivity witness is checked in exact
    rational arithmetic. See the module docstring for the formulation.

    References
    ----------
    Balestriero et al., "Max-affine spline insights into deep generative
    networks", Prop. 4. Tjeng et al. 2019 (big-M MIP). Lei et al. 2019 and
    Bora et al. 2017 for the heuristics used as incumbents.
    """
    from ..backends import DEFAULT_BACKEND, MilpStatus
    from ..bounds import propagate_bounds
    start = time.monotonic() if start is None else start
    deadline = Deadline.after(time_limit, start).at
    norm, x, lo, hi = validate_inputs(network, x, norm, latent_box, delta, tol)
    require_dense_piecewise_linear(network, "the whole-network MIP (peel=False, --no-peel)")
    from ..backends import get_backend
    be_name = backend or DEFAULT_BACKEND
    backend = get_backend(be_name)  # an unknown/unavailable name fails here, before any work
    method = f"{method_prefix}[{getattr(backend, 'name', be_name)}]"
    stats = {} if stats is None else stats
    tol_abs = tolerance(x, tol)
    norm_tol = tol_abs if norm == "linf" else tol_abs * len(x)

    # 1. bounds (hidden layers tightened; output units later, only ambiguous ones)
    bst = {}
    left = Deadline(deadline).remaining()
    bounds = propagate_bounds(network, lo, hi, tighten=tighten, output_units=[],
                              time_limit=None if left is None else 0.3 * left, stats=bst)
    stats["bounds"] = {"seconds": round(bst["seconds"], 4), "lps": bst["lps"],
                       "unstable_hidden": int(sum(
                           ((l < 0) & (h > 0)).sum() for (l, h), L in
                           zip(bounds[:-1], network.layers[:-1]) if not L.activation.is_identity))}

    def finish_mip(sol, enc):
        z = np.clip(sol.x[enc.z], lo, hi)
        pats = [enc.decode_pattern(sol.x)[:-1]]
        # decoded pattern lacks the output layer: take it from the float point
        full = []
        for p in pats:
            op = activation_pattern(network, z)[-1]
            full.append(list(p) + [op])
        return polish(network, z, x, lo, hi, norm, patterns=full, deadline=deadline)

    def solve_at(rho, key):
        """The MIP with residual <= rho: output big-M bounds for the ambiguous
        units, sign fixing under the target, then the backend. Returns
        ``(status, sol, enc, phase)`` with status "infeasible", "solved" or
        "stopped"."""
        if Deadline(deadline).expired():
            stats.setdefault(key, {})["status"] = "not started (time limit)"
            return "stopped", None, None, None
        amb = ambiguous_outputs(network, x, rho)
        bnd = output_bounds(network, lo, hi, bounds, amb, deadline, stats, key + "_bounds") \
            if tighten else bounds
        fx = None
        info = stats.setdefault(key, {})
        info["r_ub"] = rho
        if tighten:
            tst = {}
            bnd, fx, infeasible = target_tighten(
                network, x, lo, hi, bnd, norm, rho, stats=tst,
                deadline=Deadline(deadline).portion(0.3).at)
            info["tightening"] = tst
            if infeasible:
                info["status"] = "infeasible (LP relaxation under the target)"
                return "infeasible", None, None, None
        B, enc, rv, ob = inversion_model(network, x, lo, hi, bnd, norm, rho, fixed=fx)
        info.update(B.stats(), output_binaries=int((ob >= 0).sum()))
        sol, name = solve_mip(B, backend, deadline, threads, verbose)
        info.update(status=sol.status.value, seconds=round(sol.seconds, 4))
        st = "infeasible" if sol.status is MilpStatus.INFEASIBLE else \
            "solved" if sol.status is MilpStatus.OPTIMAL else "stopped"
        return st, sol, enc, (bnd, fx, rho, name, 0.0)

    z_best = None
    status = "unknown"
    optimal = False
    bound = None
    message = ""
    phase = None  # (bounds, fixed, r_ub, backend, r_lb) of the model that produced z_best
    # 2. exact phase: residual <= tolerance
    if exact_phase:
        st, sol, enc, ph = solve_at(norm_tol, "exact_phase")
    else:
        st, sol, enc, ph = "skipped", None, None, None
    if ph is not None:
        method = f"{method_prefix}[{ph[3]}]"
    lower = norm_tol if st == "infeasible" else 0.0  # proved: optimum > lower
    lower = max(lower, float(lower0))
    if sol is not None and sol.x is not None:
        z = finish_mip(sol, enc)
        res = float(np.max(np.abs(network.forward(z) - x)))
        if res <= tol_abs:
            z_best, status, optimal, bound, phase = z, "exact", True, 0.0, ph
            message = "G(z) reproduces the target to tolerance (floating-point forward pass)"
        else:
            z_best = z
            message = f"exact-phase MIP point has residual {res:.3g} after polishing"

    # 3. nearest phase
    if status != "exact":
        from .baselines import gradient_descent, layerwise_lp
        cands = [np.clip(np.zeros(network.n_in), lo, hi)]
        if z_best is not None:
            cands.append(z_best)
        starts = []
        # the heuristics get shares of the time left, and are skipped once it is up
        # (their set-up alone, dense LP rows for a wide layer, takes a fraction of a second)
        try:
            if not Deadline(deadline).expired():
                r = layerwise_lp(network, x, norm=norm, latent_box=(lo, hi),
                                 time_limit=Deadline(deadline).share(0.2))
                if r.z is not None:
                    cands.append(np.array(r.z))
                    starts.append(np.array(r.z))
        except Exception:  # a heuristic failing must not stop the exact method
            pass
        # gradient descent from the layer-wise point and a few random starts
        if not Deadline(deadline).expired():
            r = gradient_descent(network, x, norm=norm, latent_box=(lo, hi), restarts=4,
                                 steps=500, seed=seed,
                                 z_init=np.array(starts) if starts else None,
                                 time_limit=Deadline(deadline).share(0.2))
            cands.append(np.array(r.z))
        cands = [polish(network, c, x, lo, hi, norm, deadline=deadline) for c in cands]
        scores = [residual_norm(network.forward(c) - x, norm) for c in cands]
        inc = cands[int(np.argmin(scores))]
        inc_val = float(min(scores))
        stats["incumbent"] = inc_val
        upper = inc_val * (1 + 1e-6) + norm_tol
        z_best, status, optimal, phase = inc, "nearest", False, None
        if inc_val <= lower * (1 + 1e-9) + 1e-12:
            # the incumbent attains a lower bound proved before any MIP
            st, sol, good, ph = "bound", None, None, None
        elif norm == "linf" and not network.layers[-1].activation.is_identity:
            st, sol, good, lower, ph = _interval_search(
                network, x, lo, hi, bounds, lower, upper, tighten=tighten, deadline=deadline,
                backend=backend, threads=threads, verbose=verbose, stats=stats)
        else:
            st, sol, good, lower, ph = _level_search(solve_at, lower, upper, norm_tol,
                                                     network, x, lo, hi, bounds, norm,
                                                     tighten, deadline, stats)
        if ph is not None:
            method = f"{method_prefix}[{ph[3]}]"
        if sol is not None and sol.x is not None:
            z = finish_mip(sol, good)
            if residual_norm(network.forward(z) - x, norm) <= \
                    residual_norm(network.forward(z_best) - x, norm):
                z_best = z
        obj = residual_norm(network.forward(z_best) - x, norm)
        name = f"{NORM_NAMES[norm]} residual"
        if st == "solved":
            # the MIP that solved is the global one (every lower interval/level
            # was proved infeasible): its dual bound is a global lower bound
            mb = None if sol is None or sol.bound is None or not math.isfinite(sol.bound) \
                else float(sol.bound)
            bound = max(lower, min(obj, mb if mb is not None else obj * (1 - MIP_GAP)))
            optimal, phase = True, ph
            message = (f"optimal: no z in the box has an {name} below {bound:.6g} "
                       f"(this point: {obj:.6g}; MIP bound, to the backend's tolerances)")
        elif st == "infeasible":
            bound = lower
            message = ("MIP reported infeasible at the incumbent's level (numerical "
                       "trouble); returning the incumbent")
        else:  # (a MIP's own bound is only global in the level search, which folds it in)
            bound = lower
            message = "best point found, not proved optimal (a MIP stopped at its time share)"
        if not optimal and obj <= lower * (1 + 1e-9) + 1e-12:
            # the point attains the proved lower bound
            optimal, bound = True, lower
            message = (f"optimal: the {name} of this point equals the proved lower bound "
                       f"{lower:.6g}")
        if not optimal:
            message += f"; proved: no z in the box has an {name} below {lower:.6g}"
        res = float(np.max(np.abs(network.forward(z_best) - x)))
        if res <= tol_abs:
            status, optimal = "exact", True

    # 4. uniqueness
    unique, second, witness = None, None, None
    if uniqueness and z_best is not None and status in ("exact", "nearest") and optimal:
        if Deadline(deadline).expired():
            stats["uniqueness"] = {"status": "skipped (time limit)"}
        else:
            obj = residual_norm(network.forward(z_best) - x, norm)
            eps = norm_tol if status == "exact" else obj * (1 + 1e-6) + norm_tol
            pb, pfx, pr, _, plb = phase if phase is not None else \
                (bounds, None, -np.inf, None, 0.0)
            if eps > pr:  # the phase's tightening is only valid up to its r_ub
                pb, pfx = bounds, None
            # r_lb: a proved lower bound on every residual (linf only)
            plb = min(plb, eps) if norm == "linf" else 0.0
            amb = ambiguous_outputs(network, x, eps, plb)
            if amb.any() and tighten:
                pb = output_bounds(network, lo, hi, pb, amb, deadline, stats,
                                   "uniqueness_bounds")
            built = inversion_model(network, x, lo, hi, pb, norm, eps, away=(z_best, delta),
                                    fixed=pfx, r_lb=plb)
            if built is None:
                unique = True  # the box is narrower than delta around z
                stats["uniqueness"] = {"status": "box narrower than delta"}
            else:
                B, enc, rv, ob = built
                B.cost = [0.0] * B.nvars  # pure feasibility: stop at the first z'
                sol, be_name = solve_mip(B, backend, deadline, threads, verbose)
                stats["uniqueness"] = {**B.stats(), "status": sol.status.value,
                                       "seconds": round(sol.seconds, 4), "eps": eps}
                if sol.status is MilpStatus.INFEASIBLE:
                    unique = True
                elif sol.x is not None:
                    z2 = np.clip(sol.x[enc.z], lo, hi)
                    z2 = polish(network, z2, x, lo, hi, norm, keep_far=(z_best, delta),
                                deadline=deadline)
                    d2 = network.forward(z2) - x
                    r2 = residual_norm(d2, norm)
                    stats["uniqueness"]["second_residual"] = float(np.max(np.abs(d2)))
                    if r2 <= eps and np.max(np.abs(z2 - z_best)) >= delta:
                        unique = False
                        second = z2
                        if status == "exact":
                            pair = exact_pair(network, z_best, z2)
                            if pair is not None:
                                from ..result import Witness
                                witness = Witness.of(pair)
                    else:
                        # the MIP's point is a second preimage only up to the
                        # engine's feasibility tolerance: not proved, say so
                        stats["uniqueness"]["status"] += (
                            f"; its point has residual {r2:.3g} > {eps:.3g} after polishing: "
                            "not a second preimage to tolerance")
    return make_result(status, z_best, network, x, norm, lo, hi, start, method, optimal=optimal,
                       unique=unique, second=second, bound=bound, witness=witness, message=message,
                       delta=delta if uniqueness else None, stats=stats)
