"""Checker for ``reluinj.regions_proof``: a small piecewise linear network is
injective on its domain (R^n, the orthant, or a box), proved end to end over
its activation regions (:func:`solver.network.regions.decide_by_regions`).

Part of the trusted base: the standard library and NumPy only, no solver.
Everything is recomputed here from the network's exact binary64 weights;
the proof only supplies the branching and the multipliers.

What is proved, and how it is checked
-------------------------------------
1. *Regions cover the domain.* ``tree`` branches on the sign of each unit's
   pre-activation, layer by layer and unit by unit, in order; a unit whose
   pre-activation is constant on the current region is not branched on (its
   sign is that of the constant). The region's rows are integer rows ``r``
   meaning ``r[:n] . z + r[n] < 0`` (the domain rows first, then one row per
   branch), each the pre-activation times the least common denominator. A
   side that is not explored carries Gordan multipliers ``y >= 0`` (not all
   zero) over the rows of that side with ``sum y_k r_k[:n] = 0`` and ``sum y_k
   r_k[n] >= 0``: no point satisfies those strict inequalities. So every
   point of the open domain off the (null) set where some branched
   pre-activation vanishes lies in a leaf, and the closures of the leaves
   cover the closed domain; on each closure ``N(z) = M z + d`` (ReLU(0) = 0
   = slope * 0).
2. *No two points of any two closures share an output.* For each pair
   ``i <= j`` of leaves one of: ``rank`` (``i = j`` and ``M`` has full
   column rank: ``M z1 = M z2`` forces ``z1 = z2``); ``constant`` (some
   output is a different constant on the two regions); ``farkas`` (the
   polyhedron ``{A u <= a, E u = e}`` of pairs ``u = (z1, z2)`` in the two
   closures with equal outputs is empty: multipliers, >= 0 on A, with
   ``sum y [A|a] + sum y [E|e] = (0, ..., 0, -1)``); ``bounds`` (for every
   coordinate j and sign s, ``s (z1_j - z2_j) <= 0`` on the polyhedron:
   ``sum y coef = d``, ``sum y rhs <= 0``); ``disjoint`` (an integer
   direction ``c`` with ``max c . N`` on one region below ``min c . N`` on
   the other, both ends by LP duality: ``y >= 0`` with ``sum y_k A_k = +-M^T
   c`` over the region's rows ``A z <= a``).

A sigmoid or tanh last layer of the model may appear as ``identity`` in the
proof: a strictly increasing head has equal outputs iff equal
pre-activations, so the two networks have the same pairs.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .checker import Rejected, activation_slope, int_rank, rational

REGIONS_FORMAT = "reluinj.regions_proof"

__all__ = ["REGIONS_FORMAT", "check_regions_proof"]


def _lcm_row(vals):
    """``vals`` (rationals) times the lcm of their denominators (integers)."""
    den = 1
    for v in vals:
        den = den * v.denominator // math.gcd(den, v.denominator)
    return [int(v * den) for v in vals]


def _slope(act):
    """Negative-side slope of a (leaky) ReLU, None for identity; the region
    proof rejects sigmoid/tanh (and, as every checker, unknown texts)."""
    s = activation_slope(act)
    if act == "identity":
        return None
    if s is None:
        raise Rejected(f"the region proof needs piecewise linear activations, got {act!r}")
    return s


def _multipliers(y, size, where, nonneg_below=None):
    """JSON ``[[index, rational], ...]`` -> {index: Fraction}; indices in
    range, distinct; values >= 0 for indices below ``nonneg_below``."""
    if not isinstance(y, list):
        raise Rejected(f"{where}: multipliers must be a list")
    out = {}
    for e in y:
        if not isinstance(e, list) or len(e) != 2:
            raise Rejected(f"{where}: multiplier {e!r} is not [index, value]")
        k, v = e
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < size or k in out:
            raise Rejected(f"{where}: bad or repeated index {k!r}")
        v = rational(v)
        if nonneg_below is not None and k < nonneg_below and v < 0:
            raise Rejected(f"{where}: negative multiplier for an inequality")
        out[k] = v
    return out


def _combine(y, vectors, width):
    tot = [Fraction(0)] * width
    for k, v in y.items():
        for t, c in enumerate(vectors[k]):
            if c:
                tot[t] += v * c
    return tot


class _Walk:
    """Recompute the regions along the proof tree."""

    def __init__(self, layers, acts, domain, box):
        self.n = layers[0][0].shape[1]
        self.layers = []
        for (W, b, _), act in zip(layers, acts):
            Wq = [[Fraction(float(v)) for v in row] for row in np.asarray(W, dtype=np.float64)]
            bq = [Fraction(float(v)) for v in np.asarray(b, dtype=np.float64).reshape(-1)]
            self.layers.append((Wq, bq, _slope(act)))
        n = self.n
        self.dom = []
        if box is not None:
            R = Fraction(float(box))
            for j in range(n):
                e = [Fraction(int(t == j)) for t in range(n)]
                self.dom.append(_lcm_row(e + [-R]))
                if domain != "nonneg":
                    self.dom.append(_lcm_row([-v for v in e] + [-R]))
        if domain == "nonneg":
            for j in range(n):
                self.dom.append([-1 if t == j else 0 for t in range(n)] + [0])
        self.regions = {}

    def gordan(self, rows, y, where):
        y = _multipliers(y, len(rows), where, nonneg_below=len(rows))
        if not any(v > 0 for v in y.values()):
            raise Rejected(f"{where}: Gordan multipliers are all zero")
        tot = _combine(y, rows, self.n + 1)
        if any(tot[:self.n]) or tot[self.n] < 0:
            raise Rejected(f"{where}: not a Gordan certificate of emptiness")

    def run(self, tree):
        n = self.n
        if isinstance(tree, dict) and "empty" in tree:
            self.gordan(self.dom, tree["empty"], "root")
            return
        M = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
        self.layer(0, M, [Fraction(0)] * n, list(self.dom), tree, "root")

    def layer(self, k, M, d, rows, node, where):
        if k == len(self.layers):
            if not isinstance(node, dict) or set(node) != {"region"}:
                raise Rejected(f"{where}: expected a region leaf")
            idx = node["region"]
            if isinstance(idx, bool) or not isinstance(idx, int) or idx in self.regions:
                raise Rejected(f"{where}: bad or repeated region index {idx!r}")
            self.regions[idx] = (rows, M, d)
            return
        Wq, bq, slope = self.layers[k]
        n = self.n
        preM = [[sum((w * M[t][j] for t, w in enumerate(row) if w), Fraction(0))
                 for j in range(n)] for row in Wq]
        pred = [sum((w * d[t] for t, w in enumerate(row) if w), Fraction(0)) + bi
                for row, bi in zip(Wq, bq)]
        if slope is None:
            return self.layer(k + 1, preM, pred, rows, node, where)
        return self.unit(k, 0, preM, pred, slope, [], rows, node, where)

    def unit(self, k, i, preM, pred, slope, signs, rows, node, where):
        if i == len(preM):
            M = [r if s > 0 else [slope * v for v in r] for r, s in zip(preM, signs)]
            d = [c if s > 0 else slope * c for c, s in zip(pred, signs)]
            return self.layer(k + 1, M, d, rows, node, where)
        g, c = preM[i], pred[i]
        if not any(g):
            return self.unit(k, i + 1, preM, pred, slope, signs + [1 if c > 0 else -1], rows,
                             node, where)
        if not isinstance(node, dict) or node.get("unit") != [k, i]:
            raise Rejected(f"{where}: expected a branch on unit {[k, i]}")
        r = _lcm_row(list(g) + [c])
        for s, key in ((1, "pos"), (-1, "neg")):
            row = [-s * v for v in r]
            child = node.get(key)
            here = f"{where}/{key}{k}.{i}"
            if isinstance(child, dict) and "empty" in child:
                self.gordan(rows + [row], child["empty"], here)
                continue
            self.unit(k, i + 1, preM, pred, slope, signs + [s], rows + [row], child, here)


def _integer_map(M, d):
    D = 1
    for v in [x for row in M for x in row] + list(d):
        D = D * v.denominator // math.gcd(D, v.denominator)
    return [[int(v * D) for v in row] for row in M], [int(v * D) for v in d], D


def _pair_system(n, ra, rb):
    """The polyhedron of pairs (z1, z2) in the two closures with equal
    outputs: ``(A, a, E, e)`` in integers, or None if some output is a
    different constant on the two regions."""
    A, a = [], []
    for r in ra[0]:
        A.append(list(r[:n]) + [0] * n)
        a.append(-r[n])
    for r in rb[0]:
        A.append([0] * n + list(r[:n]))
        a.append(-r[n])
    Ma, da, Da = _integer_map(ra[1], ra[2])
    Mb, db, Db = _integer_map(rb[1], rb[2])
    E, e = [], []
    for o in range(len(Ma)):
        row = [v * Db for v in Ma[o]] + [-v * Da for v in Mb[o]]
        rhs = db[o] * Da - da[o] * Db
        if not any(row):
            if rhs != 0:
                return None
            continue
        g = math.gcd(*row, rhs)
        E.append([v // g for v in row])
        e.append(rhs // g)
    return A, a, E, e


def _interval_end(region, c, y, sign, n, where):
    """A certified bound of ``sign * c . N`` over the region's closure:
    returns U with ``sign * c . N(z) <= U``."""
    rows, M, d = region
    w = [sign * sum((Fraction(ci) * M[o][j] for o, ci in enumerate(c) if ci), Fraction(0))
         for j in range(n)]
    cd = sign * sum((Fraction(ci) * d[o] for o, ci in enumerate(c) if ci), Fraction(0))
    if y is None:
        raise Rejected(f"{where}: no certificate for this interval end")
    ym = _multipliers(y, len(rows), where, nonneg_below=len(rows))
    A = [list(r[:n]) for r in rows]
    if _combine(ym, A, n) != w:
        raise Rejected(f"{where}: multipliers do not combine to M^T c")
    return sum((v * -rows[k][n] for k, v in ym.items()), Fraction(0)) + cd


def check_regions_proof(layers, proof, domain, box):
    """Verify a ``reluinj.regions_proof`` for the network ``layers`` (list of
    ``(W, b, activation_text)``) on the domain (``"all"`` / ``"nonneg"``,
    box R or None). Returns ``(True, reason)`` or ``(False, reason)``."""
    try:
        if not isinstance(proof, dict) or proof.get("format") != REGIONS_FORMAT \
                or proof.get("version") != 1:
            raise Rejected(f"not a {REGIONS_FORMAT} version 1 document")
        acts = [str(a) for _, _, a in layers]
        pacts = proof.get("activations")
        if not isinstance(pacts, list) or len(pacts) != len(acts):
            raise Rejected("the proof's activations do not match the model")
        for k, (pa, a) in enumerate(zip(pacts, acts)):
            head = k == len(acts) - 1 and a in ("sigmoid", "tanh") and pa == "identity"
            if pa != a and not head:
                raise Rejected(f"layer {k}: the proof is for {pa!r}, the model has {a!r}")
        walk = _Walk(layers, pacts, domain, box)
        walk.run(proof.get("tree"))
        R = proof.get("regions")
        if sorted(walk.regions) != list(range(R if isinstance(R, int) else -1)):
            raise Rejected("region leaves are not numbered 0..R-1")
        n = walk.n
        regions = [walk.regions[i] for i in range(R)]
        dirs = proof.get("directions")
        if not isinstance(dirs, list) or not all(
                isinstance(c, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                            for v in c) for c in dirs):
            raise Rejected("directions must be lists of integers")
        ivs = proof.get("intervals")
        if not isinstance(ivs, list) or len(ivs) != R:
            raise Rejected(f"intervals must list {R} regions")
        pairs = proof.get("pairs")
        if not isinstance(pairs, list):
            raise Rejected("pairs must be a list")
        seen = set()
        for entry in pairs:
            if not isinstance(entry, dict):
                raise Rejected("pair entry is not an object")
            ij = entry.get("pair")
            if not (isinstance(ij, list) and len(ij) == 2 and all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v < R for v in ij)
                    and ij[0] <= ij[1]) or tuple(ij) in seen:
                raise Rejected(f"bad or repeated pair {ij!r}")
            seen.add(tuple(ij))
            i, j = ij
            where = f"pair {i},{j}"
            kind = entry.get("kind")
            if kind == "rank":
                if i != j:
                    raise Rejected(f"{where}: 'rank' is for a region with itself")
                if int_rank([_lcm_row(row) for row in regions[i][1]]) != n:
                    raise Rejected(f"{where}: the output map is not of full column rank")
            elif kind == "disjoint":
                t, below = entry.get("dir"), entry.get("below")
                if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(dirs) \
                        or below not in (0, 1):
                    raise Rejected(f"{where}: bad direction")
                lo_r, hi_r = (j, i) if below == 0 else (i, j)
                c = dirs[t]
                hi = _interval_end(regions[hi_r], c, ivs[hi_r][t][1], 1, n, where)
                lo = -_interval_end(regions[lo_r], c, ivs[lo_r][t][0], -1, n, where)
                if not hi < lo:
                    raise Rejected(f"{where}: the intervals overlap")
            elif kind in ("constant", "farkas", "bounds"):
                sysm = _pair_system(n, regions[i], regions[j])
                if kind == "constant":
                    if sysm is not None:
                        raise Rejected(f"{where}: no output is a different constant")
                    continue
                if sysm is None:
                    continue        # empty anyway
                A, a, E, e = sysm
                vectors = [A[k] + [a[k]] for k in range(len(A))] + \
                    [E[k] + [e[k]] for k in range(len(E))]
                size = len(vectors)
                if kind == "farkas":
                    y = _multipliers(entry.get("y"), size, where, nonneg_below=len(A))
                    if _combine(y, vectors, 2 * n + 1) != [0] * (2 * n) + [-1]:
                        raise Rejected(f"{where}: not a Farkas certificate")
                else:
                    got = set()
                    for item in entry.get("dirs", []):
                        jj, sg, yy = item
                        if not (isinstance(jj, int) and 0 <= jj < n and sg in (1, -1)) \
                                or (jj, sg) in got:
                            raise Rejected(f"{where}: bad direction {item[:2]!r}")
                        got.add((jj, sg))
                        y = _multipliers(yy, size, where, nonneg_below=len(A))
                        tot = _combine(y, vectors, 2 * n + 1)
                        dv = [0] * (2 * n)
                        dv[jj], dv[n + jj] = sg, -sg
                        if tot[:2 * n] != dv or tot[2 * n] > 0:
                            raise Rejected(f"{where}: bound {sg:+d} (z1 - z2)_{jj} <= 0 "
                                           "not certified")
                    if len(got) != 2 * n:
                        raise Rejected(f"{where}: {2 * n - len(got)} directions not bounded")
            else:
                raise Rejected(f"{where}: unknown kind {kind!r}")
        if len(seen) != R * (R + 1) // 2:
            raise Rejected(f"{R * (R + 1) // 2 - len(seen)} pairs of regions not covered")
        return True, f"valid ({R} regions, {len(seen)} pairs)"
    except Rejected as exc:
        return False, str(exc)
    except (RecursionError, MemoryError, TypeError, ValueError, KeyError, AttributeError,
            IndexError, ZeroDivisionError, OverflowError) as exc:
        return False, f"malformed regions proof: {type(exc).__name__}: {exc}"
