"""Scale-free LPs for strict sign systems, and exact Gordan certificates.

A sign system asks for ``x`` with ``g_k . (x, 1) < 0`` for a list of integer
rows ``g_k`` (a row ``[w, b]`` times ``-sigma``). Homogenising with ``t > 0``
makes it a cone question: is there ``z = (x, t)`` with ``g_k . z < 0`` and
``-t < 0``? Such a ``z`` can be scaled freely, so no box is involved: we solve
``min s`` subject to ``g_k . z - s <= -1``, ``-t - s <= -1``, ``s >= 0``.

* ``s* = 0``: a point with margin 1 in homogeneous coordinates (floating point;
  it is only ever used as a *candidate*, checked exactly afterwards).
* ``s* > 0``: the optimal dual ``y >= 0`` has ``sum_k y_k g_k + y_t (0,-1) = 0``
  and ``y != 0`` (Gordan's alternative). We recompute ``y`` exactly on its
  support with integer kernels, so a pruned branch is proved, not guessed.

References
----------
Gordan's theorem of the alternative: exactly one of ``A z < 0`` and
``A^T y = 0, y >= 0, y != 0`` is solvable (Schrijver, *Theory of Linear and
Integer Programming*, §7.8).
"""
from __future__ import annotations

import math

import flint
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .deadline import Deadline
from . import exact, exactlp
from .floatrows import unit_rows
from .exactlp import Timeout

__all__ = ["strict_system", "exact_gordan", "highs_lp", "PersistentSignLP", "PersistentGordanLP",
           "SignSystems", "linprog_highs", "PersistentLP"]


def strict_system(Gfloat, *, want_point=True, engine="linprog"):
    """Solve the homogenised LP for rows ``Gfloat`` (k x (n+1), floats).

    Returns ``(feasible, z, y)``: ``feasible`` is a float judgement,
    ``z`` the homogeneous point (or None), ``y`` approximate dual multipliers
    (length k+1, last entry for ``-t < 0``) when ``s* > 0``.

    ``engine`` only chooses how the one LP is solved: ``"linprog"``
    (:func:`scipy.optimize.linprog`, the layer witness search) or ``"highs"``
    (:func:`highs_lp`, scipy's bundled binding: 2-3x less overhead, the
    region method of :mod:`solver.network`). Both are HiGHS on the same LP;
    each caller keeps the engine it had, so that its floating-point points,
    and hence the exact witnesses built from them, stay as they were.
    """
    F = unit_rows(np.asarray(Gfloat, dtype=np.float64))[0]
    k, n1 = F.shape
    t_row = np.zeros(n1)
    t_row[-1] = -1.0
    A = np.vstack([F, t_row])
    A = np.hstack([A, -np.ones((k + 1, 1))])
    c = np.zeros(n1 + 1)
    c[-1] = 1.0
    if engine == "highs":
        lb = np.full(n1 + 1, -np.inf)
        lb[-1] = 0.0
        ok, x, dual = highs_lp(c, A, np.full(k + 1, -np.inf), -np.ones(k + 1), lb)
        if not ok:
            return None, None, None
        y = None if x[-1] <= 1e-9 else -dual
    else:
        bounds = [(None, None)] * n1 + [(0, None)]
        res = linprog(c, A_ub=A, b_ub=-np.ones(k + 1), bounds=bounds, method="highs")
        if res.status != 0:
            return None, None, None
        x = res.x
        y = None if x[-1] <= 1e-9 else -np.asarray(res.ineqlin.marginals)
    if x[-1] <= 1e-9:
        return True, x[:n1], None
    return False, x[:n1], y


def exact_gordan(G_int, y_approx, *, tol=1e-9):
    """Exact Gordan multipliers for integer rows ``G_int`` (k rows of length
    n+1) plus the implicit row ``(0, ..., 0, -1)``, guided by ``y_approx``.

    Returns a dict ``{row index: positive int}`` over the rows of ``G_int``
    with ``sum y_k G_k[:n] = 0`` and ``sum y_k G_k[n] >= 0``, or ``None`` if no
    exact certificate was recovered from this support (then nothing is pruned).
    """
    y_approx = np.asarray(y_approx, dtype=np.float64)
    k = len(G_int)
    if k == 0 or not np.isfinite(y_approx).all():
        return None
    n1 = len(G_int[0])
    top = float(y_approx.max()) if y_approx.size else 0.0
    if top <= 0:
        return None
    support = (y_approx > tol * top).nonzero()[0].tolist()
    t_row = [0] * (n1 - 1) + [-1]
    cols = [G_int[i] if i < k else t_row for i in support]
    # kernel of the (n+1) x |S| matrix whose columns are the support rows
    basis = exact.kernel(flint.fmpz_mat(cols).transpose(), len(cols))
    if not basis:
        return None
    exact_kernel = len(basis) == 1
    if exact_kernel:
        u = basis[0]
        if sum(u) < 0:
            u = [-v for v in u]
    else:
        # several directions: fit the LP dual in the exact basis, round the
        # coefficients to rationals, and recombine exactly
        B = np.array(basis, dtype=np.float64).T
        target = y_approx[support]
        coef, *_ = np.linalg.lstsq(B, target, rcond=None)
        from fractions import Fraction
        cf = [Fraction(float(c)).limit_denominator(10**12) for c in coef]
        u = [sum(cf[j] * basis[j][i] for j in range(len(basis))) for i in range(len(cols))]
        den = 1
        for v in u:
            den = den * v.denominator // math.gcd(den, v.denominator)
        u = [int(v * den) for v in u]
    if any(v < 0 for v in u) or not any(v > 0 for i, v in zip(support, u) if i < k):
        return None
    out = {i: v for i, v in zip(support, u) if i < k and v != 0}
    if not exact_kernel:
        # a recombination of several kernel vectors: re-check it (integers).
        # A single kernel vector of the columns (t row included, multiplier
        # >= 0) satisfies both conditions by construction.
        n = n1 - 1
        for r in range(n):
            if sum(v * G_int[i][r] for i, v in out.items()) != 0:
                return None
        if sum(v * G_int[i][n] for i, v in out.items()) < 0:
            return None
    g = math.gcd(*out.values())
    return {i: v // g for i, v in out.items()}


def highs_lp(c, A, lo, hi, lb=None, ub=None):
    """``min c.x  s.t.  lo <= A x <= hi, lb <= x <= ub`` with HiGHS (scipy's
    bundled binding, as :class:`PersistentSignLP`; 2-3x less
    overhead than ``scipy.optimize.linprog`` on these tiny LPs). Returns
    ``(ok, x, row_dual)``; ``row_dual`` follows ``linprog``'s ``marginals``
    sign convention. A float answer: callers certify it exactly."""
    A = np.asarray(A, dtype=np.float64)
    m, n = A.shape
    inf = np.inf
    lb = np.full(n, -inf) if lb is None else np.asarray(lb, dtype=np.float64)
    ub = np.full(n, inf) if ub is None else np.asarray(ub, dtype=np.float64)
    try:
        from scipy.optimize._highspy import _core as h
    except ImportError:  # pragma: no cover - depends on the scipy build
        h = None
    if h is None or m == 0:
        fin_hi = np.isfinite(hi)
        fin_lo = np.isfinite(lo)
        Aub = np.vstack([A[fin_hi], -A[fin_lo]]) if m else None
        bub = np.concatenate([np.asarray(hi)[fin_hi], -np.asarray(lo)[fin_lo]]) if m else None
        res = linprog(c, A_ub=Aub, b_ub=bub, bounds=list(zip(
            [None if not np.isfinite(v) else v for v in lb],
            [None if not np.isfinite(v) else v for v in ub])), method="highs")
        if res.status != 0:
            return False, None, None
        dual = np.zeros(m)
        if m:
            mg = np.asarray(res.ineqlin.marginals)
            k = int(fin_hi.sum())
            dual[np.flatnonzero(fin_hi)] += mg[:k]
            dual[np.flatnonzero(fin_lo)] -= mg[k:]
        return True, np.asarray(res.x), dual
    lpm = h.HighsLp()
    lpm.num_col_ = n
    lpm.num_row_ = m
    lpm.a_matrix_.num_col_ = n
    lpm.a_matrix_.num_row_ = m
    lpm.a_matrix_.format_ = h.MatrixFormat.kColwise
    lpm.col_cost_ = np.asarray(c, dtype=np.float64)
    lpm.col_lower_ = lb
    lpm.col_upper_ = ub
    lpm.row_lower_ = np.asarray(lo, dtype=np.float64)
    lpm.row_upper_ = np.asarray(hi, dtype=np.float64)
    lpm.a_matrix_.start_ = np.arange(0, m * n + 1, m, dtype=np.int32)
    lpm.a_matrix_.index_ = np.tile(np.arange(m, dtype=np.int32), n)
    lpm.a_matrix_.value_ = np.ascontiguousarray(A.T).ravel()
    hs = h._Highs()
    hs.setOptionValue("output_flag", False)
    hs.passModel(lpm)
    hs.run()
    if hs.getModelStatus() != h.HighsModelStatus.kOptimal:
        return False, None, None
    sol = hs.getSolution()
    return True, np.array(sol.col_value), np.array(sol.row_dual)


def _slots(signed, weights):
    """The model row (:class:`PersistentSignLP`) or column
    (:class:`PersistentGordanLP`) of each ``(row i, sign s)`` with its slack
    weight w: ``4 i + 2 [w = 2] + [s = +1]``."""
    if weights is None:
        return [4 * i + (s == 1) for i, s in signed]
    if not set(weights) <= {1.0, 2.0}:
        raise ValueError("slack weights must be 1 or 2")
    return [4 * i + (s == 1) + 2 * (w == 2.0) for (i, s), w in zip(signed, weights)]


def _run(model, time_limit):
    """Run the HiGHS object ``model.h`` within ``time_limit`` seconds (None:
    none); True when it ends optimal."""
    h = model.h
    tl = model.inf if time_limit is None else max(1e-3, float(time_limit))
    if tl != getattr(model, "_time_limit", model.inf):
        h.setOptionValue("time_limit", tl)
        model._time_limit = tl
    h.run()
    return h.getModelStatus() == model._ok


class PersistentSignLP:
    """One HiGHS LP held for a whole search; sign constraints are switched on
    and off by changing row bounds, and every solve warm-starts from the
    previous basis.

    The model has two rows per layer row (one per sign) and the ``t`` row;
    ``solve(signed)`` activates exactly the rows listed. Same LP and the same
    contract as :func:`strict_system`, only faster.

    The searches ask the dual form, :class:`PersistentGordanLP`, through
    :class:`SignSystems`; this primal form is its fallback (when the binding
    below is missing, then in turn :func:`strict_system`) and its reference
    in the tests.

    Why a private binding: highspy (the public HiGHS binding) and ortools both
    ship libhighs and cannot be loaded in one process, and the MILP backends
    use ortools. scipy bundles its own HiGHS binding
    (``scipy.optimize._highspy._core._Highs``) that coexists with ortools; we use
    it when present and fall back to :func:`strict_system` (scipy.linprog,
    a fresh LP per call) when a scipy release moves it. Nothing here decides a
    verdict: answers are checked exactly by the caller.
    """

    def __init__(self, F):
        self.F = np.asarray(F, dtype=np.float64)
        self.m, self.n1 = self.F.shape
        self.active = set()
        self.h = None
        try:
            from scipy.optimize._highspy import _core
            h = _core._Highs()
            h.setOptionValue("output_flag", False)
            inf = h.getInfinity()
            n1 = self.n1
            h.addVars(n1 + 1, np.array([-inf] * n1 + [0.0]), np.array([inf] * (n1 + 1)))
            h.changeColCost(n1, 1.0)
            # four rows per layer row: sigma in (-1, +1) x slack weight in (1, 2);
            # the weight-2 copies serve the weighted solves without coefficient
            # edits. Added in one call (row i, weight w, sign s is row 4i+2w'+s').
            rows = np.empty((4 * self.m, n1 + 1))
            k = 0
            for w in (1.0, 2.0):
                for sgn in (1.0, -1.0):
                    rows[k::4, :n1] = sgn * self.F
                    rows[k::4, n1] = -w
                    k += 1
            nnz = rows.size
            h.addRows(4 * self.m, np.full(4 * self.m, -inf), np.full(4 * self.m, inf), nnz,
                      np.arange(0, nnz, n1 + 1, dtype=np.int32),
                      np.tile(np.arange(n1 + 1, dtype=np.int32), 4 * self.m), rows.ravel())
            h.addRow(-inf, -1.0, 2, np.array([n1 - 1, n1], dtype=np.int32), np.array([-1.0, -1.0]))
            self.inf = inf
            self.h = h
            self._ok = _core.HighsModelStatus.kOptimal
        except Exception:  # pragma: no cover - depends on the scipy build
            self.h = None

    def solve(self, signed, weights=None, time_limit=None):
        """signed: list of (row, sigma). Returns ``(feasible, z, y)`` with ``y``
        aligned to ``signed`` plus a last entry for the t row; ``(None, None,
        None)`` when HiGHS stops without an answer (``time_limit`` seconds,
        default none: a large layer's LP must not outlast the search's limit).

        ``weights`` (optional, aligned with ``signed``, 1 or 2) scale the slack
        column in each row: feasibility is unchanged, but the dual then
        prefers Gordan circuits through low-weight rows."""
        if self.h is None:
            if not signed:
                z = np.zeros(self.n1)
                z[-1] = 1.0
                return True, z, None
            G = np.array([-s * self.F[i] for i, s in signed])
            if weights is not None:
                G = G / np.asarray(weights, dtype=np.float64)[:, None]
            return strict_system(G)
        rows = _slots(signed, weights)
        want = set(rows)
        h = self.h
        inf = self.inf
        for r in self.active - want:
            h.changeRowBounds(r, -inf, inf)
        for r in want - self.active:
            h.changeRowBounds(r, -inf, -1.0)
        self.active = want
        if not _run(self, time_limit):
            return None, None, None
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        z, s = x[:self.n1], x[self.n1]
        if s <= 1e-9:
            return True, z, None
        rd = np.asarray(sol.row_dual)
        y = -rd[np.array(rows + [4 * self.m], dtype=np.intp)]
        # the z-columns of the dual read sum_r y_r sgn_r F_r = 0 whatever the slack
        # weights: y are Gordan multipliers of the unweighted rows
        return False, z, y


class PersistentGordanLP:
    """The LP of :class:`PersistentSignLP` in its dual form, held for a whole
    search: the same contract (``solve(signed, weights, time_limit)``), about
    a third less LP time on the sign tree's systems (measured: 3.8 against 6.1
    CPU seconds at n = 9, m = 54), because its basis has n + 2 rows instead
    of one per layer row and sign.

    The dual of ``min s : g_k . z - w_k s <= -1, -t - s <= -1, s >= 0`` is
    ``max sum u : sum_k u_k g_k - u_t e_t = 0, sum_k w_k u_k + u_t <= 1, u >=
    0``: Gordan's alternative written as an LP. One column per (layer row,
    sign, slack weight), switched on and off through its upper bound; a
    vertex is a circuit (a minimal support), which is what the exact
    re-derivation wants. ``s* = sum u``; the primal point ``z`` is the dual
    of the equality rows. Falls back to :class:`PersistentSignLP` when
    scipy's HiGHS binding is missing. Nothing here decides a verdict."""

    def __init__(self, F):
        self.F = np.asarray(F, dtype=np.float64)
        self.m, self.n1 = self.F.shape
        self.active = set()
        self.h = None
        self._fallback = None
        try:
            from scipy.optimize._highspy import _core
            h = _core._Highs()
            h.setOptionValue("output_flag", False)
            inf = h.getInfinity()
            m, n1 = self.m, self.n1
            lo, hi = np.zeros(n1 + 1), np.zeros(n1 + 1)
            lo[n1], hi[n1] = -inf, 1.0
            h.addRows(n1 + 1, lo, hi, 0, np.zeros(n1 + 1, dtype=np.int32),
                      np.zeros(0, dtype=np.int32), np.zeros(0))
            # column 4i + 2w' + s': row i, sign s' (0: sigma = -1), weight w'
            # (0: 1, 1: 2), as the rows of PersistentSignLP; the last is u_t
            cols = np.zeros((4 * m + 1, n1 + 1))
            k = 0
            for w in (1.0, 2.0):
                for sgn in (1.0, -1.0):
                    cols[k:4 * m:4, :n1] = sgn * self.F
                    cols[k:4 * m:4, n1] = w
                    k += 1
            cols[4 * m, n1 - 1], cols[4 * m, n1] = -1.0, 1.0
            ncol, nnz = 4 * m + 1, cols.size
            ub = np.zeros(ncol)
            ub[-1] = inf
            h.addCols(ncol, -np.ones(ncol), np.zeros(ncol), ub, nnz,
                      np.arange(0, nnz, n1 + 1, dtype=np.int32),
                      np.tile(np.arange(n1 + 1, dtype=np.int32), ncol), cols.ravel())
            self.inf, self.h = inf, h
            self._ok = _core.HighsModelStatus.kOptimal
        except Exception:  # pragma: no cover - depends on the scipy build
            self.h = None
            self._fallback = PersistentSignLP(self.F)

    def solve(self, signed, weights=None, time_limit=None):
        """As :meth:`PersistentSignLP.solve`."""
        if self.h is None:
            return self._fallback.solve(signed, weights, time_limit)
        cols = _slots(signed, weights)
        want = set(cols)
        h, inf = self.h, self.inf
        for change, upper in ((self.active - want, 0.0), (want - self.active, inf)):
            if change:
                idx = np.fromiter(change, dtype=np.int32, count=len(change))
                h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), np.full(len(idx), upper))
        self.active = want
        if not _run(self, time_limit):
            return None, None, None
        sol = h.getSolution()
        u = np.asarray(sol.col_value)
        at = np.array(cols + [4 * self.m], dtype=np.intp)
        y = u[at]
        z = np.asarray(sol.row_dual)[:self.n1]
        if y.sum() > 1e-9:
            return False, z, y
        # s* = 0: z (up to the sign convention of the duals) has g_k . z <= -1
        if signed:
            G = np.array([-s * self.F[i] for i, s in signed])
            worst = (G @ z).max()
            if worst > (G @ -z).max():
                z, worst = -z, (G @ -z).max()
            if not worst < 0:
                return None, None, None
        if not z[-1] > 0:
            return None, None, None
        return True, z, None


def _primitive(mult):
    """Integer Gordan multipliers divided by their gcd: the same circuit
    (any positive multiple is one), written shorter. The rows' power-of-two
    scales put a common factor of about 2^54 into every multiplier, about a
    tenth of a certificate's digits."""
    g = math.gcd(*mult.values())
    return {i: v // g for i, v in mult.items()} if g > 1 else mult


class SignSystems:
    """Strict sign systems over the rows of one layer, decided exactly.

    ``signed`` lists ``(row, sigma)``: the system asks for ``x`` with
    ``sigma (w_i.x + b_i) > 0`` for every entry (homogeneously: ``z = (x, t)``,
    ``t > 0``). The float LP (:class:`PersistentGordanLP`) answers first; its
    duals are made exact on their support (:func:`exact_gordan`), and when
    that fails the exact simplex (:mod:`solver.exactlp`) decides. The one
    place the package turns a sign system into a proof: the sign tree
    (:mod:`solver.search`), the cell enumeration, the orthant tree of
    :mod:`solver.network.orthant`, the σ* search and the depth bound all ask
    it. Extra constraints such as ``x_j > 0`` are rows too (``[e_j, 0]``
    with sign +1).

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None
        The rows ``[w_i, b_i]`` (binary64).
    int_rows : tuple, optional
        ``exact.integer_rows(W, b)`` when the caller has it already (it must
        be of these ``W, b``).
    form : ``"dual"`` (default) or ``"primal"``
        The float LP: :class:`PersistentGordanLP` or :class:`PersistentSignLP`,
        the two forms of one LP (same question, same contract, both answers
        optimal), which differ only in *which* optimal point or multipliers
        they return when there are several. Proofs do not depend on it;
        search trees whose branching reads those floats do. The dual form
        has the cheaper basis (n + 2 rows): the sign tree, the enumeration,
        the σ* search and the depth bound use it. The orthant tree keeps the
        primal form: its branching rule (largest dual, most positive row at
        the point) was measured to build 4-5x larger trees with the dual
        form's answers (benchmarks/results/2026-11-27/house).

    Attributes
    ----------
    G, scales : the exact integer rows ``G[i] = scales[i] * [w_i, b_i]``.
    F, norms : the unit float rows the LP sees (:func:`solver.floatrows.unit_rows`),
        ``F[i] = [w_i, b_i] / norms[i]``: the directions of ``G``.
    """

    def __init__(self, W, b, *, int_rows=None, form="dual"):
        if form not in ("dual", "primal"):
            raise ValueError(f"form must be 'dual' or 'primal', got {form!r}")
        W = np.asarray(W, dtype=np.float64)
        self.m, self.n = W.shape
        b = np.zeros(self.m) if b is None else np.asarray(b, dtype=np.float64)
        self.G, self.scales = exact.integer_rows(W, b) if int_rows is None else int_rows
        self._Gneg = None
        self.F, self.norms = unit_rows(np.hstack([W, b[:, None]]))
        self.form = form
        self.lp = self._new_lp()
        self.lps = 0
        self.exact_lps = 0

    def _new_lp(self):
        return (PersistentGordanLP if self.form == "dual" else PersistentSignLP)(self.F)

    def reset(self):
        """A fresh LP (no warm start): a deterministic state."""
        self.lp = self._new_lp()

    def float_solve(self, signed, weights=None, deadline=None):
        """The float LP: ``(feasible, z, y)`` as :meth:`PersistentSignLP.solve`
        (HiGHS stops at ``deadline``, a ``time.monotonic()`` value)."""
        self.lps += 1
        if not signed:
            z = np.zeros(self.n + 1)
            z[-1] = 1.0
            return True, z, None
        left = Deadline(deadline).remaining()
        if left is not None and left <= 0:
            raise Timeout("time_limit")
        return self.lp.solve(signed, weights, time_limit=left)

    def from_duals(self, signed, y):
        """Exact Gordan multipliers (as :meth:`settle`) on the support of the
        float duals ``y`` of an infeasible solve, or None when they do not
        give one (then nothing is proved)."""
        if y is None:
            return None
        y = np.asarray(y, dtype=np.float64)
        top = y.max()
        if not np.isfinite(y).all() or top <= 0:
            return None
        keep = (y[:-1] > 1e-9 * top).nonzero()[0]
        rows = [signed[k] for k in keep.tolist()]
        if self._Gneg is None:
            self._Gneg = [[-c for c in g] for g in self.G]
        Gi = [self.G[i] if s == -1 else self._Gneg[i] for i, s in rows]     # -s g_i
        cert = exact_gordan(Gi, np.append(y[keep], y[-1]))
        if cert is None:
            return None
        scales = self.scales
        return _primitive({rows[k][0]: v * scales[rows[k][0]] for k, v in cert.items()})

    def settle(self, signed, feas, y, deadline=None):
        """Exact answer for ``signed`` after a float solve: ``(mult, None)``,
        Gordan multipliers (dict row -> multiplier of the row ``[w_i, b_i]``
        itself, integers or Fractions) from the float duals when the LP was
        infeasible, else from the exact simplex; or ``(None, z)``, an exact
        strictly feasible homogeneous point. Raises :class:`Timeout` past
        ``deadline`` (``time.monotonic()``)."""
        if feas is False:
            mult = self.from_duals(signed, y)
            if mult is not None:
                return mult, None
        self.exact_lps += 1
        Gi = [[-s * c for c in self.G[i]] for i, s in signed]
        status, v = exactlp.strict_feasibility(Gi, deadline=deadline)
        if status == "infeasible":
            Y, _ = exact.common_denominator(v)
            # the simplex's multipliers satisfy Gordan's alternative by
            # construction; re-checked in integers all the same (cheap), since
            # a pruned branch rests on them
            if not (all(c >= 0 for c in Y) and any(Y)
                    and all(sum(Y[k] * Gi[k][r] for k in range(len(Gi))) == 0
                            for r in range(self.n))
                    and sum(Y[k] * Gi[k][self.n] for k in range(len(Gi))) >= 0):
                raise ArithmeticError("the exact simplex returned no Gordan certificate")
            return _primitive({signed[k][0]: Y[k] * self.scales[signed[k][0]]
                               for k in range(len(signed)) if Y[k] != 0}), None
        return None, v

    def circuit(self, signed, deadline=None):
        """Exact Gordan multipliers for ``signed``, or None if it is feasible."""
        feas, _, y = self.float_solve(signed, deadline=deadline)
        return self.settle(signed, False if feas is False else None, y, deadline)[0]


def linprog_highs(c, *, deadline=None, **kwargs):
    """:func:`scipy.optimize.linprog` with ``method="highs"``: the one door
    to HiGHS for one-shot LPs of the package (this module owns HiGHS: the
    strict systems, :func:`highs_lp` and :class:`PersistentLP` are here too).
    A float answer: callers certify what they conclude, or use it as a
    heuristic.

    ``deadline`` (a ``time.monotonic()`` value or None) becomes HiGHS's
    ``time_limit``: an LP stopped by it returns ``status`` 1 (limit reached),
    which every caller already reads as "no answer"."""
    left = Deadline(deadline).remaining()
    if left is not None:
        opts = dict(kwargs.pop("options", None) or {})
        opts["time_limit"] = min(opts.get("time_limit", math.inf), max(1e-3, left))
        kwargs["options"] = opts
    return linprog(c, method="highs", **kwargs)


class PersistentLP:
    """One HiGHS LP kept alive while its objective and column bounds change
    (warm-started dual simplex), for bound tightening over a fixed relaxation.

    Uses scipy's bundled HiGHS binding (``scipy.optimize._highspy._core``),
    which coexists with ortools (the public ``highspy`` does not); falls back
    to :func:`scipy.optimize.linprog` (a fresh LP per call) if a scipy release
    moves it.

    Parameters
    ----------
    A : scipy.sparse matrix (rows x cols); row_lb, row_ub, lb, ub : arrays.
    """

    def __init__(self, A, row_lb, row_ub, lb, ub):
        self.A = sp.csr_matrix(A)
        self.row_lb = np.asarray(row_lb, float)
        self.row_ub = np.asarray(row_ub, float)
        self.lb = np.array(lb, float)
        self.ub = np.array(ub, float)
        self.n = self.A.shape[1]
        self.h = None
        self._cost_col = None
        try:
            from scipy.optimize._highspy import _core
            h = _core._Highs()
            h.setOptionValue("output_flag", False)
            h.addVars(self.n, self.lb, self.ub)
            A = self.A
            if A.shape[0]:
                h.addRows(A.shape[0], self.row_lb, self.row_ub, A.nnz,
                          A.indptr[:-1].astype(np.int32), A.indices.astype(np.int32),
                          A.data.astype(float))
            self.h = h
            self._optimal = _core.HighsModelStatus.kOptimal
            self._infeasible = _core.HighsModelStatus.kInfeasible
        except Exception:  # pragma: no cover - depends on the scipy build
            self.h = None

    def point(self):
        """Primal solution of the last successful solve (None before)."""
        return getattr(self, "_point", None)

    def set_bounds(self, col, lo, hi):
        self.lb[col] = lo
        self.ub[col] = hi
        if self.h is not None:
            self.h.changeColBounds(int(col), float(lo), float(hi))

    def extreme(self, col, sense, time_limit=None):
        """min (``sense=+1``) or max (``-1``) of variable ``col``.

        Returns ``(value, status)`` with status ``"optimal"``, ``"infeasible"``
        or ``"failed"`` (value None unless optimal)."""
        if self.h is None:
            c = np.zeros(self.n)
            c[col] = sense
            opts = {} if time_limit is None else {"time_limit": max(0.01, time_limit)}
            A = self.A
            fin_u = np.isfinite(self.row_ub)
            fin_l = np.isfinite(self.row_lb)
            Aub = sp.vstack([A[fin_u], -A[fin_l]])
            bub = np.concatenate([self.row_ub[fin_u], -self.row_lb[fin_l]])
            res = linprog(c, A_ub=Aub, b_ub=bub, bounds=np.column_stack([self.lb, self.ub]),
                          method="highs", options=opts)
            if res.status == 2:
                return None, "infeasible"
            if res.status != 0:
                return None, "failed"
            self._point = np.asarray(res.x)
            return float(res.x[col]), "optimal"
        h = self.h
        if self._cost_col is not None:
            h.changeColCost(int(self._cost_col), 0.0)
        h.changeColCost(int(col), float(sense))
        self._cost_col = col
        h.setOptionValue("time_limit", float(time_limit) if time_limit is not None else np.inf)
        h.run()
        st = h.getModelStatus()
        if st == self._optimal:
            self._point = np.asarray(h.getSolution().col_value)
            return float(self._point[col]), "optimal"
        if st == self._infeasible:
            return None, "infeasible"
        return None, "failed"
