"""Exact rational simplex for strict homogeneous sign systems.

Decides, in exact arithmetic, whether integer rows ``g_k`` admit ``z`` with
``g_k . z < 0`` for all k and ``z[-1] > 0`` (the homogenised strict system
of :mod:`solver.lp`), and returns the proof either way:

* infeasible: ``y >= 0`` with ``sum y_k g_k + y_t (0,...,0,-1) = 0`` and
  ``sum y = 1`` (Gordan multipliers);
* feasible: an exact ``z`` with every ``g_k . z < 0`` and ``z[-1] > 0``.

It runs phase 1 of the primal simplex on the Gordan side
``{y >= 0 : [G; t-row]^T y = 0, 1^T y = 1}`` with Bland's rule (no cycling).
When phase 1 ends with a positive infeasibility, the final duals are a Farkas
vector, which is exactly the strict point we want.

The floating-point LP (:mod:`solver.lp`) handles almost everything; this is
the fallback for sign patterns too thin for binary64 tolerances, e.g. rows
that are antiparallel up to rounding (every floating-point [B; -DB]
construction). It is written here rather than taken from a library because
the PyPI SCIP wheel has no exact rational mode and no other chosen
dependency solves LPs exactly; it is small and only meant for small systems.
"""
from __future__ import annotations

from fractions import Fraction

from .deadline import Deadline

__all__ = ["Timeout", "strict_feasibility"]


class Timeout(Exception):
    """The deadline passed during an exact solve (nothing was decided)."""


def strict_feasibility(G_int, *, deadline=None):
    """Return ``("infeasible", y)`` (y: list of Fractions for the rows of
    ``G_int``, the t-row multiplier dropped) or ``("feasible", z)`` (list of
    Fractions).

    ``deadline``: a ``time.monotonic()`` value; past it, :class:`Timeout` is
    raised between pivots (a pivot on these small systems takes milliseconds),
    so an exact solve never holds a time limit hostage."""
    k = len(G_int)
    n1 = len(G_int[0])
    cols = [list(g) for g in G_int] + [[0] * (n1 - 1) + [-1]]
    K = len(cols)
    R = n1 + 1  # equations: n1 for sum y g = 0, one for sum y = 1
    # tableau rows: [a_1..a_K | artificials R | rhs]
    def check_time():
        if Deadline(deadline).expired():
            raise Timeout("time_limit")

    T = []
    for r in range(R):
        check_time()
        row = [Fraction(cols[j][r]) if r < n1 else Fraction(1) for j in range(K)]
        row += [Fraction(1 if q == r else 0) for q in range(R)]
        row.append(Fraction(0 if r < n1 else 1))
        T.append(row)
    basis = [K + r for r in range(R)]
    ncol = K + R
    # phase-1 objective: minimise sum of artificials; reduced costs d_j
    cost = [Fraction(0)] * K + [Fraction(1)] * R
    def reduced():
        d = list(cost)
        for r, bcol in enumerate(basis):
            check_time()
            cb = cost[bcol]
            if cb:
                row = T[r]
                for j in range(ncol):
                    if row[j]:
                        d[j] -= cb * row[j]
        return d
    d = reduced()
    while True:
        check_time()
        enter = next((j for j in range(ncol) if d[j] < 0), None)  # Bland
        if enter is None:
            break
        best = None
        for r in range(R):
            a = T[r][enter]
            if a > 0:
                ratio = T[r][-1] / a
                if best is None or ratio < best[0] or (ratio == best[0] and basis[r] < basis[best[1]]):
                    best = (ratio, r)
        if best is None:  # cannot happen: phase 1 is bounded below by 0
            raise ArithmeticError("unbounded phase 1")
        r = best[1]
        piv = T[r][enter]
        T[r] = [v / piv for v in T[r]]
        prow = T[r]
        for q in range(R):
            if q != r and T[q][enter]:
                check_time()           # a row update of a wide tableau can take a while
                f = T[q][enter]
                T[q] = [a - f * c for a, c in zip(T[q], prow)]
        f = d[enter]
        d = [a - f * c for a, c in zip(d, prow[:ncol])]
        basis[r] = enter
    obj = sum(cost[basis[r]] * T[r][-1] for r in range(R))
    if obj == 0:
        y = [Fraction(0)] * K
        for r, bcol in enumerate(basis):
            if bcol < K:
                y[bcol] = T[r][-1]
        return "infeasible", y[:k]
    # duals pi_r = cost_art - d_art  (artificial columns are the identity)
    pi = [Fraction(1) - d[K + r] for r in range(R)]
    z = pi[:n1]
    # Farkas: pi.(g_k, 1) <= 0 for all k and pi.(0,..,1) = obj > 0 => g_k.z <= -obj < 0
    return "feasible", z
