"""Transversal leaves of the sign tree (:mod:`solver.search`), certificate
version 4: what they prove is written in :mod:`solver.certificates.checker`.

At a node of rank n - d, d Gordan circuits whose unassigned rows form
disjoint groups show that every point of the path has a positive row in
each group (depth is super-additive over disjoint groups); if every
transversal (one row per group) spans R^n with the positive rows, the node
is closed. The groups come from the circuit pool, or from one LP each that
asks the rows outside the groups found so far to be negative; an LP that
finds such a point ends the attempt, and its point is kept so that a later
attempt it answers costs no LP. The ranks are proved modulo the checker's
prime on the span's coordinates (:meth:`solver.treestate.Span.transversals_span`,
the checker's own test). Nothing here is trusted: every circuit enters the
pool with exact multipliers, and the checker re-verifies every leaf.

References
----------
Puthawala et al., *Globally injective ReLU networks*, Theorem 1 (directed
spanning sets): the rank, not the count, of the active rows decides; the
count is the Tukey depth of the origin among the rows.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TransversalLeaves"]


class TransversalLeaves:
    """The transversal-leaf methods of :class:`solver.search.SignTree` (a
    mixin: it uses the tree's pool, LP, statistics and rows)."""

    # transversal leaves: tried at nodes of rank >= n - TRANSVERSAL_MAX_D,
    # with at most MAX_TRANSVERSALS rank checks
    TRANSVERSAL_MAX_D = 64
    MAX_TRANSVERSALS = 65536
    # points where a group search failed, most recent first, kept to skip
    # searches that would fail the same way
    POINTS = 64

    def _group(self, sigma, masks, U):
        """A circuit applicable on the path whose unassigned rows lie in the
        bitset ``U`` (all required negative): from the pool, else from a
        float LP made exact. Returns ``(index, rows in U)``, or None when the
        float LP finds a point with every row of U negative (no such
        circuit) or its answer cannot be made exact."""
        P, N = masks
        k, _ = self.pool.best(P, N, U)
        if k is not None:
            self.stats.pool_hits += 1
            return k, [j for j in self.pool.items[k][1] if U >> j & 1]
        for pos, neg in self.points:
            if not (P & ~pos or (N | U) & ~neg):
                return None           # a point found before has every sign asked for
        full, feas, z, y = self._ask(sigma, U)
        if feas:
            self._keep_point(z)
            return None
        mult = self.sys.from_duals(full, y)
        return None if mult is None else self._pooled(full, mult, U)

    def _keep_point(self, z):
        """Remember the rows' signs at a float point where a group search
        failed: a later search whose signs all hold there fails too, and is
        skipped without an LP (only a heuristic: skipping just branches)."""
        v = self.sys.F @ z
        tol = 1e-9 * float(np.abs(z).max())
        pos = np.packbits(v > tol, bitorder="little").tobytes()
        neg = np.packbits(v < -tol, bitorder="little").tobytes()
        self.points.insert(0, (int.from_bytes(pos, "little"), int.from_bytes(neg, "little")))
        del self.points[self.POINTS:]

    def _transversal(self, sigma, masks, Ubits, span, k, chain):
        """Close the node with a transversal leaf (certificate version 4): d =
        n - rank disjoint groups, circuit k's ``chain`` and d - 1 more
        circuits whose unassigned rows avoid the groups found so far, such
        that every transversal with the positive rows spans R^n (checked
        modulo p on the span's coordinates). Returns the circuits' pool
        indices, or None (then the node branches as before).

        Every point of the path has a positive row in each group (depth is
        super-additive over disjoint groups), so the count ``d`` of positive
        rows outside the span is certified by d circuits instead of a
        subtree whose size is the product of the chains; the rank of every
        transversal replaces the general-position assumption that would turn
        a count into a rank."""
        d = self.n - span.rank
        if d > self.TRANSVERSAL_MAX_D:
            return None
        ks, groups = [k], [chain]
        used = 0
        for j in chain:
            used |= 1 << j
        count = len(chain)
        for _ in range(d - 1):
            got = self._group(sigma, masks, Ubits & ~used)
            if got is None:
                return None
            k2, rows = got
            if not rows:
                return None          # the path is empty: the branching closes it cheaply
            count *= len(rows)
            if count > self.MAX_TRANSVERSALS:
                return None
            ks.append(k2)
            groups.append(rows)
            for j in rows:
                used |= 1 << j
        return ks if span.transversals_span(groups) else None
