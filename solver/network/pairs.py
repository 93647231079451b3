"""Two activation regions of a network: do their closures hold ``z1 != z2``
with equal outputs? Decided exactly (:class:`PairDecider`)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import exact, exactlp
from ..floatrows import unit_rows
from ..lp import highs_lp
from ..witness import rational_candidates
from .rational import cert_json, exact_combination, int_row, solve_near

__all__ = ["PairDecider"]


class PairDecider:
    """For two regions, decide whether their closures hold ``z1 != z2`` with
    equal outputs. Float LPs (HiGHS) guide; every conclusion is exact:
    a point is rebuilt in rationals and checked through the network, an
    empty set or a bound ``+-(z1_j - z2_j) <= 0`` is certified by exact
    multipliers (Farkas / LP duality) recomputed on the LP's dual support."""

    def __init__(self, network, n):
        self.net = network
        self.n = n
        self.lps = 0

    def _system(self, ra, rb):
        n = self.n
        A, a = [], []
        for r in ra.rows:
            A.append(list(r[:n]) + [0] * n)
            a.append(-r[n])
        for r in rb.rows:
            A.append([0] * n + list(r[:n]))
            a.append(-r[n])
        E, e = [], []
        Ma, da, Da = ra.integer_map()
        Mb, db, Db = rb.integer_map()
        for o in range(len(Ma)):
            # (Ma z1 + da)/Da == (Mb z2 + db)/Db, times Da*Db
            row = [v * Db for v in Ma[o]] + [-v * Da for v in Mb[o]]
            rhs = db[o] * Da - da[o] * Db
            if not any(row):
                if rhs != 0:
                    return None      # constant outputs differ: no pair at all
                continue
            g = math.gcd(*row, rhs)
            E.append([v // g for v in row])
            e.append(rhs // g)
        return A, a, E, e

    @staticmethod
    def _floats(rows, rhs):
        if not rows:
            return np.zeros((0, 0)), np.zeros(0), np.zeros(0)
        U, nu = unit_rows([list(r) + [c] for r, c in zip(rows, rhs)], cols=len(rows[0]))
        return U[:, :-1], U[:, -1], nu

    def decide(self, ra, rb):
        """Returns ``("witness", (z1, z2))``, ``("none", why, certificate)``
        or ``("uncertified", why)``. The certificate (JSON, checked by
        :mod:`solver.certificates.regions`) is ``{"kind": "constant"}``,
        ``{"kind": "farkas", "y": ...}`` (multipliers over the rows of
        :meth:`_system`: A rows, then E rows) or ``{"kind": "bounds",
        "dirs": [[j, sign, y], ...]}`` (``sign (z1_j - z2_j) <= 0``)."""
        n = self.n
        sysm = self._system(ra, rb)
        if sysm is None:
            return "none", "outputs are different constants", {"kind": "constant"}
        A, a, E, e = sysm
        nv = 2 * n
        Af, af, nuA = self._floats(A, a)
        Ef, ef, nuE = self._floats(E, e)
        kA, kE = len(A), len(E)
        if kA == 0:
            Af = np.zeros((0, nv))
        if kE == 0:
            Ef = np.zeros((0, nv))
        # phase 1: min s  s.t.  A u - s <= a,  |E u - e| <= s
        Aub = np.vstack([np.hstack([Af, -np.ones((kA, 1))]),
                         np.hstack([Ef, -np.ones((kE, 1))]),
                         np.hstack([-Ef, -np.ones((kE, 1))])])
        bub = np.concatenate([af, ef, -ef])
        cost = np.zeros(nv + 1)
        cost[-1] = 1.0
        self.lps += 1
        lb = np.full(nv + 1, -np.inf)
        lb[-1] = 0.0
        ok, x1, dual = highs_lp(cost, Aub, np.full(len(bub), -np.inf), bub, lb)
        if not ok:
            return "uncertified", "phase-1 LP failed"
        vectors = [list(A[k]) + [a[k]] for k in range(kA)] + [list(E[k]) + [e[k]] for k in range(kE)]
        nonneg = [True] * kA + [False] * kE
        if x1[-1] > 1e-9:
            yd = -dual
            wn = np.concatenate([yd[:kA], yd[kA:kA + kE] - yd[kA + kE:]])
            guide = np.concatenate([yd[:kA] / nuA if kA else [],
                                    (yd[kA:kA + kE] - yd[kA + kE:]) / nuE if kE else []])
            bound = float(np.dot(wn, np.concatenate([af, ef])))
            if bound < 0:
                y = exact_combination(vectors, nonneg, [0] * nv + [-1], guide / -bound, wn)
                if y is not None:
                    return ("none", "closures with equal outputs are empty (exact Farkas)",
                            {"kind": "farkas", "y": cert_json(y)})
            return "uncertified", "phase-1 LP says empty, no exact Farkas certificate"
        pending = None
        bounds = []
        for j in range(n):
            for sg in (1, -1):
                dvec = [0] * nv
                dvec[j], dvec[n + j] = sg, -sg
                dv = np.array(dvec, dtype=float)
                self.lps += 1
                Afull = np.vstack([Af, dv[None, :], Ef])
                ok, xu, dual = highs_lp(-dv, Afull,
                                        np.concatenate([np.full(kA + 1, -np.inf), ef]),
                                        np.concatenate([af, [1.0], ef]))
                if not ok:
                    pending = pending or "a direction LP failed"
                    continue
                val = float(dv @ xu)
                if val > 1e-9:
                    u = self._exact_point(A, a, E, e, Af, af, xu, dvec)
                    if u is not None:
                        z1, z2 = u[:n], u[n:]
                        ok, _ = self.net.check_witness(z1, z2)
                        if ok:
                            return "witness", (z1, z2)
                if val < 1e-7:
                    y = self._bound_certified(A, a, E, e, vectors, nonneg, dvec, dual, nuA, nuE)
                    if y is not None:
                        bounds.append([j, sg, cert_json(y)])
                        continue
                pending = pending or (f"direction {j}{'+' if sg > 0 else '-'}: LP value "
                                      f"{val:.3g} neither certified nor realised")
        if pending:
            return "uncertified", pending
        return ("none", "every pair in the closures has z1 == z2 (exact LP duality)",
                {"kind": "bounds", "dirs": bounds})

    @staticmethod
    def _bound_certified(A, a, E, e, vectors, nonneg, dvec, dual, nuA, nuE):
        """Exact ``mu >= 0, nu`` with ``A^T mu + E^T nu = d`` and
        ``a.mu + e.nu <= 0``, so ``d.u <= 0`` on the whole polyhedron. The
        LP's duals give the support; first with the bound pinned to 0 (the
        usual case: the closures meet on the diagonal), then free. Returns
        the multipliers ``{row: rational}`` (A rows, then E rows) or None."""
        kA = len(A)
        mu = -dual[:kA]
        nu = -dual[kA + 1:]
        wn = np.concatenate([mu, nu])
        if not np.any(wn):
            return None
        guide = np.concatenate([mu / nuA if kA else [], nu / nuE if len(E) else []])
        y = exact_combination(vectors, nonneg, dvec + [0], guide, wn)
        if y is not None:
            return y
        coeffs = [v[:-1] for v in vectors]
        y = exact_combination(coeffs, nonneg, dvec, guide, wn)
        if y is None:
            return None
        rhs = [v[-1] for v in vectors]
        return y if sum((val * rhs[k] for k, val in y.items()), Fraction(0)) <= 0 else None

    def _exact_point(self, A, a, E, e, Af, af, u, dvec):
        """An exact point of ``{A u <= a, E u = e}`` with ``dvec . u > 0``
        near the float LP optimum ``u``: rows tight at ``u`` become
        equations, free coordinates keep ``u``'s binary64 values."""
        slack = af - Af @ u if len(af) else np.zeros(0)
        for tol in (1e-9, 1e-7, 1e-5):
            T = [k for k in range(len(A)) if slack[k] <= tol]
            x = solve_near([A[k] for k in T] + E, [a[k] for k in T] + e, u)
            if x is None:
                continue
            if all(exact.dot(A[k], x) <= a[k] for k in range(len(A))) and \
                    exact.dot(dvec, x) > 0:
                return x
        return None

    def same_region(self, r):
        """A region paired with itself: its closure holds a pair iff the
        output map has a kernel (the region is open and nonempty). Returns
        like :meth:`decide`, or None to fall back to the generic LP."""
        n = self.n
        rows = [int_row(row) for row in r.M]
        if exact.rank(rows) == n:
            return "none", "output map of the region has full column rank", {"kind": "rank"}
        v = [Fraction(c) for c in exact.kernel(rows, n)[0]]
        cands = []
        if r.hint is not None and r.hint[-1] > 0:
            cands += rational_candidates(r.hint[:n] / r.hint[n])
        status, zx = exactlp.strict_feasibility([list(q) for q in r.rows]) if r.rows \
            else ("feasible", [Fraction(0)] * n + [Fraction(1)])
        if status == "feasible":
            cands.append([Fraction(zx[i]) / Fraction(zx[n]) for i in range(n)])
        for z in cands:
            vals = [exact.dot(q[:n], z) + q[n] for q in r.rows]
            if any(x >= 0 for x in vals):
                continue
            t = Fraction(1)
            for q, x in zip(r.rows, vals):
                qv = exact.dot(q[:n], v)
                if qv > 0:
                    t = min(t, -x / qv)
            z2 = [zi + t * vi for zi, vi in zip(z, v)]
            ok, _ = self.net.check_witness(z, z2)
            if ok:
                return "witness", (z, z2)
        return None
