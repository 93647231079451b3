"""The default inversion (issue 15): the target's structure first
(:mod:`solver.inversion.peel`, :mod:`solver.inversion.exactphase`), then the
nearest point: the whole-network MIP for piecewise-linear heads, level MIPs
of the interval target for sigmoid/tanh heads (:func:`nearest_monotone_head`)."""
from __future__ import annotations

import math
import time

import numpy as np

from ..deadline import Deadline
from .exactphase import gd_candidates, solve_box_mip, solve_exact_phase
from .mipmodel import MAX_MIP_BINARIES, box_model, mip_binaries
from .nearest import region_walk
from .candidates import descend
from .problem import (MIP_GAP, make_result, output_residual, pre_activation_network,
                      residual_norm, tolerance, validate_inputs)
from .wholemip import invert_whole_mip

__all__ = ["invert_peeled", "nearest_monotone_head"]


def invert_peeled(network, x, *, norm, latent_box, time_limit, backend, uniqueness, delta, tol,
                  tighten, threads, verbose, seed):
    """The default path of :func:`solver.inversion.invert` (its Notes, steps
    1 to 6), as its named steps on one :class:`_Peeled` state object."""
    run = _Peeled(network, x, norm=norm, latent_box=latent_box, time_limit=time_limit,
                  backend=backend, uniqueness=uniqueness, delta=delta, tol=tol, tighten=tighten,
                  threads=threads, verbose=verbose, seed=seed)
    ex = run.exact_phase()                          # 1-5: peel, refine, exact, unique
    if ex.status == "exact":
        return run.finish(ex, *run.exact_answer(ex))
    lower, fwd = run.range_bound(ex)                # 6: nearest, from a proved lower bound
    big = run.too_big_for_mip(fwd)
    if big and run.norm == "l1":
        return run.finish(ex, run.nearest_l1_without_mip(ex, lower))
    if run.pl_head and not big:
        return run.finish(ex, *run.nearest_by_mip(ex, lower))
    if run.norm == "linf":
        return run.finish(ex, run.nearest_monotone(ex, fwd, lower))
    return run.finish(ex, run.nearest_l1_preactivation())


class _Peeled:
    """The state of one :func:`invert_peeled` call: the validated problem,
    the head, the warnings and counters; each step is a method."""

    def __init__(self, network, x, *, norm, latent_box, time_limit, backend, uniqueness,
                 delta, tol, tighten, threads, verbose, seed):
        from . import peel as P
        from ..backends import DEFAULT_BACKEND, get_backend
        self.start = time.monotonic()
        self.deadline = Deadline.after(time_limit, self.start).at
        self.norm, self.x, self.lo, self.hi = validate_inputs(network, x, norm, latent_box,
                                                              delta, tol)
        x = self.x
        self.network, self.time_limit, self.backend = network, time_limit, backend
        self.uniqueness, self.delta, self.tol, self.tighten = uniqueness, delta, tol, tighten
        self.threads, self.verbose, self.seed = threads, verbose, seed
        self.be = get_backend(backend or DEFAULT_BACKEND)
        self.head = head = network.layers[-1].activation
        self.kind = head.kind
        for L in network.layers[:-1]:
            L.activation.require_piecewise_linear("invert (a sigmoid/tanh layer is only "
                                                  "supported as the last layer)")
        self.pl_head = head.piecewise_linear
        self.prenet = pre_activation_network(network)
        self.warnings = []
        self.oor = oor = P.out_of_range(head, x)
        if oor.any():
            rlo, rhi = head.range
            d = float(np.max(np.maximum(rlo - x, x - rhi)))
            rng = head.output_set(1)[:-2]
            self.warnings.append(f"{int(oor.sum())} target value(s) at or beyond the range "
                                 f"{rng} of the {self.kind} output (largest excess {d:.3g}): "
                                 "the output residual is at least the excess")
        self.stats: dict = {}

    def exact_phase(self):
        """Steps 1-5 (:func:`solve_exact_phase`) on the exact problem: for a
        sigmoid/tanh head and a target inside the open range, the
        pre-activation problem against act^-1(x) (issue 15)."""
        if not self.pl_head and not self.oor.any():
            self.space, self.ex_net, self.ex_x = ("pre-activation", self.prenet,
                                                  self.head.inverse(self.x))
        else:
            self.space, self.ex_net, self.ex_x = "output", self.network, self.x
        self.eps = eps = tolerance(self.ex_x, self.tol)
        self.stats["exact_phase"] = {"space": self.space, "eps": eps}
        ex = solve_exact_phase(self.ex_net, self.ex_x, eps, self.lo, self.hi, delta=self.delta,
                               uniqueness=self.uniqueness, deadline=self.deadline,
                               backend=self.be, threads=self.threads, verbose=self.verbose,
                               seed=self.seed, tighten=self.tighten, stats=self.stats)
        if ex.uniq:
            self.stats["uniqueness"] = ex.uniq
        return ex

    def finish(self, ex, res, kw=None):
        """The result with the peel's record, the larger binary count, the
        warnings and the total time."""
        from dataclasses import replace
        b = [v for v in (res.binaries, ex.binaries) if v is not None]
        return replace(res, seconds=time.monotonic() - self.start, peel=ex.peel,
                       binaries=max(b) if b else None,
                       warnings=tuple(self.warnings) + tuple(res.warnings), **(kw or {}))

    def exact_answer(self, ex):
        """``(result, extra fields)`` for a point within ``eps``."""
        network, x, norm, lo, hi = self.network, self.x, self.norm, self.lo, self.hi
        uniqueness = self.uniqueness
        res = make_result("exact", ex.z, network, x, norm, lo, hi, self.start, ex.method,
                          optimal=True, unique=ex.unique if uniqueness else None,
                          second=ex.second, bound=0.0, witness=ex.witness, message=ex.message,
                          delta=self.delta if uniqueness else None, stats=self.stats)
        kw = {}
        if self.space == "pre-activation":
            ez = np.asarray(ex.z)
            kw = dict(space=self.space, output_objective=res.objective,
                      objective=residual_norm(self.ex_net.forward(ez) - self.ex_x, norm),
                      message=res.message.replace(
                          "G(z) reproduces the target to tolerance",
                          f"the last layer's pre-activations reproduce {self.kind}^-1(x) to "
                          f"{self.eps:.3g}") + f"; output L-inf residual {res.residual:.3g}")
        return res, dict(uniqueness_method=ex.umethod, **kw)

    def range_bound(self, ex):
        """The first proved lower bound of the nearest phase (output space for
        L-inf): what the reachable range of each output unit alone forces (a
        pixel below 0 under a ReLU or sigmoid head costs at least its
        distance to the range); ``(lower, forward bounds)``."""
        from . import peel as P
        fwd = ex.fwd if ex.fwd is not None else P.forward_bounds(self.network, self.lo, self.hi)
        lb = P.range_lower_bound(self.head, self.x, *fwd[-1])
        lower = self.eps if (ex.status == "none" and self.space == "output") else 0.0
        if len(lb):
            lower = max(lower, float(np.max(lb)) if self.norm == "linf" else float(np.sum(lb)))
        self.stats["range_bound"] = lower
        return lower, fwd

    def too_big_for_mip(self, fwd):
        return any(L.is_sparse for L in self.network.layers) or \
            mip_binaries(self.network, fwd) > MAX_MIP_BINARIES

    def nearest_l1_without_mip(self, ex, lower):
        """No whole-network MIP at this size: the best heuristic point, the
        range bound (sum over the outputs) as the proved bound."""
        network, prenet, x, lo, hi = self.network, self.prenet, self.x, self.lo, self.hi
        deadline = self.deadline
        cands = ([] if ex.z is None else [ex.z]) + gd_candidates(network, x, lo, hi, self.seed,
                                                                 deadline)
        cands = [descend(network, prenet, x, c, lo, hi, deadline=deadline) for c in cands]
        z = min(cands, key=lambda v: residual_norm(network.forward(v) - x, "l1"))
        obj = residual_norm(network.forward(z) - x, "l1")
        opt = obj * (1 - MIP_GAP) <= lower
        return make_result("nearest", z, network, x, "l1", lo, hi, self.start, "peel",
                           optimal=opt, bound=lower, stats=self.stats,
                           message=(f"optimal: the L1 residual equals the range bound "
                                    f"{lower:.6g}" if opt else
                                    f"best point found (no MIP: the network is too large); "
                                    f"proved: no z in the box has an L1 output residual below "
                                    f"{lower:.6g}"))

    def nearest_by_mip(self, ex, lower):
        """Piecewise-linear heads: the whole-network MIP search, with the
        peel's proof that no point is within ``eps`` as its lower bound."""
        from dataclasses import replace
        stats = self.stats
        res = invert_whole_mip(self.network, self.x, norm=self.norm, latent_box=(self.lo, self.hi),
                               time_limit=self.time_limit, backend=self.backend,
                               uniqueness=self.uniqueness, delta=self.delta, tol=self.tol,
                               tighten=self.tighten, threads=self.threads, verbose=self.verbose,
                               seed=self.seed,
                               exact_phase=not (ex.status == "none" or ex.mip_tried), lower0=lower,
                               start=self.start, stats=stats, method_prefix="peel+mip")
        b = [v.get("binaries") for v in stats.values() if isinstance(v, dict) and
             v.get("binaries") is not None]
        res = replace(res, binaries=max(b) if b else None)
        return res, dict(uniqueness_method="MIP" if res.unique is not None else None)

    def nearest_monotone(self, ex, fwd, lower):
        """L-inf with a sigmoid/tanh head (or a network too large for the
        whole-network MIP): :func:`nearest_monotone_head`."""
        return nearest_monotone_head(self.network, self.prenet, self.x, self.lo, self.hi, fwd,
                                     ex.z, lower, tolerance(self.x, self.tol), self.be,
                                     self.deadline, self.threads, self.verbose, self.seed,
                                     self.stats, self.start)

    def nearest_l1_preactivation(self):
        """L1 with a sigmoid/tanh head: the pre-activation problem against
        act^-1 of the target (clipped into the open range, with a warning)."""
        from dataclasses import replace
        network, x, head, kind = self.network, self.x, self.head, self.kind
        c = max(self.tol, 1e-12)
        rlo, rhi = head.range
        xc = np.clip(x, rlo + c * (rhi - rlo), rhi - c * (rhi - rlo))
        if np.any(xc != x):
            self.warnings.append(f"{int((xc != x).sum())} target value(s) clipped to "
                                 f"[{rlo + c * (rhi - rlo):g}, {rhi - c * (rhi - rlo):g}] for the "
                                 f"pre-activation problem ({kind}^-1 of the target)")
        ystar = head.inverse(xc)
        res = invert_whole_mip(self.prenet, ystar, norm="l1", latent_box=(self.lo, self.hi),
                               time_limit=self.time_limit, backend=self.backend,
                               uniqueness=self.uniqueness, delta=self.delta, tol=self.tol,
                               tighten=self.tighten, threads=self.threads, verbose=self.verbose,
                               seed=self.seed, start=self.start, stats=self.stats,
                               method_prefix="peel+mip")
        z = None if res.z is None else np.array(res.z)
        out = None if z is None else residual_norm(network.forward(z) - x, "l1")
        return replace(res, space="pre-activation", output_objective=out,
                       residual=float("inf") if z is None else output_residual(network, z, x),
                       target_norm=float(np.max(np.abs(x))),
                       message=res.message + f" (objective and bound: L1 in the pre-activation "
                       f"space, against {kind}^-1 of the target)")


def nearest_monotone_head(network, prenet, x, lo, hi, fwd, z0, lower, eps, backend, deadline,
                          threads, verbose, seed, stats, start):
    """L-inf nearest point in the output space for a sigmoid/tanh head (or
    any head, for networks too large or too sparse for the whole-network MIP
    of :func:`invert_whole_mip`; then no MIP runs past :data:`MAX_MIP_BINARIES`).

    ``|act(y_i) - x_i| <= t`` is the box :func:`target_box` ``(t)`` on the
    last pre-activation, nested in ``t``: the incumbent (gradient descent,
    then :func:`solver.inversion.nearest.region_walk`) gives an upper level; the
    per-unit range bound (:func:`range_lower_bound`) a lower one; a
    feasibility MIP of the box at ``t_inc (1 - MIP_GAP)`` that is infeasible
    proves optimality, a feasible one gives a better incumbent."""
    from . import peel as P
    from ..backends import MilpStatus
    from ..bounds import propagate_bounds
    head = network.layers[-1].activation
    info = stats.setdefault("nearest_phase", {})

    def score(z):
        return output_residual(network, z, x)

    lb = P.range_lower_bound(head, x, *fwd[-1])
    lower = max(lower, float(np.max(lb)) if len(lb) else 0.0)

    def improve(z):
        # the region walk (exact L-inf minimum per activation region, then
        # across kinks) makes the incumbent, hence the MIP's level, tight
        if Deadline(deadline).expired():
            return z
        t0 = time.monotonic()
        z, _, wi = region_walk(network, prenet, x, z, lo, hi, lower=lower,
                               stop_at=lower / (1 - MIP_GAP),
                               deadline=Deadline(deadline).portion(0.3).at)
        walk = info.setdefault("region_walk", {"regions": 0, "moves": 0, "seconds": 0.0})
        walk["regions"] += wi["regions"]
        walk["moves"] += wi["moves"]
        walk["seconds"] = round(walk["seconds"] + time.monotonic() - t0, 4)
        return z

    def attained(t):
        return t * (1 - MIP_GAP) <= lower

    # candidates, cheapest first; stop as soon as one attains the range bound
    z, t_inc = None, math.inf
    for make in (lambda: [] if z0 is None else [z0],
                 lambda: gd_candidates(network, x, lo, hi, seed, deadline, restarts=1,
                                       steps=100),
                 lambda: gd_candidates(network, x, lo, hi, seed, deadline),
                 lambda: [np.clip(np.zeros(network.n_in), lo, hi)]):
        for c in make():
            c = improve(c)
            if score(c) < t_inc:
                z, t_inc = c, score(c)
        if attained(t_inc):
            break
    info.update(incumbent=t_inc, range_bound=lower)
    binaries = None
    method = "peel"
    optimal = attained(t_inc)
    how = "the per-unit range bound" if optimal else ""
    bk = fwd                         # pre-activation bounds: prenet's are the network's
    nb = mip_binaries(prenet, bk)
    if nb > MAX_MIP_BINARIES:
        info["mip"] = f"not built: {nb} binaries (> {MAX_MIP_BINARIES})"
    elif not any(L.is_sparse for L in prenet.layers):
        left = Deadline(deadline).remaining()
        bk = propagate_bounds(prenet, lo, hi, tighten=True, output_units=[],
                              time_limit=None if left is None else 0.2 * left)
    while not optimal and nb <= MAX_MIP_BINARIES and not Deadline(deadline).expired():
        level = max(lower, t_inc * (1 - MIP_GAP))
        built = box_model(prenet, *P.target_box(head, x, level), lo, hi, bk)
        if built is None:
            lower, optimal, how = level, True, "bounds"
            break
        sol, enc, name, bst = solve_box_mip(built, backend, deadline, threads, verbose)
        method = f"peel+mip[{name}]"
        binaries = max(binaries or 0, bst["binaries"])
        info.setdefault("mips", []).append({"level": level, "status": sol.status.value,
                                            "seconds": round(sol.seconds, 4), **bst})
        if sol.status is MilpStatus.INFEASIBLE:
            lower, optimal, how = level, True, "an infeasible MIP just below the incumbent"
            break
        if sol.x is None:
            break
        z2 = improve(np.clip(sol.x[enc.z], lo, hi))
        if score(z2) < t_inc:
            z, t_inc = z2, score(z2)
        else:
            break
    if t_inc <= eps:
        optimal, lower = True, 0.0
        msg = ("G(z) reproduces the target to tolerance in the output space (floating-point "
               "forward pass)")
    elif optimal:
        msg = (f"optimal: no z in the box has an L-inf output residual below {lower:.6g} "
               f"(this point: {t_inc:.6g}; proved by {how})")
    else:
        msg = (f"best point found, not proved optimal; proved: no z in the box has an L-inf "
               f"output residual below {lower:.6g}" + (
                   f" (no MIP: {nb} binaries)" if nb > MAX_MIP_BINARIES else ""))
    res = make_result("exact" if t_inc <= eps else "nearest", z, network, x, "linf", lo, hi, start,
                      method, optimal=optimal, bound=lower, message=msg, stats=stats)
    from dataclasses import replace
    return replace(res, binaries=binaries, uniqueness_method=None)
