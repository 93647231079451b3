"""Exact rational helpers of the region method: python-flint conversions,
integer rows, exact solutions near a float guide, exact multipliers on an
LP's dual support, and the strict homogeneous point / Gordan certificate.

Floats only guide; every function that concludes something checks it in
rational arithmetic.
"""
from __future__ import annotations

import math
from fractions import Fraction

import flint
import numpy as np

from .. import exact, exactlp, lp
from ..exact import from_fmpq, to_fmpq
from ..floatrows import scaled_floats

__all__ = ["int_row", "solve_near", "exact_combination", "strict_point", "cert_json"]


def int_row(vals):
    """Positive multiple of a rational vector with integer entries."""
    vals = [Fraction(v) for v in vals]
    den = 1
    for v in vals:
        den = den * v.denominator // math.gcd(den, v.denominator)
    return [int(v * den) for v in vals]


def solve_near(rows, rhs, guide):
    """An exact solution of ``rows . x = rhs`` (rationals), with the free
    variables of the row echelon form set to the exact binary64 values of
    ``guide``. Returns a list of Fractions or None if inconsistent."""
    nv = len(guide)
    if not rows:
        return [Fraction(float(g)) for g in guide]
    k = len(rows)
    M = flint.fmpq_mat(k, nv + 1, [to_fmpq(v) for r, c in zip(rows, rhs) for v in list(r) + [c]])
    R, rank = M.rref()
    x = [None] * nv
    pivots = []
    for r in range(rank):
        c = next(j for j in range(nv + 1) if R[r, j] != 0)
        if c == nv:
            return None
        pivots.append((r, c))
    pcols = {c for _, c in pivots}
    for j in range(nv):
        if j not in pcols:
            x[j] = Fraction(float(guide[j]))
    for r, c in pivots:
        val = from_fmpq(R[r, nv])
        for j in range(nv):
            if j not in pcols and R[r, j] != 0:
                val -= from_fmpq(R[r, j]) * x[j]
        x[c] = val
    return x


def exact_combination(vectors, nonneg, target, guide, support_weights, tol=1e-9):
    """Exact multipliers ``y`` with ``sum_k y_k vectors[k] == target`` and
    ``y_k >= 0`` where ``nonneg[k]``, near the float ``guide``, on the support
    of ``support_weights`` (the LP's duals for its normalised rows: on the
    scale of the integer rows the guide's magnitudes are meaningless).
    Returns ``{k: Fraction}`` (verified) or None."""
    g = np.asarray(guide, dtype=np.float64)
    w = np.abs(np.asarray(support_weights, dtype=np.float64))
    if g.size == 0 or not np.all(np.isfinite(g)) or not np.all(np.isfinite(w)):
        return None
    top = float(np.max(w)) if w.size else 0.0
    if top == 0:
        return None
    S = [k for k in range(len(vectors)) if w[k] > tol * top]
    dim = len(target)
    rows = [[vectors[k][r] for k in S] for r in range(dim)]
    y = solve_near(rows, list(target), [g[k] for k in S])
    if y is None:
        return None
    out = {}
    for k, v in zip(S, y):
        if nonneg[k] and v < 0:
            return None
        if v != 0:
            out[k] = v
    for r in range(dim):  # re-check exactly
        if sum((v * vectors[k][r] for k, v in out.items()), Fraction(0)) != target[r]:
            return None
    return out


def strict_point(rows, tol=1e-7):
    """Strict homogeneous system ``rows . (z, t) < 0, t > 0`` (integer rows).
    Returns ``("feasible", float z or None)``, ``("infeasible", y)`` with
    exact Gordan multipliers ``y`` ({row index: positive rational}, ``sum
    y_k rows[k][:n] = 0``, ``sum y_k rows[k][n] >= 0``), or ``("feasible",
    z)`` from the exact simplex."""
    if not rows:
        return "feasible", None
    G, _ = scaled_floats(rows)
    feas, z, y = lp.strict_system(G, engine="highs")
    if feas:
        return "feasible", z
    if feas is False and y is not None:
        cert = lp.exact_gordan(rows, y)
        if cert is not None:
            return "infeasible", cert
    status, zx = exactlp.strict_feasibility([list(r) for r in rows])
    if status == "infeasible":
        return "infeasible", {k: v for k, v in enumerate(zx) if v != 0}
    return "feasible", np.array([float(c) for c in zx])


def cert_json(y):
    """``{index: rational}`` as a JSON list ``[[index, "p/q"], ...]``."""
    return [[int(k), exact.fmt_rational(v)] for k, v in sorted(y.items()) if v != 0]
