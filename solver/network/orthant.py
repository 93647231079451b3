"""A ReLU layer on the non-negative orthant (Remark 1): the sign tree of
:mod:`solver.search` with the constraints ``x_j > 0`` added, and its
certificate (format ``reluinj.certificate.nonneg``, checked by
:mod:`solver.certificates.nonneg`).

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022, Remark 1.
"""
from __future__ import annotations

import sys
import time
from fractions import Fraction

import numpy as np

from .. import exact, lp
from ..deadline import Deadline
from ..floatrows import unit_rows
from ..result import LayerResult, Verdict, Witness
from ..search import SearchStopped, WitnessFound, stops_at_deadline
from ..witness import rational_candidates, simple_rational_below
from ..certificates.nonneg import NONNEG_FORMAT, check_nonneg_certificate

__all__ = ["check_layer_nonneg", "check_nonneg_certificate", "NONNEG_FORMAT"]

# Criterion. F(x) = ReLU(W x + b) is injective on D = {x >= 0} iff for every
# x in the OPEN orthant that is generic (no nonzero row vanishes) the rows
# positive at x span R^n.
# (<=) Take x1 != x2 in D with F(x1) = F(x2), d = x2 - x1. Rows positive at
# x1 keep their value, so w.d = 0; rows <= 0 at x1 are <= 0 at x2, hence on
# the whole segment (D is convex), and a row = 0 at x1 has w.d <= 0. Step to
# x = x1 + e d (small e): now every row is > 0 with w.d = 0, or < 0, or
# identically 0 on the segment (so w.d = 0). Any small perturbation x' of x
# keeps the nonzero signs, so taking x' generic and in the open orthant
# (x + s(1,..,1) is > 0), the rows positive at x' are all orthogonal to d.
# (=>) If the positive rows at a generic interior x lie in v-perp, v != 0,
# then x and x + s v (s > 0 small: stays >= 0, rows not orthogonal to v stay
# negative) have the same image.
# So the sign-tree search of solver.search applies with the extra constraints
# x_j > 0, which restrict the sign patterns but never count as positive rows.


class _OrthantTree:
    def __init__(self, W, b, deadline, max_nodes):
        self.W, self.b = W, b
        self.m, self.n = W.shape
        m, n = self.m, self.n
        # the layer rows, then the rows [e_j, 0] of x_j > 0 (sign +1, always on).
        # The primal LP form: the branching below reads its duals and points;
        # with the dual form's, the trees were 4-5x larger (measured, see
        # lp.SignSystems)
        self.sys = lp.SignSystems(np.vstack([W, np.eye(n)]), np.concatenate([b, np.zeros(n)]),
                                  form="primal")
        self.G, self.scales = self.sys.G[:m], self.sys.scales[:m]
        self.Faug = self.sys.F
        self.F = self.Faug[:m]
        self.orth = [(m + j, 1) for j in range(n)]
        self.nonzero = [i for i in range(m) if any(self.G[i][:n])]
        self.Wunit = unit_rows(W)[0]
        self.deadline, self.max_nodes = deadline, max_nodes
        self.stats = {"nodes": 0, "lps": 0, "exact_lps": 0,
                      "leaves": {"basis": 0, "gordan": 0, "hyperplane": 0}}

    def _lp(self, signed):
        self.stats["lps"] += 1
        with stops_at_deadline():
            return self.sys.float_solve(signed + self.orth, deadline=self.deadline)

    def _settle(self, signed, feas, y):
        """``(cert, None)`` with ``cert = (y, yx)`` (multipliers of the layer
        rows ``[w_i, b_i]`` and of the rows ``x_j > 0``), or ``(None, z)``, an
        exact strictly feasible homogeneous point."""
        try:
            with stops_at_deadline():
                mult, zx = self.sys.settle(signed + self.orth, feas, y, self.deadline)
        finally:
            self.stats["exact_lps"] = self.sys.exact_lps
        if mult is None:
            return None, zx
        m = self.m
        y = [[i, str(v)] for i, v in sorted(mult.items()) if i < m]
        yx = [[i - m, str(v)] for i, v in sorted(mult.items()) if i >= m]
        return (y, yx), None

    def _strict_at(self, z, signed):
        if z is None:
            return False
        vals = np.array([s * (self.Faug[i] @ z) for i, s in signed + self.orth])
        scale = max(1.0, float(np.max(np.abs(z))))
        return bool(z[-1] > 0 and np.all(vals > 1e-7 * scale))

    def witness(self, v, x):
        """Exact pair in the orthant from a kernel vector v of the positive
        rows and a candidate interior point x where every row not
        orthogonal to v is negative."""
        n = self.n
        if not any(v):
            return None
        wv = [exact.dot(g[:n], v) for g in self.G]
        for X in rational_candidates(x):
            if any(c <= 0 for c in X):
                continue
            ok, alpha = True, None
            for g, gv in zip(self.G, wv):
                if gv == 0:
                    continue
                val = exact.dot(g[:n], X) + g[n]
                if val >= 0:
                    ok = False
                    break
                if gv > 0:
                    a = Fraction(-val) / gv
                    alpha = a if alpha is None or a < alpha else alpha
            if not ok:
                continue
            for xj, vj in zip(X, v):
                if vj < 0:
                    a = xj / -vj
                    alpha = a if alpha is None or a < alpha else alpha
            alpha = simple_rational_below(Fraction(1) if alpha is None else alpha)
            X2 = [a + alpha * c for a, c in zip(X, v)]
            good, _ = exact.check_layer_witness(self.W, self.b, X, X2)
            if good and all(c >= 0 for c in X2):
                return list(X), X2
        return None

    def _tick(self):
        self.stats["nodes"] += 1
        if Deadline(self.deadline).expired():
            raise SearchStopped("time_limit")
        if self.max_nodes is not None and self.stats["nodes"] > self.max_nodes:
            raise SearchStopped("max_nodes")

    def node(self, sigma, basis, z_hint):
        self._tick()
        n = self.n
        signed = list(sigma.items())
        z = z_hint if self._strict_at(z_hint, signed) else None
        if z is None:
            feas, z, y = self._lp(signed)
            if not feas:
                cert, zx = self._settle(signed, feas, y)
                if cert is not None:
                    self.stats["leaves"]["gordan"] += 1
                    return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
                z = np.array([float(c) for c in zx])
        if len(basis) == n:
            self.stats["leaves"]["basis"] += 1
            return {"leaf": "basis", "rows": list(basis)}
        unassigned = [j for j in self.nonzero if j not in sigma]
        if len(basis) == n - 1:
            normal = exact.kernel([self.G[i][:n] for i in basis], n)[0]
            U = [j for j in unassigned if exact.dot(self.G[j][:n], normal) != 0]
        else:
            normal = None
            if basis and unassigned:
                Q, _ = np.linalg.qr(self.W[basis].T)
                R = self.Wunit[unassigned] - (self.Wunit[unassigned] @ Q) @ Q.T
                res = np.linalg.norm(R, axis=1)
                U = [j for j, r in zip(unassigned, res) if r > 1e-9]
            else:
                U = list(unassigned)
        full = signed + [(j, -1) for j in U]
        feas2, z2, y2 = self._lp(full)
        v = normal if normal is not None else exact.kernel([self.G[i][:n] for i in basis], n)[0]
        if feas2:
            w = self.witness(v, z2[:n] / z2[n])
            if w is not None:
                raise WitnessFound(w)
        if not feas2 and (normal is not None or not U):
            cert, zx = self._settle(full, feas2, y2)
            if cert is not None:
                if normal is not None:
                    self.stats["leaves"]["hyperplane"] += 1
                    return {"leaf": "hyperplane", "rows": list(basis),
                            "normal": [str(c) for c in normal], "y": cert[0], "yx": cert[1]}
                self.stats["leaves"]["gordan"] += 1
                return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
            feas2, y2 = True, None
            z2 = np.array([float(c) for c in zx])
            w = self.witness(v, [zx[i] / zx[n] for i in range(n)])
            if w is not None:
                raise WitnessFound(w)
        elif feas2 and not U:
            cert, zx = self._settle(full, None, None)
            if cert is not None:
                self.stats["leaves"]["gordan"] += 1
                return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
            w = self.witness(v, [zx[i] / zx[n] for i in range(n)])
            if w is not None:
                raise WitnessFound(w)
        cands = U if U else unassigned
        if not cands:
            raise SearchStopped("numerical: a sign pattern could be neither closed nor turned "
                                "into a witness")
        if feas2 is False and y2 is not None and U:
            k = len(signed)
            j = cands[max(range(len(U)), key=lambda t: y2[k + t])]
        elif feas2 and z2 is not None:
            j = max(cands, key=lambda t: self.F[t] @ z2)
        else:
            j = cands[0]
        out = {"branch": j}
        for key, s in (("pos", 1), ("neg", -1)):
            child = dict(sigma)
            child[j] = s
            cb = basis
            if s == 1 and exact.rank([self.G[i][:n] for i in basis] + [self.G[j][:n]]) == len(basis) + 1:
                cb = basis + [j]
            out[key] = self.node(child, cb, z2 if (s == -1 and feas2) else z)
        return out


def check_layer_nonneg(W, b=None, *, time_limit=None, max_nodes=None) -> LayerResult:
    """Decide whether ``x -> ReLU(W x + b)`` is injective on ``{x >= 0}``.

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None.
    time_limit : seconds or None (``unknown`` when hit); max_nodes : budget.

    Returns
    -------
    LayerResult: ``not_injective`` with an exact witness ``x1 != x2``, both
    ``>= 0``; ``injective`` with a certificate (format
    ``reluinj.certificate.nonneg``) accepted by
    :func:`check_nonneg_certificate`; or ``unknown``.

    Notes
    -----
    Criterion (proved in the comment above ``_OrthantTree``): injective on the
    orthant iff the positive rows span R^n at every generic point of the open
    orthant. The search is the sign tree of :mod:`solver.search` with the
    constraints ``x_j > 0`` added to every sign system; they may appear in
    Gordan multipliers (``yx``) but never count as spanning rows.
    Exponential worst case, like the unrestricted problem.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, Remark 1.

    Examples
    --------
    >>> import numpy as np
    >>> check_layer_nonneg(np.eye(2)).verdict.value   # ReLU(x) = x on x >= 0
    'injective'
    >>> check_layer_nonneg(np.array([[1.0, -1.0]])).verdict.value
    'not_injective'
    """
    from ..io import validate_layer
    W, b = validate_layer(W, b)
    start = time.monotonic()
    m, n = W.shape
    deadline = Deadline.after(time_limit, start).at
    T = _OrthantTree(W, b, deadline, max_nodes)

    def done(verdict, wit, msg, cert=None):
        return LayerResult(Verdict(verdict), Witness.of(wit), "orthant-sign-tree",
                           time.monotonic() - start, msg, m, n, cert, dict(T.stats))

    rows = [g[:n] for g in T.G]
    if exact.rank(rows) < n:
        v = exact.kernel(rows, n)[0]
        w = T.witness(v, [1.0] * n)
        if w is not None:
            return done("not_injective", w, "W has rank < n")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * m + 1000))
    try:
        tree = T.node({}, [], None)
    except WitnessFound as f:
        return done("not_injective", f.witness,
                    "the positive rows at a point of the open orthant are rank-deficient")
    except SearchStopped as s:
        return done("unknown", None, s.reason)
    finally:
        sys.setrecursionlimit(old)
    from ..certificates import checker
    cert = {"format": NONNEG_FORMAT, "version": 1, "claim": "injective_on_nonneg",
            "m": m, "n": n, "layer_sha256": checker.layer_fingerprint(W, b),
            "method": "orthant-sign-tree", "tree": tree}
    ok, why = check_nonneg_certificate(W, b, cert)
    if not ok:  # a bug, never a verdict
        return done("unknown", None, f"internal: certificate rejected by its checker: {why}")
    return done("injective", None, "every sign pattern of the open orthant closed", cert)
