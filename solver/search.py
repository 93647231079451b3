"""Sign-tree search: decide injectivity of one layer and prove the answer.

The search branches on the sign of one row at a time (``w_i.x + b_i > 0`` or
``< 0``) and closes a branch only with an exact argument (the leaf kinds of
:mod:`solver.certificates.checker`, certificate version 4):

* *basis*: the rows positive on the path (with the two-sided classes) hold
  n independent rows;
* *gordan*: the sign pattern is empty, shown by a Gordan circuit (exact
  multipliers) whose signs all hold on the path;
* *hyperplane*: the positive rows span a hyperplane H (rank n-1); staying
  non-spanning needs every unassigned row outside H negative, and a Gordan
  circuit shows that is impossible;
* *transversal* (certificate version 4): at rank n - d, d Gordan circuits
  whose unassigned rows form disjoint groups, each group all negative being
  impossible on the path, so every point of the path has a positive row in
  every group (depth is super-additive over disjoint groups); and every
  transversal (one row per group) with the positive rows has rank n,
  checked modulo p in one batched pass. A count of positive rows becomes a
  rank without any general-position assumption, and the node closes without
  the subtree (the product of the circuits' chains) that branching needs.

At a node one question is asked: is there a point on the path where every
unassigned row outside span(P) is negative? If so, the positive rows lie in
span(P) and a witness is built and checked exactly (:mod:`solver.witness`).
If not, a Gordan circuit says so. Circuits are kept in a pool and reused: a
pooled circuit whose positive rows are positive on the path and whose
negative rows are negative or unassigned-outside-span closes or shortens a
later node without an LP. The node then branches on the circuit's unassigned
row j with the largest multiplier: ``j > 0`` raises the rank; ``j < 0``
leaves the circuit applicable with one row fewer, so negative branches cost
no LP and the last one is the circuit's own gordan leaf.

Before branching, a node of rank n - d (d >= 2) tries a transversal leaf:
its own circuit's chain is the first group, and d - 1 more come from the pool
or from LPs asking the rows outside the groups so far to be negative. It
gives up when an LP finds a point (then that point is kept, to skip later
searches it would answer), when the transversals exceed ``MAX_TRANSVERSALS``
or when modulo p cannot show their ranks; then the node branches as above.
Measured: n = 11, m = 66 (Gaussian, seed 0) in 7,303 instead of 378,769
nodes.

The span of the positive rows is kept modulo the checker's prime (the dot
products of every row with a basis of its complement, one vectorised update
per positive branch): its rank is exact, a row nonzero there is outside the
span exactly, and the rare row that vanishes modulo p is decided exactly
(:class:`solver.treestate.Span`).

Every LP is scale-free (homogeneous coordinates, no box, no big-M), and a
floating LP answer only steers the search: Gordan multipliers are re-derived
exactly on the dual support (python-flint integer kernels), and when floating
point cannot settle a system an exact rational simplex does
(:mod:`solver.exactlp`).

So "injective" comes with a certificate the independent checker accepts,
"not_injective" with an exactly checked witness, and anything else (limits,
an LP whose answer could not be made exact) is "unknown".

Parallel and distributed runs expand the tree to a frontier of open nodes
whose construction does not depend on the number of workers, solve each
subtree from a fresh, deterministic state (:func:`solve_subtree`), and splice
the answers: the certificate is the same for 2 processes or 128 Dask workers.

References
----------
Puthawala, Kothari, Lassas, Dokmanić, de Hoop, *Globally injective ReLU
networks*, JMLR 2022, Theorem 1 (directed spanning sets), in the affine form
proved in :mod:`solver.certificates.checker`.
Froese, Grillo, Skutella, *Complexity of injectivity and verification of
ReLU neural networks*, 2024 (coNP-completeness: exponential worst case).
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from .deadline import Deadline
from . import exact, lp
from .transversal import TransversalLeaves
from .treestate import CircuitPool, Span
from .certificates import checker
from .wedge import probe_wedges
from .witness import witness_from_kernel, witness_from_normal

__all__ = ["SearchStats", "SearchOutcome", "sign_tree_search", "solve_subtree", "Frontier",
           "frontier", "splice", "presolve", "prepare", "SignTree", "SearchStopped",
           "WitnessFound", "stops_at_deadline"]


class SearchStopped(Exception):
    """A search stops without a verdict; ``reason`` says why (``"time_limit"``, ...)."""

    def __init__(self, reason):
        self.reason = reason


@contextlib.contextmanager
def stops_at_deadline():
    """Turn :class:`solver.lp.Timeout` (the deadline passed in an LP of
    :class:`solver.lp.SignSystems`) into ``SearchStopped("time_limit")``: the
    searches over sign systems (this tree, the orthant tree, the σ* search)
    stop with what they proved so far."""
    try:
        yield
    except lp.Timeout:
        raise SearchStopped("time_limit") from None


class WitnessFound(Exception):
    """A search ends with an exactly checked ``witness`` (control flow out of the tree)."""

    def __init__(self, witness):
        self.witness = witness


@dataclass
class SearchStats:
    nodes: int = 0
    lps: int = 0
    leaves: dict = field(default_factory=lambda: {"basis": 0, "gordan": 0, "hyperplane": 0,
                                                  "transversal": 0})
    exact_lps: int = 0
    unresolved: int = 0
    pool_hits: int = 0

    def add(self, other: "SearchStats"):
        self.nodes += other.nodes
        self.lps += other.lps
        self.exact_lps += other.exact_lps
        self.unresolved += other.unresolved
        self.pool_hits += other.pool_hits
        for k, v in other.leaves.items():
            self.leaves[k] = self.leaves.get(k, 0) + v

    def as_dict(self) -> dict:
        return {"nodes": self.nodes, "lps": self.lps, "exact_lps": self.exact_lps,
                "pool_hits": self.pool_hits, "leaves": dict(self.leaves)}


@dataclass(frozen=True)
class SearchOutcome:
    verdict: str                 # "injective" | "not_injective" | "unknown"
    witness: tuple | None        # (x1, x2) lists of Fractions
    certificate: dict | None
    reason: str
    stats: SearchStats


def _relative_floats(values):
    """Positive rationals (dict) as floats with their ratios kept, however
    large: only the order of Gordan multipliers is used."""
    if all(isinstance(v, int) for v in values.values()):
        shift = max(0, max(values.values()).bit_length() - 60)
        return {k: float(v >> shift) for k, v in values.items()}
    top = max(values.values())
    return {k: float(Fraction(v) / top) for k, v in values.items()}


class SignTree(TransversalLeaves):
    """The state of one sign-tree search (or of one subtree of it)."""

    # reuse a pooled circuit that needs at most this many branchings instead of
    # solving an LP (any applicable circuit closes a rank n-1 node)
    POOL_CHAIN = 1
    # after an LP, keep an applicable pooled circuit with fewer unassigned rows
    # than the LP's (measured: about 2 % fewer nodes and LPs)
    PREFER_SHORT = True

    def __init__(self, W, b, deadline=None, max_nodes=None, pool=None):
        self.W, self.b = W, b
        self.m, self.n = W.shape
        self.sys = lp.SignSystems(W, b)
        self.G, self.scales, self.norms = self.sys.G, self.sys.scales, self.sys.norms
        self.nonzero = [i for i in range(self.m) if any(self.G[i][:self.n])]
        self.deadline = deadline
        self.max_nodes = max_nodes
        self.stats = SearchStats()
        self.split_rank = None    # frontier mode: defer nodes of this rank
        self.frontier = []
        self.progress = None      # a solver.progress.Progress, or None
        self.out = []             # the certificate tree, tokens in preorder
        self.pool = pool.copy() if pool is not None else CircuitPool(self.m)
        self.points = []
        self._classes()

    def _classes(self):
        """Coincident hyperplanes (presolve). Rows whose ``[w, b]`` are exact
        multiples of each other form a class; a positive multiple always has
        the same sign, a negative one the opposite sign. Branching assigns a
        whole class. A *two-sided* class (both orientations present, e.g. the
        pairs of a [B; -DB] construction) has a positive member at every
        generic point, so one representative counts towards the rank without
        any branching (the certificate's "pairs")."""
        self.cls, self.orient = [None] * self.m, [0] * self.m
        members = defaultdict(list)
        for i in self.nonzero:
            r = self.G[i]
            g = math.gcd(*r)
            o = 1 if next(c for c in r if c != 0) > 0 else -1
            key = tuple(o * c // g for c in r)
            self.cls[i], self.orient[i] = key, o
            members[key].append(i)
        self.members = members
        two = {k for k, rows in members.items() if len({self.orient[i] for i in rows}) == 2}
        self.free = [i for i in self.nonzero if self.cls[i] not in two]
        self.free_bits = sum(1 << i for i in self.free)
        self.class_bits = [sum(1 << k for k in members[self.cls[i]]) if self.cls[i] is not None
                           else 0 for i in range(self.m)]
        reps = []
        for k in sorted(two, key=lambda k: members[k][0]):
            rep = members[k][0]
            if exact.rank([self.G[i][:self.n] for i in reps + [rep]]) > len(reps):
                reps.append(rep)
        self.pair_reps = reps

    # ---- LPs and exact circuits ---------------------------------------
    def _lp(self, signed, weights=None):
        self.stats.lps += 1
        with stops_at_deadline():
            return self.sys.float_solve(signed, weights, self.deadline)

    def _settle(self, signed, feas, y):
        before = self.sys.exact_lps
        try:
            with stops_at_deadline():
                return self.sys.settle(signed, feas, y, self.deadline)
        finally:
            self.stats.exact_lps += self.sys.exact_lps - before

    def _span_of(self, basis):
        """The :class:`Span` of ``basis`` built from scratch (roots of trees
        and subtrees; inside a tree spans are updated one row at a time)."""
        n = self.n
        K = exact.kernel([self.G[i][:n] for i in basis], n) if basis else \
            [[int(i == j) for j in range(n)] for i in range(n)]
        return Span.from_basis(K, n, self.G)

    def _witness(self, span, point):
        """An exactly checked witness from a point whose positive rows lie in
        the span, or None."""
        return witness_from_normal(self.G, span.exact_basis(self.G)[0], point, self.W, self.b)

    def _circuit(self, sigma, masks, Ubits, span, inherit=None):
        """A Gordan circuit for the node's system (path rows with their signs,
        the rows ``U`` negative): ``inherit`` when given (the circuit the
        parent branched on, still applicable here); else from the pool when
        one applies and needs at most ``POOL_CHAIN`` branchings (any
        applicable one at rank n-1); else from a fresh LP (then pooled, and
        an applicable pooled circuit with fewer rows in U is preferred to it).
        Returns ``(index, chain)``: the circuit's pool index and its rows in
        U, largest multiplier first. Raises ``WitnessFound`` for a bad point."""
        if inherit is not None:
            self.stats.pool_hits += 1
            return inherit
        pool = self.pool
        k, count = pool.best(masks[0], masks[1], Ubits)
        if k is not None and (span.rank == self.n - 1 or count <= self.POOL_CHAIN):
            self.stats.pool_hits += 1
            return k, [j for j in pool.items[k][1] if Ubits >> j & 1]
        full, feas, z, y = self._ask(sigma, Ubits)
        n = self.n
        if feas:
            w = self._witness(span, z[:n] / z[n]) if z[n] > 0 else None
            if w is not None:
                raise WitnessFound(w)
            feas = None          # float says feasible, the exact check did not agree
        mult, zx = self._settle(full, feas, y)
        if mult is None:
            # exactly feasible: every row outside span(basis) is negative at zx,
            # so the positive rows lie in span(basis): a bad point
            w = self._witness(span, [zx[i] / zx[n] for i in range(n)])
            if w is not None:
                raise WitnessFound(w)
            self.stats.unresolved += 1
            raise SearchStopped("numerical: a sign pattern could be neither closed nor turned "
                                "into a witness")
        knew, chain = self._pooled(full, mult, Ubits)
        if self.PREFER_SHORT and k is not None and count < len(chain):
            self.stats.pool_hits += 1
            return k, [j for j in pool.items[k][1] if Ubits >> j & 1]
        return knew, chain

    def _ask(self, sigma, U):
        """The float LP of the path's signs with the rows of the bitset ``U``
        negative (slack weight 2 on those, so circuits through path rows are
        preferred): ``(system, feasible, z, y)``."""
        signed = list(sigma.items())
        rows = [j for j in self.free if U >> j & 1]
        full = signed + [(j, -1) for j in rows]
        return (full, *self._lp(full, [1.0] * len(signed) + [2.0] * len(rows)))

    def _pooled(self, full, mult, U):
        """Pool the exact circuit ``mult`` of the system ``full``; returns its
        index and its rows in the bitset ``U``, largest multiplier (times the
        row's norm) first."""
        sign = dict(full)
        weight = _relative_floats(mult)
        order = sorted((i for i in mult if sign[i] == -1),
                       key=lambda i: -weight[i] * float(self.norms[i]))
        knew = self.pool.add([[i, sign[i], str(mult[i])] for i in sorted(mult)], order)
        return knew, [j for j in order if U >> j & 1]

    # ---- search -------------------------------------------------------
    def _tick(self):
        self.stats.nodes += 1
        if self.progress is not None:
            st = self.stats
            self.progress.update(nodes=st.nodes, closed=sum(st.leaves.values()), lps=st.lps)
        if Deadline(self.deadline).expired():
            raise SearchStopped("time_limit")
        if self.max_nodes is not None and self.stats.nodes > self.max_nodes:
            raise SearchStopped("max_nodes")

    def _assign(self, sigma, j, s):
        """``sigma`` with row ``j`` (and its class of coincident rows) set to ``s``."""
        child = dict(sigma)
        for k in self.members[self.cls[j]]:
            child[k] = s * self.orient[k] * self.orient[j]
        return child

    def node(self, sigma, span, masks, inherit=None):
        """Close the sign pattern ``sigma`` (row -> +1/-1) whose positive rows
        (with the two-sided classes) span ``span`` (a :class:`Span`),
        appending its certificate subtree to ``self.out`` in preorder.
        ``masks``: the rows positive and negative on the path, as Python-int
        bitsets.

        ``inherit``: ``(index, chain)`` when the parent branched negatively
        on a row of that circuit, which still applies here with the unassigned
        rows ``chain``: it is taken as it is, without a pool scan or an LP (a
        scan for a shorter one cost more than it saved: measured, 17 % CPU for
        0.6 % more nodes)."""
        self._tick()
        n = self.n
        if span.rank == n:
            self.stats.leaves["basis"] += 1
            self.out.append(["B"])
            return
        if self.split_rank is not None and span.rank >= self.split_rank and inherit is None:
            self.frontier.append((dict(sigma), span.exact_basis(self.G)))
            self.out.append(["o", len(self.frontier) - 1])
            return
        P, N = masks
        avail = self.free_bits & ~(P | N)
        Ubits = span.outside() & avail
        if avail & ~Ubits and span.rank < n:
            Ubits |= span.outside_exact(avail & ~Ubits, self.G)
        k, chain = self._circuit(sigma, masks, Ubits, span, inherit)
        if not chain:
            self.stats.leaves["gordan"] += 1
            self.out.append(["G", k])
            return
        if span.rank == n - 1:
            self.stats.leaves["hyperplane"] += 1
            self.out.append(["H", k])         # the checker reads the rank, not a normal
            return
        ks = self._transversal(sigma, masks, Ubits, span, k, chain)
        if ks is not None:
            self.stats.leaves["transversal"] += 1
            self.out.append(["T", ks])
            return
        j = chain[0]
        child = span.add(j, self.G) or span
        neg = self._assign(sigma, j, -1)
        cb = self.class_bits[j]
        self.out.append(["b", j])
        self.node(self._assign(sigma, j, 1), child, (P | cb, N))
        self.node(neg, span, (P, N | cb), inherit=(k, [i for i in chain if i not in neg]))

    def run(self, sigma=None, basis=None):
        """Search from ``(sigma, K)`` (default: the root; ``K`` an exact basis
        of the orthogonal complement of the positive rows' span, as frontier
        tasks carry it); returns the preorder tokens of the subtree."""
        self.out = []
        if Deadline(self.deadline).expired():   # (the root's span costs seconds on wide layers)
            raise SearchStopped("time_limit")
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 10 * self.m + 1000))
        try:
            span = self._span_of(list(self.pair_reps)) if basis is None else \
                Span.from_basis(basis, self.n, self.G)
            sigma = {} if sigma is None else sigma
            P = sum(1 << i for i, s in sigma.items() if s == 1)
            N = sum(1 << i for i, s in sigma.items() if s == -1)
            self.node(sigma, span, (P, N))
        finally:
            sys.setrecursionlimit(old)
        return self.out

    def certificate(self, tokens, pool):
        """The version-4 certificate document for a finished tree: only the
        circuits the tree uses, renumbered in order of first use."""
        ids = {}
        tree = []
        def renum(k):
            if k not in ids:
                ids[k] = len(ids)
            return ids[k]
        for t in tokens:
            if t[0] in ("G", "H"):
                t = [t[0], renum(t[1])]      # (a normal from an older checkpoint is dropped)
            elif t[0] == "T":
                t = ["T", [renum(k) for k in t[1]]]
            tree.append(t)
        circuits = [None] * len(ids)
        for old, new in ids.items():
            circuits[new] = pool.items[old][0]
        return {"format": checker.FORMAT, "version": checker.VERSION, "claim": "injective",
                "m": self.m, "n": self.n,
                "layer_sha256": checker.layer_fingerprint(self.W, self.b),
                "method": "sign-tree", "pairs": list(self.pair_reps),
                "circuits": circuits, "tree": tree}


# ---------------------------------------------------------------- frontier

@dataclass
class Frontier:
    """A tree expanded down to open nodes (``["o", k]`` tokens in
    ``skeleton``), the subtree tasks ``(sigma, basis)`` and the circuit pool
    of the expansion, which every task starts from. Its construction does not
    depend on any worker count, so neither does the final certificate."""
    skeleton: list
    tasks: list
    pool: CircuitPool
    stats: SearchStats
    split_rank: int


def frontier(W, b, *, min_tasks=64, deadline=None, tree=None):
    """Expand the sign tree breadth-wise until at least ``min_tasks`` open
    subtrees exist (or the tree is closed). ``tree``: the :class:`SignTree`
    of ``(W, b, deadline)`` if the caller has one already (its set-up costs
    seconds on wide layers); it is reset. Raises ``WitnessFound`` / ``SearchStopped``."""
    T = SignTree(W, b, deadline) if tree is None else tree

    def expand(rank):
        T.frontier = []
        T.pool = CircuitPool(T.m)
        T.points = []
        T.sys.reset()
        T.split_rank = rank
        T.stats = SearchStats()
        return T.run()
    best = None
    for rank in range(len(T.pair_reps) + 1, T.n + 1):
        skeleton = expand(rank)
        if len(T.frontier) >= min_tasks or not T.frontier:
            break
        if best is not None and len(T.frontier) <= best[1]:
            # leaves closing nodes above the split (transversal leaves) can
            # leave fewer open nodes at a deeper rank: keep the widest split
            skeleton = expand(best[0])
            break
        best = (rank, len(T.frontier))
    return Frontier(skeleton, T.frontier, T.pool, T.stats, T.split_rank)


def solve_subtree(W, b, task, pool, deadline=None):
    """Solve one frontier task from a fresh, deterministic state (a new LP,
    the frontier's pool). Returns ``(kind, value, stats)``: ``("tree",
    (tokens, new circuits), stats)``, ``("witness", (x1, x2), stats)`` or
    ``("stop", reason, stats)``. Pool indices below ``pool.k`` refer to the
    frontier's circuits; the new ones follow in order."""
    sigma, basis = task
    T = SignTree(W, b, deadline, pool=pool)
    try:
        tokens = T.run(sigma, basis)
        return "tree", (tokens, [e for e, _ in T.pool.items[pool.k:]]), T.stats
    except WitnessFound as f:
        return "witness", f.witness, T.stats
    except SearchStopped as s:
        return "stop", s.reason, T.stats


def splice(W, b, fr: Frontier, results):
    """The certificate of a frontier whose every task has its ``("tree",
    (tokens, circuits))`` result in ``results`` (list aligned with tasks)."""
    T = SignTree(W, b)
    pool = fr.pool.copy()
    tokens = []
    for t in fr.skeleton:
        if t[0] != "o":
            tokens.append(t)
            continue
        sub, new = results[t[1]]
        base = pool.k
        for e in new:
            pool.add(e, [])
        def shift(k):
            return k - fr.pool.k + base if k >= fr.pool.k else k
        for s in sub:
            if s[0] in ("G", "H"):
                s = [s[0], shift(s[1])] + s[2:]
            elif s[0] == "T":
                s = ["T", [shift(k) for k in s[1]]]
            tokens.append(s)
    return T.certificate(tokens, pool)


def presolve(W, b, T, deadline):
    """The checks before any branching; returns a SearchOutcome or None.

    * W of rank < n: a kernel vector is a witness at any point;
    * rows antiparallel only up to rounding: their thin wedges
      (:func:`solver.wedge.probe_wedges`)."""
    n = T.n
    if not exact.full_column_rank(W, T.G):
        v = exact.kernel([g[:n] for g in T.G], n)[0]
        w = witness_from_kernel(W, b, v)
        if w is not None:
            return SearchOutcome("not_injective", w, None, "W has rank < n", T.stats)
    w = probe_wedges(W, b, deadline=deadline)
    if w is not None:
        return SearchOutcome("not_injective", w, None,
                             "rows antiparallel only up to rounding leave a bad wedge", T.stats)
    return None


def prepare(W, b, deadline=None, max_nodes=None, reuse=None):
    """The set-up of a search, on its own: ``(tree, outcome)``, the
    :class:`SignTree` of ``(W, b)`` and the outcome of :func:`presolve` (a
    witness, or None). It costs seconds on wide layers (exact integer rows,
    classes, the rank) and cannot be interrupted, so a method that runs other
    steps first (the MILP witness search) sets the tree up before them, while
    the limit is still ahead, and hands it to :func:`sign_tree_search` or
    :func:`solver.distributed.parallel_search` as ``prepared``, which call
    this again with ``reuse``: that set-up, given the search's own
    ``deadline`` and ``max_nodes``."""
    if reuse is None:
        T = SignTree(W, b, deadline, max_nodes)
        return T, presolve(W, b, T, deadline)
    T, done = reuse
    T.deadline, T.max_nodes = deadline, max_nodes
    return T, done


def sign_tree_search(W, b, *, time_limit=None, max_nodes=None, progress=None,
                     prepared=None) -> SearchOutcome:
    """Decide injectivity of ``x -> ReLU(W x + b)`` by sign-tree search, in
    this process (:func:`solver.distributed.parallel_search` spreads one
    search over processes or a Dask cluster).

    Parameters
    ----------
    W : (m, n) float array; b : (m,) float array (validated by the caller).
    time_limit : seconds, or None. Hitting it gives verdict "unknown".
    max_nodes : node budget, or None.
    progress : a :class:`solver.progress.Progress` to report to, or None.
    prepared : ``(tree, outcome)`` from :func:`prepare` on ``(W, b)``, or
        None (set up here).

    Returns
    -------
    SearchOutcome with an exactly checked witness (not_injective), a
    certificate accepted by :func:`solver.certificates.check_certificate`
    (injective), or a reason (unknown).

    Notes
    -----
    Worst case exponential (the problem is coNP-complete). A node costs at
    most one LP of size (#assigned + #unassigned) x (n + 2), and none when
    a pooled circuit applies.
    """
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    T, done = prepare(W, b, deadline, max_nodes, reuse=prepared)
    if done is not None:
        return done
    T.progress = progress
    try:
        cert = T.certificate(T.run(), T.pool)
    except WitnessFound as f:
        return SearchOutcome("not_injective", f.witness, None,
                             "active rows of a sign pattern are rank-deficient", T.stats)
    except SearchStopped as s:
        return SearchOutcome("unknown", None, None, s.reason, T.stats)
    return SearchOutcome("injective", None, cert, "every sign pattern closed", T.stats)
