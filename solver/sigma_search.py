"""σ*: the smallest singular value of the active rows, minimised over R^n.

For a layer ``F(x) = ReLU(W x + b)`` Theorem 4 of Puthawala et al. uses

    σ* = min over x of σ_min(W restricted to S(x)),   S(x) = {i : w_i.x + b_i >= 0}.

This module computes σ* with a proof: the minimising active set (with an
exact interior point of its cell), and a certified lower bound ``t <= σ*``
within ``1e-9`` relative of it.

Which sets count (see Notes for the proofs)
-------------------------------------------
Call ``x`` generic when no nonzero row has ``w_i.x + b_i = 0``; the generic
points are the open cells of the arrangement and ``P(x) = {i : w_i.x + b_i > 0}``
is constant on a cell. Zero rows (``w_i = 0``) add nothing to ``W_S^T W_S``.

1. ``σ_min(W_S)`` is monotone: ``S ⊆ S'`` gives ``W_S^T W_S ⪯ W_S'^T W_S'``
   (the difference is a sum of ``w_i w_i^T``), so ``σ_min(W_S) <= σ_min(W_S')``.
2. Every ``x`` has generic points ``x'`` arbitrarily close with
   ``S(x') ⊆ S(x)`` (rows with value > 0 or < 0 keep their sign under a small
   perturbation; rows with value exactly 0 may only leave ``S``).
   Hence ``min_x σ_min(W_S(x)) = min over open cells of σ_min(W_P(cell))``:
   the minimum over all of R^n (closure included, ``>= 0`` as in the paper)
   is attained at a generic point, and it is a minimum, not an infimum
   (finitely many cells).
3. By 1, the minimum sits on a cell whose positive set is minimal among the
   positive sets of cells (a *minimal realizable active set*).

Biases change nothing above (cells of an affine arrangement instead of cones);
``domain="nonneg"`` restricts to ``x >= 0`` (cells meeting the open orthant;
by 2 applied inside the convex domain the minimum over the closed orthant is
the same), which is what a later layer of a network needs (Remark 1).

Search
------
Best-first branch and bound over sign patterns of the distinct hyperplanes
(classes of rows whose ``[w_i, b_i]`` are exact multiples, as in
:mod:`solver.enumeration`). A node fixes the signs of some classes; every cell
below it has all rows fixed positive in its positive set, so by 1

    LB(node) = σ_min(rows fixed positive)

bounds every cell below. A node is closed

* as a *bound* leaf when ``LB >= (1 - 1e-10) U`` (``U`` the incumbent); at the
  end every bound leaf is re-proved exactly at the certified ``t``:
  ``A^T A - t^2 I`` is positive definite for the integer matrix ``A`` of its
  positive rows (fraction-free LU, python-flint: all leading principal
  minors > 0);
* as an *empty* leaf when its sign pattern has no point: exact Gordan
  multipliers (:func:`solver.lp.exact_gordan`, else the exact simplex of
  :mod:`solver.exactlp`), never a floating-point judgement.

LPs are the scale-free homogeneous LPs of :mod:`solver.lp` (no box, no
big-M). An incumbent is a cell with an exactly verified interior point;
incumbents come from sampled points improved by a greedy descent (flip the
row that carries most of the smallest singular direction to negative while
keeping the negative rows negative: one LP each) and from the LP points of
the nodes. When every branch is closed, ``σ* ∈ [t, U]`` with
``U - t <= 5e-10 U``: ``U`` is attained by the reported cell, ``t`` is a proof.

References
----------
Puthawala, Kothari, Lassas, Dokmanić, de Hoop, *Globally injective ReLU
networks*, JMLR 2022, Theorem 4 (global inverse Lipschitz constant) and its
proof in Appendix C.1; Theorem 1 (directed spanning sets) for the cells.
"""
from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from .deadline import Deadline
from . import exact, lp
from .enumeration import coincident_classes
from .floatrows import median_offset, unit_scale
from .search import SearchStopped, stops_at_deadline
from .witness import cell_point
from .sigma_certify import CERT_RTOL, certify_sigma_lower, pd_exact  # noqa: F401 (public here too)

__all__ = ["SigmaOutcome", "sigma_star", "pd_exact", "certify_sigma_lower", "cell_point"]

#: a node is closed as a bound leaf when LB >= (1 - PRUNE_RTOL) * incumbent
PRUNE_RTOL = 1e-10
SEED_CHUNK_FLOPS = 2e7     #: flops per chunk of the seeding's Gram matrices
#: the search keeps m n^2 floats (outer products of rows): larger layers are not searched
MAX_GRAM_ENTRIES = 5 * 10 ** 7


@dataclass(frozen=True)
class SigmaOutcome:
    """Result of :func:`sigma_star` (internal; :mod:`solver.stability` turns it
    into the public result).

    Attributes
    ----------
    status : ``"exact"`` (every branch closed and every bound leaf certified),
        ``"unknown"`` (limit hit: bounds so far), ``"zero"`` (a cell whose
        positive rows are rank-deficient: σ* = 0, the layer is not injective).
    sigma : float, σ_min of the best cell found (an upper bound on σ*; σ* itself
        when ``status == "exact"``), or None if no cell was found.
    lower : Fraction or None, certified ``lower <= σ*`` (exact dyadic rational).
    point : exact interior point (tuple of Fractions) of the best cell.
    cell : tuple of +1/-1 per row (0 for zero rows) at ``point``.
    positive : tuple of rows positive at ``point``.
    tree : dict, the branch-and-bound tree (see :func:`sigma_star`) or None.
    stats : counters.
    """
    status: str
    sigma: float | None
    lower: Fraction | None
    point: tuple | None
    cell: tuple | None
    positive: tuple
    tree: dict | None = None
    stats: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------
class _Search:
    def __init__(self, W, b, domain, deadline, max_nodes, rng):
        self.W = np.asarray(W, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.m, self.n = self.W.shape
        m, n = self.m, self.n
        self.deadline = deadline
        self.max_nodes = max_nodes
        self.rng = rng
        self.G, self.scales = exact.integer_rows(self.W, self.b)
        self.reps, self.members, self.orient = coincident_classes(self.G, n)
        K = self.K = len(self.reps)
        self.nonzero = [i for i in range(m) if self.orient[i] != 0]
        # rows positive when class k has sign +1 (relative to its rep) / -1
        self.pos_rows, self.neg_rows = [], []
        for k, ms in enumerate(self.members):
            o = self.orient[self.reps[k]]
            self.pos_rows.append(tuple(j for j in ms if self.orient[j] == o))
            self.neg_rows.append(tuple(j for j in ms if self.orient[j] != o))
        outer = np.einsum("ij,ik->ijk", self.W, self.W)
        self.Cp = np.array([outer[list(r)].sum(0) if r else np.zeros((n, n)) for r in self.pos_rows]) \
            if K else np.zeros((0, n, n))
        self.Cn = np.array([outer[list(r)].sum(0) if r else np.zeros((n, n)) for r in self.neg_rows]) \
            if K else np.zeros((0, n, n))
        self.trp = np.trace(self.Cp, axis1=1, axis2=2) if K else np.zeros(0)
        self.trn = np.trace(self.Cn, axis1=1, axis2=2) if K else np.zeros(0)
        # LP rows: one per class (its rep), then the domain rows x_j > 0
        Wb = np.hstack([self.W, self.b[:, None]])
        rows = Wb[list(self.reps)] if K else np.zeros((0, n + 1))
        self.dom_int = []
        if domain == "nonneg":
            E = np.hstack([np.eye(n), np.zeros((n, 1))])
            rows = np.vstack([rows, E])
            # integer rows g with g.(x, 1) < 0  <=>  x_j > 0
            self.dom_int = [[-1 if c == j else 0 for c in range(n)] + [0] for j in range(n)]
        Gc = [self.G[r] for r in self.reps] + [[-c for c in g] for g in self.dom_int]
        self.fixed = [(K + j, 1) for j in range(len(self.dom_int))]
        # the one sign-system solver of the package (exact rows Gc, unit float rows F)
        self.sys = lp.SignSystems(rows[:, :n], rows[:, n], int_rows=(
            Gc, [self.scales[r] for r in self.reps] + [1] * len(self.dom_int)))
        self.F = self.sys.F
        self.stats = {"nodes": 0, "lps": 0, "exact_lps": 0, "bound_leaves": 0, "empty_leaves": 0,
                      "incumbents": 0, "descent_lps": 0}
        self.best = None          # (sigma, class signs, exact point)
        self.tree = {}            # node id -> record
        self.leaves = []          # positive row sets of bound leaves
        self.next_id = 0
        self.soft_deadline = None

    # ---- helpers ------------------------------------------------------
    def _tick(self):
        if Deadline(self.deadline).expired():
            raise SearchStopped("time_limit")
        if self.max_nodes is not None and self.stats["nodes"] >= self.max_nodes:
            raise SearchStopped("max_nodes")

    def _soft_stop(self):
        """The heuristics (seeding, descent) stop here; the search goes on."""
        return Deadline(self.soft_deadline).expired()

    def gram(self, s):
        """Gram matrix of the positive rows for class signs ``s`` (int8, 0 = free)."""
        return np.tensordot((s > 0).astype(float), self.Cp, 1) + \
            np.tensordot((s < 0).astype(float), self.Cn, 1)

    @staticmethod
    def lam(Gm):
        w, V = np.linalg.eigh(Gm)
        return max(float(w[0]), 0.0), V[:, 0]

    def positive_rows(self, s):
        out = []
        for k in range(self.K):
            if s[k] > 0:
                out.extend(self.pos_rows[k])
            elif s[k] < 0:
                out.extend(self.neg_rows[k])
        return sorted(out)

    def signed(self, s):
        return self.fixed + [(k, int(s[k])) for k in np.flatnonzero(s)]

    def strict(self, z, signed, tol=1e-7):
        if z is None:
            return False
        if not signed:
            return True
        idx = np.array([i for i, _ in signed])
        sg = np.array([v for _, v in signed], dtype=float)
        scale = max(1.0, float(np.max(np.abs(z))))
        return bool(z[-1] > 0 and np.all(sg * (self.F[idx] @ z) > tol * scale))

    def feasible(self, signed):
        """``("point", z float)`` or ``("empty", multipliers)`` (exact);
        multipliers are ``[[row, "q"], ...]`` in the checker's convention."""
        if not signed:
            z = np.zeros(self.n + 1)
            z[-1] = 1.0
            return "point", z
        self.stats["lps"] += 1
        with stops_at_deadline():
            feas, z, y = self.sys.float_solve(signed, deadline=self.deadline)
        if feas:
            return "point", z
        mult, v = self._settle(signed, feas, y)
        if mult is not None:
            return "empty", mult
        return "point", np.array([float(c) for c in v])

    def _settle(self, signed, feas, y):
        """:meth:`solver.lp.SignSystems.settle`: ``(multipliers, None)`` in the
        checker's convention (row ``-1-j``: the domain row ``x_j > 0``), or
        ``(None, z)``, an exact strictly feasible homogeneous point."""
        try:
            with stops_at_deadline():
                mult, v = self.sys.settle(signed, feas, y, self.deadline)
        finally:
            self.stats["exact_lps"] = self.sys.exact_lps
        if mult is None:
            return None, v
        K = self.K
        return [[self.reps[i] if i < K else -1 - (i - K), str(mult[i])]
                for i, _ in signed if i in mult], None

    def complete_signs(self, s, z):
        """Class signs of the cell containing the float point ``z`` (homogeneous),
        or None when some free class is too close to zero there."""
        free = np.flatnonzero(s == 0)
        if len(free) == 0:
            return s.copy()
        vals = self.F[free] @ z
        scale = max(1.0, float(np.max(np.abs(z))))
        if np.any(np.abs(vals) <= 1e-9 * scale):
            return None
        out = s.copy()
        out[free] = np.where(vals > 0, 1, -1)
        return out

    def row_signs(self, s):
        sign = [0] * self.m
        for k in range(self.K):
            for j in self.pos_rows[k]:
                sign[j] = int(s[k])
            for j in self.neg_rows[k]:
                sign[j] = -int(s[k])
        return sign

    def offer(self, s_full, z):
        """A complete class sign vector with a float point: make it the
        incumbent if it is better and has an exact interior point."""
        lam, _ = self.lam(self.gram(s_full))
        if self.best is not None and math.sqrt(lam) >= self.best[0] * (1 + 1e-9):
            return False
        P = self.positive_rows(s_full)
        sig = float(np.linalg.svd(self.W[P], compute_uv=False)[-1]) if len(P) >= self.n else 0.0
        if self.best is not None and sig >= self.best[0]:
            return False
        x = z[:self.n] / z[self.n]
        sign = self.row_signs(s_full)
        pt = cell_point(self.G, self.nonzero, sign, x, self.dom_int)
        if pt is None:
            signed = self.signed(s_full)
            mult, zx = self._settle(signed, None, None) if signed else (None, [0] * self.n + [1])
            if mult is not None:
                return False
            pt = [Fraction(zx[i]) / Fraction(zx[self.n]) for i in range(self.n)]
            pt = cell_point(self.G, self.nonzero, sign, pt, self.dom_int)
            if pt is None:
                return False
        if len(P) < self.n or exact.rank([self.G[i][:self.n] for i in P]) < self.n:
            sig = 0.0
        self.best = (sig, s_full.copy(), tuple(pt))
        self.stats["incumbents"] += 1
        return True

    def descend(self, s_full, budget):
        """Greedy: flip the class carrying most of the weakest direction to
        its smaller side, keeping every class on its smaller side there."""
        s = s_full.copy()
        tried = set()
        while budget > 0 and not self._soft_stop():
            self._tick()
            Gm = self.gram(s)
            _, v = self.lam(Gm)
            cur = np.where(s > 0, np.einsum("i,kij,j->k", v, self.Cp, v),
                           np.einsum("i,kij,j->k", v, self.Cn, v))
            alt = np.where(s > 0, np.einsum("i,kij,j->k", v, self.Cn, v),
                           np.einsum("i,kij,j->k", v, self.Cp, v))
            gain = cur - alt
            order = [k for k in np.argsort(-gain) if gain[k] > 1e-12 and k not in tried]
            if not order:
                return
            k = int(order[0])
            tried.add(k)
            # keep classes whose current side is the smaller contribution
            cur_tr = np.where(s > 0, self.trp, self.trn)
            alt_tr = np.where(s > 0, self.trn, self.trp)
            keep = [(j, int(s[j])) for j in np.flatnonzero(cur_tr <= alt_tr) if j != k]
            signed = self.fixed + keep + [(k, -int(s[k]))]
            budget -= 1
            self.stats["descent_lps"] += 1
            with stops_at_deadline():
                feas, z2, _ = self.sys.float_solve(signed, deadline=self.deadline)
            if not feas:
                continue
            t = np.zeros(self.K, dtype=np.int8)
            s2 = self.complete_signs(t, z2)
            if s2 is None:
                continue
            lam_new, _ = self.lam(self.gram(s2))
            lam_old, _ = self.lam(Gm)
            if lam_new < lam_old:
                self.offer(s2, z2)
                s = s2
                tried = set()

    # ---- main ---------------------------------------------------------
    def seed(self, samples, descent_budget, pool=2000):
        """Incumbents: ``pool`` random points (cheap: one batched eigvalsh), the
        ``samples`` cells with the smallest sigma among them improved by the
        greedy descent."""
        n = self.n
        off = median_offset(self.W, self.b)
        bscale = 1.0 if off is None else off
        X = self.rng.standard_normal((pool, n))
        if self.dom_int:
            X = np.abs(X)
        if self.b.any():
            X *= bscale * 10.0 ** self.rng.uniform(-1, 2, size=(pool, 1))
        Z = np.hstack([X, np.ones((pool, 1))])
        V = Z @ self.F[:self.K].T                       # (pool, K) class values
        scale = np.maximum(1.0, np.max(np.abs(Z), axis=1))
        generic = np.all(np.abs(V) > 1e-9 * scale[:, None], axis=1)
        S = np.where(V > 0, 1, -1).astype(np.int8)
        # Gram matrices by BLAS products, a few points between clock checks (one
        # einsum over the whole pool took minutes on a 2304 x 64 layer)
        Cp, Cn = (C.reshape(self.K, n * n) for C in (self.Cp, self.Cn))
        step = max(1, int(SEED_CHUNK_FLOPS // max(1, self.K * n * n)))
        lam = np.full(pool, np.inf)
        for a in range(0, pool, step):
            if a and self._soft_stop():
                break
            P = (S[a:a + step] > 0).astype(float)
            lam[a:a + step] = np.linalg.eigvalsh((P @ Cp + (1.0 - P) @ Cn).reshape(-1, n, n))[:, 0]
        lam[~generic] = np.inf
        seen = set()
        for k in np.argsort(lam):
            if len(seen) >= samples or not np.isfinite(lam[k]):
                break
            key = S[k].tobytes()
            if key in seen:
                continue
            seen.add(key)
            self._tick()
            if self._soft_stop():
                return
            z = Z[k]
            s = S[k].copy()
            if not self.strict(z, self.fixed):
                continue
            self.offer(s, z)
            if self.best is not None and self.best[0] == 0.0:
                return
            self.descend(s, descent_budget)
            if self.best is not None and self.best[0] == 0.0:
                return

    def new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def run(self, samples=20, descent_budget=None):
        K, n = self.K, self.n
        if descent_budget is None:
            descent_budget = 4 * self.m
        # the starting heuristics get at most 30 % of the search's time
        self.soft_deadline = Deadline(self.deadline).portion(0.3).at
        self.seed(samples, descent_budget)
        self.soft_deadline = None
        heap = []
        root = self.new_id()
        s0 = np.zeros(K, dtype=np.int8)
        z0 = None if self.dom_int else np.append(np.zeros(n), 1.0)
        heapq.heappush(heap, (0.0, 0, root, s0.tobytes(), z0))
        self.open = heap
        self.current = None
        while heap:
            self.current = None      # the node popped last is finished
            if self.best is not None and self.best[0] == 0.0:
                return "zero"
            self._tick()
            entry = heapq.heappop(heap)
            self.current = entry
            lb, negdepth, nid, sb, z = entry
            s = np.frombuffer(sb, dtype=np.int8).copy()
            thr = None if self.best is None else (1 - PRUNE_RTOL) * self.best[0]
            if thr is not None and math.sqrt(lb) >= thr:
                self._bound_leaf(nid, s)
                continue
            self.stats["nodes"] += 1
            signed = self.signed(s)
            if not self.strict(z, signed):
                kind, val = self.feasible(signed)
                if kind == "empty":
                    self.tree[nid] = ("empty", val)
                    self.stats["empty_leaves"] += 1
                    continue
                z = val
            full = self.complete_signs(s, z)
            if full is not None:
                if self.offer(full, z):
                    self.descend(full, max(4, self.m // 4))
                    if self.best[0] == 0.0:
                        return "zero"
            Gm = self.gram(s)
            lam, v = self.lam(Gm)
            free = np.flatnonzero(s == 0)
            if len(free) == 0:
                # a cell; its sigma is lam; it has been offered above (z strict)
                if self.best is None or math.sqrt(lam) >= (1 - PRUNE_RTOL) * self.best[0]:
                    self._bound_leaf(nid, s)
                    continue
                # numerically not offered: settle exactly
                mult, zx = self._settle(signed, None, None)
                if mult is None:
                    zz = np.array([float(c) for c in zx])
                    self.offer(s, zz)
                if self.best is not None and math.sqrt(lam) >= (1 - PRUNE_RTOL) * self.best[0]:
                    self._bound_leaf(nid, s)
                    continue
                raise SearchStopped("numerical: a complete sign pattern could be neither closed nor "
                            "given an exact point")
            cp = np.einsum("i,kij,j->k", v, self.Cp[free], v)
            cn = np.einsum("i,kij,j->k", v, self.Cn[free], v)
            # branch on a class that is positive at the node's point and carries
            # much of the weakest direction v: score |w.v| * (value at z).
            # Measured (Gaussian m = 8n, n = 4..6): 3-10x fewer nodes than
            # |w.v| alone; rows positive at z are often forced positive, so the
            # negative child closes at once and the positive child raises LB.
            score = np.sqrt(np.maximum(cp, cn))
            if z is not None:
                side = self.F[free] @ z
                if np.any(side > 0):
                    score = np.where(side > 0, score * side, -1.0)
            j = int(free[int(np.argmax(score))])
            vals_j = float(self.F[j] @ z) if z is not None else 0.0
            rep = self.reps[j]
            kids = []
            for sg in (-1, 1):
                c = s.copy()
                c[j] = sg
                cid = self.new_id()
                kids.append(cid)
                Gc = Gm + (self.Cp[j] if sg > 0 else self.Cn[j])
                lc, _ = self.lam(Gc)
                hint = z if sg * vals_j > 0 else None
                heapq.heappush(heap, (lc, negdepth - 1, cid, c.tobytes(), hint))
            self.tree[nid] = ("branch", rep, kids[1], kids[0])
        self.current = None
        return "complete"

    def _bound_leaf(self, nid, s):
        rows = tuple(self.positive_rows(s))
        self.tree[nid] = ("bound", rows)
        self.leaves.append(rows)
        self.stats["bound_leaves"] += 1

    def nested_tree(self, t):
        """The search tree as nested dicts: ``{"branch": row, "pos", "neg"}``,
        ``{"leaf": "bound", "rows": [...], "t": "p/q"}`` (σ_min of these rows
        > t), ``{"leaf": "gordan", "y": [[row, "q"], ...]}`` (row ``-1-j``:
        the domain row ``x_j > 0``)."""
        root = {}
        stack = [(0, root)]
        ts = exact.fmt_rational(t)
        while stack:
            nid, out = stack.pop()
            rec = self.tree.get(nid)
            if rec is None:
                out["open"] = True
            elif rec[0] == "branch":
                out["branch"] = rec[1]
                out["pos"], out["neg"] = {}, {}
                stack.append((rec[2], out["pos"]))
                stack.append((rec[3], out["neg"]))
            elif rec[0] == "bound":
                out.update({"leaf": "bound", "rows": list(rec[1]), "t": ts})
            else:
                out.update({"leaf": "gordan", "y": rec[1]})
        return root


def too_large(m, n):
    """Why an ``m x n`` layer is not searched (it needs ``m n^2`` floats), or None."""
    if m * n * n > MAX_GRAM_ENTRIES:
        return f"not searched: {m} x {n} needs m n^2 = {m * n * n:.3g} floats " \
               f"(more than {MAX_GRAM_ENTRIES:.3g})"


def sigma_star(W, b=None, *, domain="all", time_limit=None, max_nodes=None, seed=0,
               samples=20, certify=True, keep_tree=False) -> SigmaOutcome:
    """σ* = min over x of σ_min(W_S(x)), S(x) = {i : w_i.x + b_i >= 0}, with proof.

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None.
    domain : ``"all"`` (x in R^n) or ``"nonneg"`` (x >= 0).
    time_limit : seconds or None; max_nodes : node budget or None.
    seed : seed of the sampled starting points (heuristic only).
    samples : sampled starting cells.
    certify : prove the lower bound exactly (else ``lower`` is None).
    keep_tree : return the search tree (``tree``) as nested dicts.

    Returns
    -------
    SigmaOutcome. ``status == "exact"``: ``lower <= σ* <= sigma``,
    ``sigma - lower <= 5e-10 sigma`` (unless an exact check forced ``lower``
    down), ``point`` an exact interior point of a cell with
    ``σ_min(W_P) = sigma`` (binary64 SVD of the exact rows ``P``).
    ``"zero"``: a cell whose positive rows are rank-deficient (exact rank):
    σ* = 0. ``"unknown"``: ``sigma`` is an upper bound; ``lower`` is a proved
    lower bound (0 when nothing better was proved).

    Notes
    -----
    Proofs of the reductions used (monotonicity, closure, generic points) are
    in the module docstring. Worst case exponential: the number of cells of m
    hyperplanes in R^n is O(m^n). Pruning makes the search visit only nodes
    whose fixed-positive rows have σ_min below the optimum.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> out = sigma_star(np.vstack([B, -B]))       # [B; -B]: σ* = σ_min(B) = 1
    >>> out.status, round(out.sigma, 12), float(out.lower) <= 1.0
    ('exact', 1.0, True)
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.zeros(len(W)) if b is None else np.asarray(b, dtype=np.float64)
    # σ*, its bounds and the tree's t are homogeneous of degree 1 in (W, b) and
    # the cells do not change: far from unit scale the search runs on (W, b) / 2^e
    W, b, e = unit_scale(W, b)
    out = _sigma_star(W, b, domain, time_limit, max_nodes, seed, samples, certify, keep_tree, e)
    with np.errstate(over="ignore"):           # an upper bound beyond binary64: inf
        return out if not e else replace(
            out, sigma=None if out.sigma is None else float(np.ldexp(out.sigma, e)),
            lower=None if out.lower is None else out.lower * Fraction(2) ** e)


def _sigma_star(W, b, domain, time_limit, max_nodes, seed, samples, certify, keep_tree, e):
    """:func:`sigma_star` on ``(W, b)``, the caller's layer divided by ``2^e``."""
    m, n = W.shape
    start = time.monotonic()
    # the search gets 80 % of the limit, the exact certification the rest
    deadline = Deadline.after(time_limit, start).at
    search_deadline = None if time_limit is None else start + 0.8 * float(time_limit)
    rng = np.random.default_rng(seed)
    if too_large(m, n):
        return SigmaOutcome("unknown", None, Fraction(0), None, None, (), None,
                            {"reason": too_large(m, n), "seconds": time.monotonic() - start})
    S = _Search(W, b, domain, search_deadline, max_nodes, rng)
    if S.K == 0 or exact.rank([g[:n] for g in S.G]) < n:
        # every cell's positive rows lie in a proper subspace
        z = np.append(np.ones(n) if domain == "nonneg" else np.zeros(n), 1.0)
        s = S.complete_signs(np.zeros(S.K, dtype=np.int8), z)
        try:
            if s is None:
                st, z = S.feasible(S.fixed + [(0, 1)] if S.K else S.fixed)
                s = S.complete_signs(np.zeros(S.K, dtype=np.int8), z) if st == "point" else None
            if s is not None:
                S.offer(s, z)
        except SearchStopped:        # the time limit: no cell, sigma* = 0 all the same
            pass
        pt = None
        if S.best is not None:
            pt, s = S.best[2], S.best[1]
        sign = None if s is None else tuple(S.row_signs(s))
        return SigmaOutcome("zero", 0.0, Fraction(0), pt, sign,
                            tuple(i for i in range(m) if sign and sign[i] > 0), None,
                            {**S.stats, "seconds": time.monotonic() - start})
    reason = None
    S.open, S.current = [], None
    try:
        reason = S.run(samples=samples)
    except SearchStopped as e:
        reason = e.reason
        if S.current is not None:     # interrupted while expanding: still open
            S.open.append(S.current)
    stats = dict(S.stats)
    best = S.best
    if best is None:
        stats["seconds"] = time.monotonic() - start
        return SigmaOutcome("unknown", None, Fraction(0), None, None, (), None, stats)
    sig, s_best, pt = best
    sign = tuple(S.row_signs(s_best))
    pos = tuple(i for i in range(m) if sign[i] > 0)
    if sig == 0.0:
        stats["seconds"] = time.monotonic() - start
        return SigmaOutcome("zero", 0.0, Fraction(0), pt, sign, pos, None, stats)
    if reason != "complete":
        stats["reason"] = reason
        lower = Fraction(0)
        if certify and S.open:
            # best-first: every open node's positive rows bound the cells below it
            lb = min(min(e[0] for e in S.open), ((1 - PRUNE_RTOL) * sig) ** 2)
            if lb > 0:
                open_sets = [tuple(S.positive_rows(np.frombuffer(e[3], dtype=np.int8)))
                             for e in S.open]
                t = certify_sigma_lower(W, S.leaves + open_sets, math.sqrt(lb), rtol=1e-9,
                                        deadline=deadline)
                lower = t if t is not None else Fraction(0)
        stats["seconds"] = time.monotonic() - start
        return SigmaOutcome("unknown", sig, lower, pt, sign, pos, None, stats)
    lower = None
    if certify:
        lower = certify_sigma_lower(W, S.leaves, sig, deadline=deadline, stats=stats)
        if lower is None:
            stats["seconds"] = time.monotonic() - start
            stats["reason"] = "time_limit (certification)"
            return SigmaOutcome("unknown", sig, Fraction(0), pt, sign, pos, None, stats)
    tree = S.nested_tree((lower or Fraction(0)) * Fraction(2) ** e) if keep_tree else None
    stats["seconds"] = time.monotonic() - start
    return SigmaOutcome("exact", sig, lower, pt, sign, pos, tree, stats)
