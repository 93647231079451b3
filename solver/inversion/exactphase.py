"""The exact phase of the peeled inversion (issue 15): ``z`` with
``||G(z) - x||_inf <= eps`` from the peel's boxes and the affine enclosure on
the refined latent box, uniqueness from the box ``Z`` (or a far vertex, or a
MIP of the few units left), and a feasibility MIP where the peel stops."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..deadline import Deadline
from .exactpair import exact_witness
from .mipmodel import MAX_MIP_BINARIES, add_away, box_model, mip_binaries, solve_mip
from .candidates import descend, polish, polish_box
from .problem import output_residual, pre_activation_network, truncated_network

__all__ = ["ExactPhase", "solve_exact_phase", "gd_candidates", "solve_box_mip"]


def _enclosure_candidate(network, enc, boxes, zlo, zhi):
    """Least-squares latent point of the affine enclosure: the top layer's
    two-sided rows, weighted by their half-widths, toward their middles."""
    K = len(network.layers) - 1
    tlo, thi = boxes[K]
    two = np.isfinite(tlo) & np.isfinite(thi)
    if two.sum() < len(zlo):
        return 0.5 * (zlo + zhi)
    w = 1.0 / np.maximum(0.5 * (thi[two] - tlo[two]), 1e-300)
    A = enc.A[K][two] * w[:, None]
    r = (0.5 * (tlo[two] + thi[two]) - enc.c[K][two]) * w
    try:
        z = np.linalg.lstsq(A, r, rcond=None)[0]
    except np.linalg.LinAlgError:
        z = 0.5 * (zlo + zhi)
    return np.clip(z, zlo, zhi)


def _far_points(network, enc, boxes, zlo, zhi, z, delta, deadline):
    """Latent points of the enclosure's LP at least ``delta`` from ``z`` (one
    LP per coordinate side whose box end is that far); candidates for a
    second preimage."""
    import scipy.sparse as sp
    from ..lp import PersistentLP
    from .enclosure import latent_rows
    rows = latent_rows(enc, boxes)
    if rows is None:
        return []
    lp = PersistentLP(sp.csr_matrix(rows[0]), rows[1], rows[2], zlo, zhi)
    out = []
    order = np.argsort(-np.maximum(zhi - z, z - zlo))
    for j in order:
        for sense, far in ((-1, zhi[j] - z[j]), (+1, z[j] - zlo[j])):
            if far < delta or Deadline(deadline).expired():
                continue
            v, st = lp.extreme(j, sense, Deadline(deadline).remaining(floor=1e-3))
            if v is not None and abs(v - z[j]) >= delta:
                out.append(np.clip(lp.point()[:len(z)], zlo, zhi))
        if len(out) >= 4:
            break
    return out


def gd_candidates(network, x, lo, hi, seed, deadline, restarts=4, steps=500, z_init=None):
    """Gradient-descent points (output L2, projected Adam) as candidates."""
    from .baselines import gradient_descent
    left = Deadline(deadline).remaining()
    if left is not None and left < 1.0:
        return []
    r = gradient_descent(network, x, norm="linf", latent_box=(lo, hi), restarts=restarts,
                         steps=steps, seed=seed, z_init=z_init,
                         time_limit=None if left is None else 0.3 * left)
    return [np.array(r.z)] if r.z is not None else []


def solve_box_mip(built, backend, deadline, threads, verbose, share=1.0):
    dl = Deadline(deadline).portion(share).at
    B, enc = built
    sol, name = solve_mip(B, backend, dl, threads, verbose)
    return sol, enc, name, B.stats()


@dataclass
class ExactPhase:
    """Outcome of :func:`solve_exact_phase` (internal)."""
    status: str = "unknown"          # "exact", "none" (proved: no z within eps), "unknown"
    z: Any = None                    # best point found
    unique: bool | None = None
    second: Any = None
    witness: Any = None
    umethod: str | None = None
    binaries: int | None = None
    method: str = "peel"
    message: str = ""
    mip_tried: bool = False
    fwd: Any = None                  # forward interval bounds (pre-activations) over the box
    peel: dict = field(default_factory=dict)
    uniq: dict = field(default_factory=dict)


def solve_exact_phase(net, x, eps, lo, hi, *, delta, uniqueness, deadline, backend, threads,
                      verbose, seed, tighten, stats):
    """Exact phase of :func:`invert` on a network with a monotone head:
    ``z`` with ``||net(z) - x||_inf <= eps`` (float forward pass), and
    whether it is unique (see :func:`invert`, steps 1 to 5)."""
    from . import enclosure as E
    from . import peel as P
    from ..backends import MilpStatus
    from ..bounds import propagate_bounds
    K = len(net.layers) - 1
    head = net.layers[-1].activation
    prenet = pre_activation_network(net)
    pl_head = head.piecewise_linear
    out = ExactPhase()

    def score(z):
        return output_residual(net, z, x)

    def share(f):
        return Deadline(deadline).portion(f).at

    def final_polish(z):
        """A last polish toward the target itself (any point within eps is
        exact; a smaller residual is nicer to report and to build exact
        witnesses from). Done before uniqueness, which is about this z."""
        if score(z) <= 1e-3 * eps:
            return z
        if pl_head:
            zp = polish(net, z, x, lo, hi, "linf", deadline=deadline)
        else:
            zp = polish_box(prenet, z, *P.target_box(head, x, 1e-3 * score(z)), lo, hi,
                            score=score, deadline=deadline)
        return zp if score(zp) < score(z) else z

    def take_second(z, z2, how):
        out.unique, out.second, out.umethod = False, z2, how
        out.witness = exact_witness(net, z, z2)
        out.uniq["second_residual"] = score(z2)

    def away_score(z):
        return lambda v: math.inf if np.max(np.abs(v - z)) < delta else score(v)

    def run_mip(built, f=1.0):
        sol, enc2, name, bst = solve_box_mip(built, backend, deadline, threads, verbose, f)
        out.method = f"peel+mip[{name}]"
        out.binaries = max(out.binaries or 0, bst["binaries"])
        return sol, enc2, bst

    # pre-activation bounds: the same for the network, its pre-activation network
    # and its truncations (computed once: on wide generators this takes a while)
    out.fwd = fwd = P.forward_bounds(net, lo, hi)
    tlo, thi = P.target_box(head, x, eps)
    pe = P.peel(net, tlo, thi, lo, hi, fwd=fwd)
    out.peel = pinfo = pe.to_json()
    if pe.empty:
        out.status = "none"
        out.message = f"no z in the box reproduces the target to {eps:.3g} ({pe.reason})"
        return out
    if pe.reached_latent:
        zlo, zhi, enc, rst = E.refine_latent_box(net, pe.boxes, *pe.z_box, fwd=fwd,
                                                 deadline=share(0.5))
        hidden = int(sum(L.W.shape[0] for L in net.layers[:-1]))
        pinfo.update(latent_box_width=float(np.max(zhi - zlo)),
                     unstable_in_latent_box=enc.n_unstable, refine=rst,
                     units_fixed=hidden - enc.n_unstable)
        if rst == "empty":
            out.status = "none"
            out.message = (f"no z in the box reproduces the target to {eps:.3g} (the peeled "
                           "boxes have no common latent point; LP)")
            return out
        z = _enclosure_candidate(net, enc, pe.boxes, zlo, zhi)
        if score(z) > eps:
            z = polish_box(prenet, z, *pe.boxes[K], zlo, zhi, score=score, deadline=deadline)
        if score(z) > eps:
            z = descend(net, prenet, x, z, zlo, zhi, deadline=deadline)
        how = "the peel reached the latent space"
        if score(z) > eps:
            # the latent box still meets kinks: gradient-descent candidates,
            # then the MIP of the remaining problem (the unstable units on Z)
            for c in gd_candidates(net, x, zlo, zhi, seed, deadline):
                c = descend(net, prenet, x, c, zlo, zhi, deadline=deadline)
                if score(c) < score(z):
                    z = c
        if score(z) > eps and enc.n_unstable <= MAX_MIP_BINARIES and \
                not Deadline(deadline).expired():
            out.mip_tried = True
            rm = E.reduced_model(net, zlo, zhi, enc.bounds, pe.boxes)
            sol, enc2, bst = run_mip((rm.builder, rm), 0.5)
            stats["exact_phase"].update(mip=bst, mip_status=sol.status.value)
            if sol.status is MilpStatus.INFEASIBLE:
                out.status = "none"
                out.message = (f"no z in the box reproduces the target to {eps:.3g} (MIP of "
                               f"the {bst['binaries']} units near their kink on the latent "
                               "box Z infeasible)")
                return out
            if sol.x is not None:
                c = descend(net, prenet, x, np.clip(sol.x[rm.z], zlo, zhi), zlo, zhi,
                            deadline=deadline)
                if score(c) < score(z):
                    z = c
                how = f"MIP of the {bst['binaries']} units near their kink on the latent box"
        if score(z) <= eps:
            z = final_polish(z)
            out.status = "exact"
            out.message = ("G(z) reproduces the target to tolerance (floating-point forward "
                           f"pass); {how}")
        out.z = z
        if out.status != "exact" or not uniqueness:
            return out
        ext = float(np.max(np.maximum(zhi - z, z - zlo)))
        out.uniq["latent_box_extent"] = ext
        if ext < delta:
            out.unique, out.umethod = True, "latent box"
            return out
        for zf in _far_points(net, enc, pe.boxes, zlo, zhi, z, delta, share(0.5)):
            if score(zf) > eps:
                zf = polish_box(prenet, zf, *pe.boxes[K], zlo, zhi, score=away_score(z),
                                deadline=deadline)
            if away_score(z)(zf) <= eps:
                take_second(z, zf, "second preimage (LP vertex of the latent box)")
                return out
        if enc.n_unstable <= MAX_MIP_BINARIES and not Deadline(deadline).expired():
            rm = E.reduced_model(net, zlo, zhi, enc.bounds, pe.boxes)
            if not add_away(rm.builder, rm, (z, delta), zlo, zhi):
                out.unique, out.umethod = True, "latent box"
                return out
            sol, enc2, bst = run_mip((rm.builder, rm))
            out.uniq.update(mip=bst, mip_status=sol.status.value)
            if sol.status is MilpStatus.INFEASIBLE:
                out.unique, out.umethod = True, "MIP over the latent box Z"
            elif sol.x is not None:
                z2 = polish_box(prenet, np.clip(sol.x[rm.z], zlo, zhi), *pe.boxes[K], zlo, zhi,
                                score=away_score(z), deadline=deadline)
                if away_score(z)(z2) > eps and pl_head:
                    # the box polish can stall just outside eps (at the MIP's own
                    # feasibility tolerance); the region LP of the whole network
                    # then often lands inside
                    z2 = polish(net, z2, x, lo, hi, "linf", keep_far=(z, delta),
                                deadline=deadline)
                if away_score(z)(z2) <= eps:
                    take_second(z, z2, "MIP over the latent box Z")
        return out
    # peeling stopped at layer k: candidates, then the remaining problem's MIP
    k = pe.stopped_at
    tn = truncated_network(net, k)
    Tk = pe.boxes[k]
    cands = gd_candidates(net, x, lo, hi, seed, deadline)
    cands = [descend(net, prenet, x, c, lo, hi, deadline=deadline) for c in cands]
    if cands:
        out.z = min(cands, key=score)
        if score(out.z) <= eps:
            out.z = final_polish(out.z)
            out.status = "exact"
            out.message = ("G(z) reproduces the target to tolerance (floating-point forward "
                           "pass; candidate from gradient descent, polished)")
    bk = list(fwd[:k + 1])           # = forward_bounds(tn, lo, hi)
    nb = mip_binaries(tn, bk)
    pinfo["remaining_problem"] = {"layers": k + 1, "binaries": nb}
    if nb > MAX_MIP_BINARIES:
        msg = (f"not built: the remaining problem (layers 0..{k}) has {nb} binaries "
               f"(> {MAX_MIP_BINARIES})")
        stats["exact_phase"]["mip"] = msg
        if out.status == "exact" and uniqueness:
            out.uniq["status"] = "not decided: " + msg
        return out
    if Deadline(deadline).expired():
        return out
    if tighten and not any(L.is_sparse for L in tn.layers):
        left = Deadline(deadline).remaining()
        bk = propagate_bounds(tn, lo, hi, tighten=True, output_units=[],
                              time_limit=None if left is None else 0.3 * left)
    if out.status != "exact":
        out.mip_tried = True
        built = box_model(tn, *Tk, lo, hi, bk)
        if built is None:
            out.status = "none"
            out.message = f"no z in the box reproduces the target to {eps:.3g} (bounds)"
            return out
        sol, enc2, bst = run_mip(built, 0.5)
        stats["exact_phase"].update(mip=bst, mip_status=sol.status.value)
        if sol.status is MilpStatus.INFEASIBLE:
            out.status = "none"
            out.message = (f"no z in the box reproduces the target to {eps:.3g} (MIP of the "
                           "remaining layers infeasible)")
            return out
        if sol.x is not None:
            z = descend(net, prenet, x, np.clip(sol.x[enc2.z], lo, hi), lo, hi,
                        deadline=deadline)
            if out.z is None or score(z) < score(out.z):
                out.z = z
            if score(z) <= eps:
                out.z = final_polish(z)
                out.status = "exact"
                out.message = ("G(z) reproduces the target to tolerance (floating-point "
                               "forward pass; MIP of the remaining layers)")
    if out.status == "exact" and uniqueness and not Deadline(deadline).expired():
        built = box_model(tn, *Tk, lo, hi, bk, away=(out.z, delta))
        if built is None:
            out.unique, out.umethod = True, "bounds"
            return out
        sol, enc2, bst = run_mip(built)
        out.uniq.update(mip=bst, mip_status=sol.status.value)
        if sol.status is MilpStatus.INFEASIBLE:
            out.unique, out.umethod = True, "MIP of the remaining layers"
        elif sol.x is not None:
            z2 = descend(net, prenet, x, np.clip(sol.x[enc2.z], lo, hi), lo, hi,
                         deadline=deadline)
            if away_score(out.z)(z2) <= eps:
                take_second(out.z, z2, "MIP of the remaining layers")
    return out
