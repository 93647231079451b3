"""Brute-force decision by hyperplane enumeration (small layers only).

Non-injective iff rank W < n, or some hyperplane H spanned by n-1 rows admits
x with every row outside H strictly negative (then the positive rows lie in
H; conversely a non-spanning positive set lies in a hyperplane that can be
grown to one spanned by rows). One strict system per (n-1)-subset, decided
by the exact simplex: no tolerance anywhere. Exponential: C(m, n-1) systems.

This shares no search code with :mod:`solver.search`; tests and benchmarks
use it as an independent reference.
"""
from __future__ import annotations

import itertools
import time

from .deadline import Deadline
from . import exact, exactlp
from .witness import witness_from_kernel, witness_from_normal

__all__ = ["decide_bruteforce"]


def decide_bruteforce(W, b, *, time_limit=None):
    """Return ``(verdict, witness_pair_or_None)``; verdict "unknown" on timeout."""
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    m, n = W.shape
    G, _ = exact.integer_rows(W, b)
    rows = [g[:n] for g in G]
    if not exact.full_column_rank(W, G):
        return "not_injective", witness_from_kernel(W, b, exact.kernel(rows, n)[0])
    nonzero = [i for i in range(m) if any(rows[i])]
    seen = set()
    for S in itertools.combinations(nonzero, n - 1):
        if time_limit is not None and time.monotonic() - start > time_limit:
            return "unknown", None
        if exact.rank([rows[i] for i in S]) != n - 1:
            continue
        v = exact.kernel([rows[i] for i in S], n)[0]
        outside = tuple(j for j in nonzero if exact.dot(rows[j], v) != 0)
        if outside in seen:
            continue
        seen.add(outside)
        if not outside:
            return "not_injective", None  # cannot happen with rank n
        try:
            status, z = exactlp.strict_feasibility([list(G[j]) for j in outside],
                                                   deadline=deadline)
        except exactlp.Timeout:
            return "unknown", None
        if status == "feasible":
            x = [z[k] / z[n] for k in range(n)]
            w = witness_from_normal(G, v, x, W, b)
            if w is None:  # would be a bug: the exact point must work
                raise AssertionError("exact point failed the witness check")
            return "not_injective", w
    return "injective", None
