"""Exhaustive enumeration of the open cells of a ReLU layer's arrangement.

The layer ``x -> ReLU(W x + b)`` (``W`` m x n, binary64) cuts R^n by the
hyperplanes ``{x : w_i . x + b_i = 0}`` of its nonzero rows. On each open
cell (full-dimensional region of the arrangement) the set ``P`` of positive
rows is constant, and by the Lemma of :mod:`solver.certificates.checker` (the
affine form of Theorem 1, *directed spanning sets*, of Puthawala, Kothari,
Lassas, Dokmanić and de Hoop, *Globally injective ReLU networks*, JMLR 2022)
the layer is injective iff ``P`` spans R^n on every open cell. Open cells are
enough: the Lemma quantifies over *generic* points only, and those are
exactly the points of the open cells.

So listing every cell, with an exactly verified interior point, decides
injectivity outright. This is the brute-force reference for the sign-tree
search of :mod:`solver.search`: exponential in n (an arrangement of m
hyperplanes in R^n has at most ``sum_{i<=n} C(m, i)`` cells), but simple.

Method
------
Incremental insertion, depth first. Rows whose ``[w_i, b_i]`` are exact
scalar multiples of each other define one hyperplane (a *class*; the sign of
every member follows from the representative's by the sign of the multiple,
so no LP is spent on them). Classes are inserted in the order of their first
row. A node of the insertion tree at depth k is a nonempty sign pattern of
the first k classes together with an exact interior point; its two children
are the patterns extended by +1 and -1 for class k. The side on which the
parent's point already lies is nonempty for free; the other side is tested
with the scale-free homogenised LP of :mod:`solver.lp` (no box, no big-M).

Nothing is decided in floating point:

* a nonempty side gets its interior point rounded from the LP solution to an
  exact rational and re-checked in integer arithmetic;
* an empty side is dropped only with exact Gordan multipliers
  (:func:`solver.lp.exact_gordan`, else the exact rational simplex of
  :mod:`solver.exactlp`);
* if neither works, the pattern is recorded as unresolved and the
  enumeration is marked incomplete (``reason = "numerical"``), never
  silently wrong.

Because the insertion tree is a binary tree over sign assignments in which
every pruned side carries a Gordan certificate, a complete enumeration of an
injective layer converts directly into a certificate in the checker's format
(:meth:`CellEnumeration.certificate_tree`, :func:`certificate_from_enumeration`).

Sign-vector convention
----------------------
``Cell.sign[i]`` is +1/-1 for a nonzero row and **0 for a zero row**
(``w_i = 0``): such a row defines no hyperplane and its output ``ReLU(b_i)``
is constant, so it carries no information about the cell.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction

import networkx as nx
import numpy as np

from . import exact, exactlp, lp
from .deadline import Deadline
from .certificates import checker

__all__ = ["Cell", "CellEnumeration", "EnumerationDecision", "enumerate_cells",
           "decide_by_enumeration", "certificate_from_enumeration", "coincident_classes"]

_QUANT = 2 ** 40  # first rounding attempt for LP points (keeps integers small)


# ----------------------------------------------------------------------------
# data classes
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One open cell: its sign vector (+1/-1 per nonzero row, 0 for zero
    rows) and an exactly verified interior point."""
    sign: tuple
    point: tuple


@dataclass(frozen=True)
class _Aux:
    """What :meth:`CellEnumeration.certificate_tree` needs (private)."""
    tree: object            # raw insertion tree (nested lists)
    reps: tuple             # class index -> representative row
    members: tuple          # class index -> tuple of rows
    orient: tuple           # row -> +1/-1 orientation relative to its primitive key (0: zero row)
    G: tuple                # integer rows scale_i * [w_i, b_i]


@dataclass(frozen=True)
class CellEnumeration:
    """Result of :func:`enumerate_cells`.

    Attributes
    ----------
    cells : tuple of Cell
        The open cells found (all of them when ``complete``).
    complete : bool
        True iff every cell was listed and every dropped sign pattern has an
        exact emptiness proof.
    reason : str
        ``"complete"``, ``"max_cells"``, ``"time_limit"``, ``"stopped"``
        (the ``stop_when`` callback asked to stop) or ``"numerical"`` (some
        sign pattern could be neither proved empty nor given an exact point).
    seconds : float
        Wall time.
    m, n : int
        Layer shape.
    stats : dict
        ``lps`` (floating LPs), ``exact_lps`` (exact simplex fallbacks),
        ``nodes`` (insertion-tree nodes), ``unresolved`` (numerical failures).
    """
    cells: tuple
    complete: bool
    reason: str
    seconds: float
    m: int
    n: int
    stats: dict = field(default_factory=dict, compare=False)
    _aux: _Aux | None = field(default=None, repr=False, compare=False)

    def __len__(self):
        return len(self.cells)

    def adjacency_graph(self) -> nx.Graph:
        """Cells as nodes (attributes ``sign``, ``point``), an edge when two
        sign vectors differ exactly in the rows of one hyperplane (a class of
        coincident rows flips together; edge attribute ``rows``: the tuple of
        its rows). Two cells whose sign vectors differ on a single hyperplane
        share a facet on it (the segment between their points crosses only
        that hyperplane), so this is the facet-adjacency graph.

        Notes
        -----
        O(cells * classes * m) dictionary look-ups.
        """
        g = nx.Graph()
        index = {}
        for k, c in enumerate(self.cells):
            g.add_node(k, sign=c.sign, point=c.point)
            index[c.sign] = k
        if self._aux is not None:
            classes = self._aux.members
        else:  # pragma: no cover - enumerations are always built with _aux
            classes = ()
        for k, c in enumerate(self.cells):
            for rows in classes:
                s = list(c.sign)
                for j in rows:
                    s[j] = -s[j]
                other = index.get(tuple(s))
                if other is not None and other > k:
                    g.add_edge(k, other, rows=tuple(rows))
        return g

    def certificate_tree(self, *, compress: bool = True) -> dict:
        """The insertion tree in the checker's format.

        Internal nodes ``{"branch": rep, "pos": ..., "neg": ...}`` branch on
        the representative row of each class (never on a zero row); empty
        sides become ``{"leaf": "gordan", "y": ...}`` leaves, using only rows
        assigned on their path; cells become ``{"leaf": "basis", "rows":
        [...]}`` with n independent rows positive on the path. With
        ``compress`` (default) a subtree is replaced by a basis leaf as soon
        as the positive rows of its path span R^n (valid for every cell
        below it), which is usually much smaller.

        Raises
        ------
        ValueError
            If the enumeration is incomplete, or some cell's positive rows do
            not span R^n (then the layer is not injective, by the Lemma).
        """
        if not self.complete or self._aux is None:
            raise ValueError(f"enumeration is incomplete ({self.reason}): no certificate")
        aux = self._aux
        n = self.n
        Wrows = [g[:n] for g in aux.G]
        root_holder = [None]
        # stack: (raw node, holder, slot, basis rows)
        stack = [(aux.tree, root_holder, 0, ())]
        while stack:
            raw, holder, slot, basis = stack.pop()
            if compress and len(basis) == n:
                holder[slot] = {"leaf": "basis", "rows": sorted(basis)}
                continue
            kind = raw[0]
            if kind == "b":
                _, k, pos, neg = raw
                rep = aux.reps[k]
                out = {"branch": rep, "pos": None, "neg": None}
                holder[slot] = out
                # positive side: members with the rep's orientation are +1
                pos_member = next(j for j in aux.members[k] if aux.orient[j] == aux.orient[rep])
                neg_member = next((j for j in aux.members[k] if aux.orient[j] != aux.orient[rep]), None)
                for key, child, member in (("neg", neg, neg_member), ("pos", pos, pos_member)):
                    nb = basis
                    if member is not None and len(basis) < n:
                        if exact.rank([Wrows[i] for i in basis] + [Wrows[member]]) > len(basis):
                            nb = basis + (member,)
                    stack.append((child, out, key, nb))
            elif kind == "g":
                holder[slot] = {"leaf": "gordan", "y": [list(e) for e in raw[1]]}
            elif kind == "c":
                if len(basis) < n:
                    raise ValueError(f"cell {raw[1]}: positive rows span only a {len(basis)}-dimensional "
                                     f"space (< n = {n}): the layer is not injective")
                holder[slot] = {"leaf": "basis", "rows": sorted(basis)}
            else:
                raise ValueError("enumeration tree has an unresolved node: no certificate")
        return root_holder[0]


@dataclass(frozen=True)
class EnumerationDecision:
    """Result of :func:`decide_by_enumeration`.

    ``verdict`` is ``"injective"`` (with ``certificate``), ``"not_injective"``
    (with ``witness = (x1, x2)``, tuples of Fractions, exactly checked) or
    ``"unknown"``. ``cells`` is the number of cells enumerated, ``complete``
    whether the enumeration listed every cell (False when it stopped early at
    a witness or was not needed, e.g. rank(W) < n).
    """
    verdict: str
    witness: tuple | None
    cells: int
    complete: bool
    reason: str
    seconds: float
    certificate: dict | None


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def coincident_classes(G, n):
    """Coincident-hyperplane classes of the nonzero rows.

    Returns ``(reps, members, orient)``: classes ordered by their first row;
    ``orient[i]`` = sign of the first nonzero entry of row i's integer vector
    (0 for a zero row). Rows i, j are in one class iff their primitive
    integer vectors agree up to sign, i.e. ``[w_j, b_j] = lam [w_i, b_i]``
    exactly, and then ``sign(lam) = orient[i] * orient[j]``.
    """
    m = len(G)
    orient = [0] * m
    by_key = {}
    order = []
    for i, r in enumerate(G):
        if not any(r[:n]):
            continue
        g = math.gcd(*r)
        o = 1 if next(c for c in r if c != 0) > 0 else -1
        key = tuple(o * c // g for c in r)
        orient[i] = o
        if key not in by_key:
            by_key[key] = []
            order.append(key)
        by_key[key].append(i)
    members = tuple(tuple(by_key[k]) for k in order)
    reps = tuple(ms[0] for ms in members)
    return reps, members, tuple(orient)


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def _strict(Gc, signed, Z):
    """Exact: ``Z[-1] > 0`` and ``sigma * (Gc[c] . Z) > 0`` for (c, sigma) in signed."""
    if Z is None or Z[-1] <= 0:
        return False
    return all(s * _dot(Gc[c], Z) > 0 for c, s in signed)


def _reduce(Z):
    g = math.gcd(*Z)
    return [v // g for v in Z] if g > 1 else list(Z)


def _candidates(z):
    """Exact integer homogeneous points from a float LP solution: a
    quantised one first (small integers), then the exact dyadic values.

    Not a twin of :func:`solver.witness.rational_candidates`: that one gives
    rationals near an inhomogeneous point ``x`` (for witnesses); this one
    integer vectors ``(z, t)`` of a homogeneous strict system, on a ``2^40``
    grid relative to the largest entry, for the cells' exact sign tests."""
    z = np.asarray(z, dtype=np.float64)
    if not np.all(np.isfinite(z)) or z[-1] <= 0:
        return
    M = float(np.max(np.abs(z)))
    q = [int(v) for v in np.round(z / M * _QUANT)]
    if q[-1] > 0:
        yield _reduce(q)
    Z, _ = exact.common_denominator([Fraction(float(v)) for v in z])
    yield _reduce(Z)


def _point(Z, n):
    return tuple(Fraction(Z[j], Z[n]) for j in range(n))


# ----------------------------------------------------------------------------
# enumeration
# ----------------------------------------------------------------------------
def enumerate_cells(W, b=None, *, max_cells=None, time_limit=None, progress=False,
                    exact_fallback=True, stop_when=None, int_rows=None) -> CellEnumeration:
    """List every open cell of the arrangement of the nonzero rows of ``[W | b]``.

    Parameters
    ----------
    W : array_like, shape (m, n)
        Weights (read as exact binary64 values).
    b : array_like, shape (m,), optional
        Biases; None (or zeros) gives a central arrangement.
    max_cells : int, optional
        Stop once this many cells are listed and more exist
        (``complete=False, reason="max_cells"``).
    time_limit : float, optional
        Seconds; stop with ``reason="time_limit"`` when exceeded.
    progress : bool
        Show a tqdm progress bar (cells found, LPs solved).
    exact_fallback : bool
        When the floating LP answer cannot be made exact, settle the sign
        pattern with the exact rational simplex (:mod:`solver.exactlp`).
        With False such patterns make the enumeration incomplete
        (``reason="numerical"``).
    stop_when : callable, optional
        ``stop_when(cell) -> bool`` is called on each new cell; True stops
        the enumeration (``reason="stopped"``) unless that was the last cell.
    int_rows : tuple, optional
        ``solver.exact.integer_rows(W, b)`` if the caller has computed it
        (it must be of these ``W, b``).

    Returns
    -------
    CellEnumeration
        Cells with sign vectors (+1/-1 for nonzero rows, 0 for zero rows)
        and interior points (tuples of Fractions) verified exactly against
        the binary64 ``W, b``: ``sign_i * (w_i . p + b_i) > 0`` for every
        nonzero row.

    Notes
    -----
    Depth-first incremental insertion of the distinct hyperplanes (see the
    module docstring). For K distinct hyperplanes the insertion tree has at
    most ``sum_{k<=K} r_k`` nodes, r_k the number of cells of the first k,
    so at most ``K * r_K`` LPs of size ``k x (n+2)`` each; ``r_K <= sum_{i<=n}
    C(K, i) = O(K^n)`` (Zaslavsky / Buck), reached in general position, and
    for central arrangements ``r_K <= 2 sum_{i<n} C(K-1, i)``. Memory is
    O(K) for the search stack plus the cells and the tree. Exponential in n
    by nature: deciding injectivity is coNP-complete (Froese, Grillo,
    Skutella 2024), so this is a reference method for small n.
    """
    t0 = time.perf_counter()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array, got shape {W.shape}")
    m, n = W.shape
    if n < 1:
        raise ValueError("W must have at least one column")
    b = np.zeros(m) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    if b.shape != (m,):
        raise ValueError(f"b must have shape ({m},), got {b.shape}")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ValueError("W and b must be finite")
    deadline = Deadline.after(time_limit)

    # int_rows: exact.integer_rows(W, b) when the caller has it already (it is
    # half a second for 3000 x 30, before any deadline can be checked)
    G, scales = exact.integer_rows(W, b) if int_rows is None else int_rows
    reps, members, orient = coincident_classes(G, n)
    K = len(reps)
    Gc = [G[r] for r in reps]                      # one integer row per class
    # the one sign-system solver of the package, over one row per class
    systems = lp.SignSystems(W[list(reps)], b[list(reps)],
                             int_rows=(Gc, [scales[r] for r in reps])) if K else None
    # row -> (class index, relative orientation)
    row_class = [None] * m
    for k, ms in enumerate(members):
        for j in ms:
            row_class[j] = (k, orient[j] * orient[reps[k]])
    nonzero = [i for i in range(m) if orient[i] != 0]

    stats = {"lps": 0, "exact_lps": 0, "nodes": 0, "unresolved": 0}

    def gordan_leaf(signed, mult):
        # checker multipliers: those of the rep rows [w_r, b_r] themselves
        return [(reps[c], str(mult[c])) for c, _ in signed if c in mult]

    def settle(signed):
        """('point', Z) | ('empty', leaf multipliers) | ('unknown', None)."""
        stats["lps"] += 1
        try:
            feas, z, y = systems.float_solve(signed, deadline=deadline.at)
        except exactlp.Timeout:
            return "unknown", None
        if feas:
            for Z in _candidates(z):
                if _strict(Gc, signed, Z):
                    return "point", Z
        elif feas is False:
            mult = systems.from_duals(signed, y)
            if mult is not None:
                return "empty", gordan_leaf(signed, mult)
        if not exact_fallback:
            return "unknown", None
        stats["exact_lps"] += 1
        try:
            mult, v = systems.settle(signed, None, None, deadline=deadline.at)
        except exactlp.Timeout:
            return "unknown", None
        except ArithmeticError:  # pragma: no cover - defensive
            return "unknown", None
        if mult is not None:
            return "empty", gordan_leaf(signed, mult)
        Z, _ = exact.common_denominator(v)
        Z = _reduce(Z)
        if _strict(Gc, signed, Z):
            return "point", Z
        return "unknown", None

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max_cells, unit="cell", desc="cells")

    cells = []
    root = [None]
    # stack entries: (depth, class signs, homogeneous integer point, holder, slot)
    stack = [(0, (), [0] * n + [1], root, 0)]
    reason = None
    while stack:
        if deadline.expired():
            reason = "time_limit"
            break
        k, sig, Z, holder, slot = stack.pop()
        stats["nodes"] += 1
        if k == K:
            sign = [0] * m
            for i in nonzero:
                c, rel = row_class[i]
                sign[i] = sig[c] * rel
            # final exact check against every nonzero row (integer rows)
            if not all(sign[i] * _dot(G[i], Z) > 0 for i in nonzero) or Z[n] <= 0:
                raise AssertionError("internal error: interior point failed the exact check")
            cell = Cell(tuple(sign), _point(Z, n))
            holder[slot] = ("c", len(cells))
            cells.append(cell)
            if bar is not None:
                bar.update(1)
                if len(cells) % 64 == 0:
                    bar.set_postfix(lps=stats["lps"], refresh=False)
            if stop_when is not None and stop_when(cell) and stack:
                reason = "stopped"
                break
            if max_cells is not None and len(cells) >= max_cells and stack:
                reason = "max_cells"
                break
            continue
        node = ["b", k, None, None]               # slot 2: pos, slot 3: neg
        holder[slot] = node
        s0 = _dot(Gc[k], Z)
        s0 = (s0 > 0) - (s0 < 0)
        base = [(c, sig[c]) for c in range(k)]
        for sigma, cslot in ((-1, 3), (1, 2)):   # pos pushed last: explored first
            if sigma == s0:
                stack.append((k + 1, sig + (sigma,), Z, node, cslot))
                continue
            status, val = settle(base + [(k, sigma)])
            if status == "point":
                stack.append((k + 1, sig + (sigma,), val, node, cslot))
            elif status == "empty":
                node[cslot] = ("g", tuple(val))
            else:
                stats["unresolved"] += 1
                node[cslot] = ("u",)
    if bar is not None:
        bar.set_postfix(lps=stats["lps"], refresh=False)
        bar.close()
    if reason is None:
        reason = "numerical" if stats["unresolved"] else "complete"
    complete = reason == "complete"
    aux = _Aux(tree=root[0], reps=reps, members=members, orient=orient,
               G=tuple(tuple(r) for r in G))
    return CellEnumeration(cells=tuple(cells), complete=complete, reason=reason,
                           seconds=time.perf_counter() - t0, m=m, n=n, stats=stats, _aux=aux)


def certificate_from_enumeration(W, b, enum: CellEnumeration) -> dict:
    """Wrap :meth:`CellEnumeration.certificate_tree` into a full certificate
    document for the layer ``(W, b)`` (checked by
    :func:`solver.certificates.checker.check_certificate`).

    Raises
    ------
    ValueError
        Shape mismatch, incomplete enumeration, or a non-spanning cell.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (enum.m, enum.n):
        raise ValueError(f"enumeration is for a {enum.m}x{enum.n} layer, W is {W.shape}")
    return {"format": checker.FORMAT, "version": 1, "claim": "injective",
            "m": enum.m, "n": enum.n, "layer_sha256": checker.layer_fingerprint(W, b),
            "tree": enum.certificate_tree()}


# ----------------------------------------------------------------------------
# decision
# ----------------------------------------------------------------------------
def _witness_from_cell(G, n, cell):
    """x1 = p (the cell's point), x2 = p + a v with v orthogonal to the
    positive rows, a > 0 the largest step keeping every row with w.v > 0 at
    a value <= 0 (1 if there is none). Rows positive at p are orthogonal to
    v, so keep their values; every other row ends <= 0."""
    pos = [G[i][:n] for i, s in enumerate(cell.sign) if s == 1]
    v = exact.kernel(pos, n)[0]
    p = cell.point
    a = None
    for i, s in enumerate(cell.sign):
        wv = _dot(G[i][:n], v)
        if s != 0 and wv > 0:  # (zero rows have wv == 0)
            val = sum((Fraction(c) * x for c, x in zip(G[i][:n], p)), Fraction(G[i][n]))
            step = -val / wv
            a = step if a is None else min(a, step)
    a = Fraction(1) if a is None else a
    x2 = tuple(x + a * vi for x, vi in zip(p, v))
    return tuple(p), x2


def decide_by_enumeration(W, b=None, *, max_cells=None, time_limit=None, progress=False,
                          verify_certificate=False) -> EnumerationDecision:
    """Decide injectivity of ``x -> ReLU(W x + b)`` by listing all cells.

    Parameters
    ----------
    W, b, max_cells, time_limit, progress
        As in :func:`enumerate_cells`.
    verify_certificate : bool
        Also run the independent checker on the certificate before
        returning "injective" (an internal error if it fails).

    Returns
    -------
    EnumerationDecision
        * rank(W) < n: ``not_injective``, witness ``(0, v)`` with v an exact
          kernel vector (no enumeration).
        * a cell whose positive rows have rank < n: ``not_injective`` with
          the witness of :func:`_witness_from_cell`; the enumeration stops
          at the first such cell.
        * every cell spans and the enumeration is complete: ``injective``
          with a certificate (:func:`certificate_from_enumeration`).
        * otherwise ``unknown``.
        Every witness is checked with :func:`solver.exact.check_layer_witness`.

    Notes
    -----
    Correct by the Lemma of :mod:`solver.certificates.checker` (affine form
    of Puthawala et al., Thm 1): injective iff P(x) spans R^n at every
    generic x, i.e. on every open cell. Cost: that of
    :func:`enumerate_cells` plus one exact rank per cell.
    """
    t0 = time.perf_counter()
    deadline = Deadline.after(time_limit)
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array, got shape {W.shape}")
    m, n = W.shape
    int_rows = exact.integer_rows(W, b)
    G = int_rows[0]
    if not exact.full_column_rank(W, G):
        v = exact.kernel([g[:n] for g in G], n)[0]
        x1 = tuple(Fraction(0) for _ in range(n))
        x2 = tuple(Fraction(c) for c in v)
        ok, why = exact.check_layer_witness(W, b, x1, x2)
        if not ok:  # pragma: no cover - would be a bug in exact.kernel
            raise AssertionError(f"kernel witness failed: {why}")
        return EnumerationDecision("not_injective", (x1, x2), 0, False, "rank(W) < n",
                                   time.perf_counter() - t0, None)

    bad = []

    def stop_when(cell):
        pos = [G[i][:n] for i, s in enumerate(cell.sign) if s == 1]
        if len(pos) < n or exact.rank(pos) < n:
            bad.append(cell)
            return True
        return False

    enum = enumerate_cells(W, b, max_cells=max_cells, time_limit=deadline.remaining(),
                           progress=progress, stop_when=stop_when, int_rows=int_rows)
    if bad:
        x1, x2 = _witness_from_cell(G, n, bad[0])
        ok, why = exact.check_layer_witness(W, b, x1, x2)
        if not ok:  # pragma: no cover - would be a bug in the construction
            raise AssertionError(f"cell witness failed: {why}")
        return EnumerationDecision("not_injective", (x1, x2), len(enum.cells), enum.complete,
                                   "witness: a cell whose positive rows do not span R^n",
                                   time.perf_counter() - t0, None)
    if not enum.complete:
        return EnumerationDecision("unknown", None, len(enum.cells), False, enum.reason,
                                   time.perf_counter() - t0, None)
    cert = certificate_from_enumeration(W, b, enum)
    if verify_certificate:
        ok, why = checker.check_certificate(W, b, cert)
        if not ok:  # pragma: no cover
            raise AssertionError(f"certificate rejected by the checker: {why}")
    return EnumerationDecision("injective", None, len(enum.cells), True,
                               "every cell's positive rows span R^n",
                               time.perf_counter() - t0, cert)
