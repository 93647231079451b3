"""Certified lower bounds on the number of active rows: the Tukey depth of
the origin, group by group.

For rows in general position, ``x -> ReLU(Wx + b)`` is injective iff every
``x`` has at least ``n`` rows with ``w_i.x + b_i > 0``. Without general
position a count is not a rank, and certifying general position is itself
hard (full spark is NP-hard), so a depth bound is **not** an injectivity
proof. What it does prove: every generic x has at least ``r`` active rows,
so a bad point (one whose active rows do not span R^n) needs ``r`` rows in
one hyperplane through the origin, at least ``r_j`` of them from group j.
:func:`certify_depth` reports exactly that.

Depth of a group G (homogeneous rows ``g_i = [w_i, b_i]``, points ``z = (x,
t)``, ``t > 0``) is at least r iff for every set S of r - 1 rows of G, the
rows of G outside S cannot all be negative: a Gordan circuit inside G \\ S.
One circuit settles every S it avoids, so a hitting-set tree needs few LPs:
level k holds sets S of size k; each S takes the first known circuit that
avoids it (or an LP finds one, exactly, or finds a point where all of G \\ S
is negative: then the depth is at most k, and it is exactly k if every
smaller set was settled); its children are S + c for c in that circuit (a
superset that avoids the circuit is settled by it too). Depth is
super-additive over a partition of the rows, so groups add up.

The certificate (``format: "reluinj.depth"``) lists the groups, their
depths and the circuits; :func:`check_depth_certificate` re-verifies every
circuit in integers and replays the hitting-set tree (no LP).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .deadline import Deadline
from . import lp
from .certificates.depth import DEPTH_FORMAT, check_depth_certificate  # noqa: F401 (re-export)

__all__ = ["DepthResult", "certify_depth"]

@dataclass(frozen=True)
class DepthResult:
    """Certified depth per group: every generic x has at least ``depth[j]``
    rows of ``groups[j]`` active (``w_i.x + b_i > 0``), so at least
    ``total`` in all. ``exact[j]``: True when a point with exactly that many
    active rows of the group was found (the bound is then the group's depth).
    ``complete``: False when the time limit stopped a group early (its depth
    is then what was settled so far)."""
    groups: tuple
    depth: tuple
    exact: tuple
    certificate: dict
    seconds: float
    lps: int
    complete: bool
    stats: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(sum(self.depth))

    def to_json(self) -> dict:
        return {"total": self.total, "groups": len(self.groups),
                "group_sizes": [len(g) for g in self.groups], "depth": list(self.depth),
                "exact": list(self.exact), "complete": self.complete, "lps": self.lps,
                "seconds": round(self.seconds, 3)}


def _group_depth(W, b, group, deadline, max_depth, table):
    """Hitting-set tree for one group (see the module docstring), with LPs
    over the group's rows only. Appends the circuits it finds to ``table``
    (entries ``[[row, -1, "q"], ...]`` with the layer's row indices).
    Returns ``(depth, exact, complete, lps)``."""
    if Deadline(deadline).expired():    # (setting the LP up costs time on its own)
        return 0, False, False, 0
    systems = lp.SignSystems(W[group], b[group])
    local = range(len(group))
    circuits = []                   # circuits as bitmasks over the group's rows
    level = [0]
    k = 0

    def done(*out):
        return (*out, systems.lps)

    while level:
        nxt = set()
        for S in level:
            if Deadline(deadline).expired():
                return done(k, False, False)
            C = next((c for c in circuits if not c & S), None)
            if C is None:
                try:
                    mult = systems.circuit([(i, -1) for i in local if not S >> i & 1],
                                           deadline=deadline)
                except lp.Timeout:
                    return done(k, False, False)
                if mult is None:           # all of G \ S negative at some point
                    return done(k, True, True)
                C = sum(1 << i for i in mult)
                circuits.append(C)
                table.append([[group[i], -1, str(mult[i])] for i in sorted(mult)])
            if k + 1 < max_depth:
                c = C
                while c:
                    low = c & -c
                    nxt.add(S | low)
                    c ^= low
        k += 1
        if k >= max_depth:
            return done(k, False, True)
        level = sorted(nxt)
    return done(k, False, True)


def certify_depth(W, b=None, *, groups=None, n_groups=None, time_limit=None, max_depth=None,
                  seed=0) -> DepthResult:
    """Certify, group by group, how many rows are active at every point.

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None.
    groups : list of row-index lists (a partition, or any disjoint groups);
        default: ``n_groups`` random groups of equal size (default
        ``max(1, m // (4 n))``: groups of about 4n rows).
    time_limit : seconds for the whole certification (split between groups).
    max_depth : stop a group once this depth is certified.

    Returns
    -------
    DepthResult (its certificate verifies with :func:`check_depth_certificate`).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.vstack([np.eye(2), -np.eye(2), [[1.0, 1.0]]])
    >>> r = certify_depth(W, groups=[[0, 1, 2, 3, 4]])
    >>> r.depth, r.exact
    ((2,), (True,))
    >>> check_depth_certificate(W, None, r.certificate)[0]
    True
    """
    from .certificates.checker import layer_fingerprint
    from .io import validate_layer
    W, b = validate_layer(W, b)
    m, n = W.shape
    start = time.monotonic()
    if groups is None:
        k = n_groups or max(1, m // (4 * n))
        perm = np.random.default_rng(seed).permutation(m)
        groups = [sorted(int(i) for i in perm[j::k]) for j in range(k)]
    groups = [sorted(int(i) for i in g) for g in groups]
    depth, exact_, table = [], [], []
    complete = True
    lps = 0
    for j, g in enumerate(groups):
        deadline = None
        if time_limit is not None:
            left = time_limit - (time.monotonic() - start)
            deadline = time.monotonic() + max(0.0, left) / (len(groups) - j)
        d, ex, ok, n_lp = _group_depth(W, b, g, deadline, max_depth or len(g) + 1, table)
        lps += n_lp
        depth.append(d)
        exact_.append(ex)
        complete &= ok
    cert = {"format": DEPTH_FORMAT, "version": 1, "claim": "active_rows_at_least",
            "m": m, "n": n, "layer_sha256": layer_fingerprint(W, b),
            "groups": groups, "depth": depth, "circuits": table}
    return DepthResult(tuple(tuple(g) for g in groups), tuple(depth), tuple(exact_), cert,
                       time.monotonic() - start, lps, complete)
