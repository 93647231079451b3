"""Improving a floating-point candidate ``z`` of an inversion: the LP of its
activation region and Gauss-Newton steps (:func:`polish`), against a box
target on the last pre-activation (:func:`polish_box`), and repeated toward
the target for a sigmoid/tanh head (:func:`descend`). Heuristics: they only
keep improvements of the floating-point residual and prove nothing."""
from __future__ import annotations

import math

import numpy as np

from ..deadline import Deadline
from .problem import (activation_pattern, output_residual, region_affine, region_constraints,
                      region_lp, residual_norm)
from ..lp import linprog_highs

__all__ = ["polish", "polish_box", "descend"]


def polish(network, z, x, lo, hi, norm="linf", *, patterns=(), keep_far=None, deadline=None):
    """Improve a candidate: the LP of its closed activation region (and of
    any extra ``patterns``), then Gauss-Newton steps ``z += lstsq(A, x - G(z))``
    inside the region. Only improvements of the floating-point residual in
    ``norm`` are kept. ``keep_far=(z_ref, delta)`` rejects points closer than
    ``delta`` to ``z_ref``. Nothing is done past ``deadline`` (a
    ``time.monotonic()`` value, None: no limit), and the LPs stop there."""
    z = np.clip(np.asarray(z, float), lo, hi)
    if Deadline(deadline).expired():
        return z

    def score(v):
        if keep_far is not None and np.max(np.abs(v - keep_far[0])) < keep_far[1] * (1 - 1e-9):
            return math.inf
        return residual_norm(network.forward(v) - x, norm)

    best, best_s = z, score(z)
    for pat in [activation_pattern(network, z), *patterns]:
        try:
            zp, _ = region_lp(network, pat, x, lo, hi, norm, deadline=deadline)
        except ValueError:
            zp = None
        if zp is not None:
            s = score(zp)
            if s < best_s:
                best, best_s = zp, s
    for _ in range(3):  # Gauss-Newton in the region of the current best
        if Deadline(deadline).expired():
            break
        _, A, c = region_affine(network, activation_pattern(network, best))
        r = x - network.forward(best)
        try:
            step = np.linalg.lstsq(A, r, rcond=None)[0]
        except np.linalg.LinAlgError:
            break
        cand = np.clip(best + step, lo, hi)
        s = score(cand)
        if s < best_s:
            best, best_s = cand, s
        else:
            break
    return best


def polish_box(prenet, z, tlo, thi, lo, hi, *, score, rounds=3, trust=0.05, deadline=None):
    """Improve a candidate against a box target on the last pre-activation:
    the LP of its activation region minimising the largest violation of
    ``tlo <= y_K <= thi`` within a trust box (half-width ``trust`` times the
    box's; only the region rows that can become tight there are kept, which
    makes the LP small for wide generators), then Gauss-Newton steps toward
    the middle of the two-sided rows. ``score(z)`` decides (smaller is
    better); only improvements are kept. No round starts after ``deadline``
    (a ``time.monotonic()`` value; None: no limit), and the LPs stop there."""
    z = np.clip(np.asarray(z, float), lo, hi)
    best, best_s = z, score(z)
    two = np.isfinite(tlo) & np.isfinite(thi)
    mid = np.zeros(len(tlo))
    mid[two] = 0.5 * (tlo[two] + thi[two])
    for _ in range(rounds):
        if Deadline(deadline).expired():
            break
        improved = False
        pat = activation_pattern(prenet, best)
        pres, A, c = region_affine(prenet, pat)
        M, m = region_constraints(prenet, pat, pres)
        n = prenet.n_in
        rad = trust * (hi - lo)
        blo, bhi = np.maximum(lo, best - rad), np.minimum(hi, best + rad)
        if M.shape[0]:
            near = M @ best + np.abs(M) @ (bhi - blo) > m
            M, m = M[near], m[near]
        rows, rhs = [], []
        up = np.isfinite(thi)
        dn = np.isfinite(tlo)
        # A z - s <= thi - c ; -A z - s <= c - tlo
        if up.any():
            rows.append(np.hstack([A[up], -np.ones((up.sum(), 1))]))
            rhs.append(thi[up] - c[up])
        if dn.any():
            rows.append(np.hstack([-A[dn], -np.ones((dn.sum(), 1))]))
            rhs.append(c[dn] - tlo[dn])
        if M.shape[0]:
            rows.append(np.hstack([M, np.zeros((M.shape[0], 1))]))
            rhs.append(m)
        cost = np.zeros(n + 1)
        cost[-1] = 1.0
        try:
            res = linprog_highs(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs),
                                bounds=[(blo[j], bhi[j]) for j in range(n)] + [(0, None)],
                                deadline=deadline)
            cand = [np.clip(res.x[:n], lo, hi)] if res.status == 0 and res.x is not None else []
        except ValueError:
            cand = []
        if two.any():
            r = mid[two] - prenet.forward(best)[two]
            try:
                step = np.linalg.lstsq(A[two], r, rcond=None)[0]
                cand.append(np.clip(best + step, lo, hi))
            except np.linalg.LinAlgError:
                pass
        for cz in cand:
            sc = score(cz)
            if sc < best_s:
                best, best_s, improved = cz, sc, True
        if not improved:
            break
    return best


def descend(network, prenet, x, z, lo, hi, *, levels=(0.5, 0.9, 0.99, 0.999), rounds=6,
            deadline=None):
    """Polish a candidate toward the target in the output space: region LPs
    (:func:`polish_box`) against the pre-activation box of a level a bit
    below the current L-inf output residual, repeated while it improves. For
    piecewise-linear heads :func:`polish` does the same in one go."""
    from .peel import target_box
    head = network.layers[-1].activation

    def score(v):
        return output_residual(network, v, x)
    if head.piecewise_linear:
        return polish(network, z, x, lo, hi, "linf", deadline=deadline)
    z = np.clip(np.asarray(z, float), lo, hi)
    for f in levels:
        for _ in range(rounds):
            if Deadline(deadline).expired():
                return z
            t = score(z)
            if t == 0:
                return z
            z2 = polish_box(prenet, z, *target_box(head, x, f * t), lo, hi, score=score,
                            deadline=deadline)
            if score(z2) >= t:
                break
            z = z2
    return z
