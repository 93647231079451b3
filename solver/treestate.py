"""The state a sign-tree node carries (:mod:`solver.search`): the pool of
Gordan circuits found so far, and the span of the positive rows kept modulo
the checker's prime. Neither decides anything: every circuit enters the pool
with exact multipliers, the span's rank is exact, and the checker re-verifies
every leaf.
"""
from __future__ import annotations

import math

import numpy as np

from . import exact
from .certificates import checker, exactlayer

__all__ = ["CircuitPool", "Span"]


class CircuitPool:
    """Gordan circuits found so far, kept for reuse across the tree.

    A circuit is a signed set of rows with exact multipliers showing that the
    signs cannot all hold. It closes or shortens any later node whose path has
    every ``+`` row positive and whose ``-`` rows are each negative on the path
    or unassigned and required negative (the rows the node's LP would put
    negative). Rows are bitsets (numpy uint64 words) so that one vectorised
    pass finds the applicable circuit with the fewest unassigned rows. Nothing
    is trusted: a circuit enters the pool only with exact multipliers, and the
    checker re-verifies it and every leaf that uses it.
    """

    def __init__(self, m):
        self.words = (m + 63) // 64
        self.full = (1 << (64 * self.words)) - 1
        self.k = 0
        self.pos = np.zeros((64, self.words), dtype=np.uint64)
        self.neg = np.zeros((64, self.words), dtype=np.uint64)
        self.items = []          # (entries [[row, sign, "q"], ...], "-" rows by weight)

    def copy(self):
        c = CircuitPool.__new__(CircuitPool)
        c.words, c.k, c.full = self.words, self.k, self.full
        c.pos, c.neg = self.pos.copy(), self.neg.copy()
        c.items = list(self.items)
        return c

    def bits(self, rows):
        """Bitset (numpy words) of an iterable of row indices."""
        v = 0
        for i in rows:
            v |= 1 << i
        return self.as_words(v)

    def add(self, entries, neg_order):
        if self.k == len(self.pos):
            self.pos = np.vstack([self.pos, np.zeros_like(self.pos)])
            self.neg = np.vstack([self.neg, np.zeros_like(self.neg)])
        self.pos[self.k] = self.bits(i for i, s, _ in entries if s == 1)
        self.neg[self.k] = self.bits(i for i, s, _ in entries if s == -1)
        self.items.append((entries, neg_order))
        self.k += 1
        return self.k - 1

    #: circuits scanned per query, the most recent ones: the search is depth
    #: first, so the circuits of the current subtree are the likely ones
    RECENT = 1024

    def as_words(self, v):
        """A Python-int bitset as numpy words."""
        return np.frombuffer(v.to_bytes(8 * self.words, "little"), dtype=np.uint64)

    def best(self, P, N, U):
        """The applicable circuit with the fewest rows in ``U`` (Python-int
        bitsets): ``+`` rows inside P, ``-`` rows inside N | U, among the
        ``RECENT`` latest (the first such one, by index). Returns ``(index,
        count)`` or ``(None, None)``."""
        k = self.k
        if k == 0:
            return None, None
        lo = max(0, k - self.RECENT)
        nb, full = 8 * self.words, self.full
        notP = np.frombuffer((full ^ P).to_bytes(nb, "little"), dtype=np.uint64)
        notNU = np.frombuffer((full ^ (N | U)).to_bytes(nb, "little"), dtype=np.uint64)
        Uw = np.frombuffer(U.to_bytes(nb, "little"), dtype=np.uint64)
        pos, neg = self.pos[lo:k], self.neg[lo:k]
        bad = (pos & notP) | (neg & notNU)
        counts = np.bitwise_count(neg & Uw)
        if self.words == 1:
            bad, counts, none = bad[:, 0] != 0, counts[:, 0], 255    # counts <= 64 < 255
        elif self.words == 2:                 # (m <= 128: two words, without reductions)
            bad = (bad[:, 0] | bad[:, 1]) != 0
            counts, none = counts[:, 0] + counts[:, 1], 255          # counts <= 128 < 255
        else:
            bad, counts, none = bad.any(axis=1), counts.sum(axis=1, dtype=np.int32), 1 << 30
        counts[bad] = none
        j = int(counts.argmin())
        c = int(counts[j])
        return (None, None) if c == none else (lo + j, c)


class Span:
    """The span of the positive rows, kept modulo the prime ``p`` of the
    checker (:data:`solver.certificates.checker.PRIME`) as the matrix ``D``
    of every row's dot products with a basis of its orthogonal complement:
    ``D[i, c] = g_i . k_c mod p`` (``rank = n - D.shape[1]``).

    Adding a row g with ``d = D[g]`` (fraction-free): with a pivot c,
    ``d_c != 0 mod p``, the vectors ``d_c k_i - d_i k_c`` (i != c) are an exact
    basis of the new complement (exact because ``d_c != 0 mod p`` implies
    ``d_c != 0``), and their dot products are the columns ``d_c D_i - d_i D_c``
    mod p: one vectorised update, no big integers. So the rank is exact, and
    ``D[i] != 0`` proves row i outside the span exactly (an exact complement
    vector has a nonzero dot product with it). ``D[i] = 0`` may, with
    probability about 1/p, hide a row outside the span; the search then
    treats it as inside, which only loses pruning (every leaf is re-checked).
    An exact basis of the complement (witnesses, frontier tasks) is computed
    on demand from the exact ``base`` basis and the rows added since."""

    __slots__ = ("D", "rank", "base", "added", "_out", "_K", "_extra")

    @classmethod
    def from_basis(cls, K, n, Gp_rows):
        """The span whose complement has the exact integer basis ``K``;
        ``Gp_rows``: every row of the layer (Python ints, first n entries used)."""
        s = cls.__new__(cls)
        s.base = [list(k) for k in K]
        s.rank = n - len(s.base)
        s.added = ()
        P = checker.PRIME
        Kp = np.array([[c % P for c in k] for k in s.base], dtype=np.int64).reshape(-1, n)
        Gp = np.array([[c % P for c in g[:n]] for g in Gp_rows],
                      dtype=np.int64).reshape(len(Gp_rows), n)
        # D = Gp Kp^T mod P, one coordinate at a time: every product is below
        # P^2 < 2^60 and every partial sum below 2^61, exact in int64 (a sum
        # over the rows in Python ints took 0.5 s on a 3000 x 30 layer, 1.6 s
        # at 8000 x 40, the root span of every search: past small limits)
        D = np.zeros((len(Gp_rows), len(Kp)), dtype=np.int64)
        for t in range(n):
            D = (D + Gp[:, t, None] * Kp[None, :, t]) % P
        s.D = D
        s._out = s._K = s._extra = None
        return s

    def outside(self):
        """The rows outside the span modulo p (so outside it exactly), as a
        Python-int bitset."""
        if self._out is None:
            if self.D.shape[1] == 0:
                self._out = 0
            else:
                bits = np.packbits(self.D.any(axis=1), bitorder="little")
                self._out = int.from_bytes(bits.tobytes(), "little")
        return self._out

    def transversals_span(self, groups):
        """Does every transversal of ``groups`` (lists of rows, one row from
        each) span the complement, i.e. with the span give R^n? Proved
        modulo p on the coordinates ``D`` (a nonzero minor modulo p is a
        nonzero integer) by the checker's own test; False when modulo p
        cannot show it (the caller then branches)."""
        if len(groups) != self.D.shape[1]:
            return False
        return exactlayer.transversals_independent(self.D, groups)

    def add(self, j, G):
        """The span with row ``j`` added (``G``: the layer's integer rows), or
        None if j is in it."""
        d = self.D[j]
        nz = np.flatnonzero(d)
        if nz.size == 0:
            return self._add_exact(j, G)
        c = int(nz[0])
        D = self.D
        new = (D * d[c] - D[:, c:c + 1] * d[None, :]) % checker.PRIME
        new[:, c] = new[:, -1]           # column c is zero: drop it (column order is free)
        out = Span.__new__(Span)
        out.D = new[:, :-1]
        out.rank, out.base, out.added = self.rank + 1, self.base, self.added + (j,)
        out._out = out._K = out._extra = None
        return out

    def _add_exact(self, j, G):
        """:meth:`add` for a row that is in the span modulo p: exactly (the
        fraction-free update on the exact basis), rarely needed."""
        K = self.exact_basis(G)
        if not K:
            return None
        n = len(K[0])
        d = [exact.dot(G[j][:n], k) for k in K]
        nz = [i for i, x in enumerate(d) if x]
        if not nz:
            return None
        c = min(nz, key=lambda i: abs(d[i]))
        new = []
        for i, k in enumerate(K):
            if i != c:
                v = [d[c] * a - d[i] * b for a, b in zip(k, K[c])]
                g = math.gcd(*v)
                new.append([a // g for a in v] if g > 1 else v)
        return Span.from_basis(new, n, G)

    def outside_exact(self, cand, G):
        """The rows of the bitset ``cand`` that are outside the span exactly
        although in it modulo p (as a bitset; cached)."""
        if self._extra is None:
            self._extra = [0, 0]         # [rows checked, rows found outside]
        todo = cand & ~self._extra[0]
        if todo:
            K = self.exact_basis(G)
            n = len(K[0]) if K else 0
            i = 0
            while todo >> i:
                if todo >> i & 1 and any(exact.dot(G[i][:n], k) for k in K):
                    self._extra[1] |= 1 << i
                i += 1
            self._extra[0] |= todo
        return cand & self._extra[1]

    def exact_basis(self, G):
        """An exact integer basis of the complement (``G``: the layer's integer rows)."""
        if self._K is None:
            if not self.added:
                self._K = self.base
            else:
                n = len(self.base[0])
                M = [[exact.dot(G[j][:n], k) for k in self.base] for j in self.added]
                C = exact.kernel(M, len(self.base))
                K = []
                for c in C:
                    v = [sum(ci * k[t] for ci, k in zip(c, self.base)) for t in range(n)]
                    g = math.gcd(*v)
                    K.append([a // g for a in v] if g > 1 else v)
                self._K = K
        return self._K
