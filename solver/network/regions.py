"""End to end, exact: the full-dimensional activation regions of a small
piecewise linear network, certified output intervals per region, and
:func:`decide_by_regions` (every pair of regions decided by
:class:`solver.network.pairs.PairDecider`); the proof document
``reluinj.regions_proof`` is checked by :mod:`solver.certificates.regions`.

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022, Theorem 1.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import flint
import numpy as np

from .. import exact
from ..deadline import Deadline
from ..floatrows import scaled_floats, unit_rows
from ..lp import highs_lp
from ..regionmap import exact_region_maps
from ..search import SearchStopped
from .pairs import PairDecider
from ..exact import from_fmpq
from .rational import cert_json, exact_combination, int_row, strict_point

__all__ = ["MAX_REGIONS", "Region", "domain_rows", "decide_by_regions", "region_of_pattern"]

MAX_REGIONS = 3000          # region enumeration gives up (unknown) beyond this


@dataclass
class Region:
    pattern: tuple        # per layer, tuple of +1/-1 (empty for identity layers)
    rows: list            # integer rows r: r[:n].z + r[n] < 0 (open), <= 0 (closure)
    M: list               # output map: N(z) = M z + d on the closure (Fractions)
    d: list
    hint: Any             # float homogeneous interior point or None
    _cache: dict = field(default_factory=dict, repr=False)

    def integer_map(self):
        """``(Mi, di, D)``: integers with ``M = Mi / D``, ``d = di / D``."""
        if "map" not in self._cache:
            D = 1
            for row in self.M:
                for v in row:
                    D = D * v.denominator // math.gcd(D, v.denominator)
            for v in self.d:
                D = D * v.denominator // math.gcd(D, v.denominator)
            self._cache["map"] = ([[int(v * D) for v in row] for row in self.M],
                                  [int(v * D) for v in self.d], D)
        return self._cache["map"]


def domain_rows(n, domain, box):
    rows = []
    if box is not None:
        R = Fraction(float(box))
        for j in range(n):
            e = [0] * n
            e[j] = 1
            rows.append(int_row(e + [-R]))            # z_j < R
            if domain != "nonneg":
                rows.append(int_row([-c for c in e] + [-R]))   # -z_j < R
    if domain == "nonneg":
        for j in range(n):
            rows.append([-1 if k == j else 0 for k in range(n)] + [0])   # z_j > 0
    return rows


class _Regions:
    """Enumerate the full-dimensional activation regions of a network in an
    open domain. A branch is dropped only when its sign system is proved
    empty exactly, so every region is found (spurious empty ones are
    harmless: on the closed polyhedron of any sign pattern N is the pattern's
    affine map, because ReLU(0) = 0 = identity(0))."""

    def __init__(self, network, domain, box, deadline, max_regions):
        self.net = network
        self.n = network.n_in
        self.layers = []
        for L in network.layers:
            Wq = exact.fractions_of(L.W)
            bq = exact.fractions_of(L.b)
            slope = None if L.activation.is_identity else Fraction(L.activation.slope)
            self.layers.append((Wq, bq, slope))
        self.dom = domain_rows(self.n, domain, box)
        self.deadline = deadline
        self.max_regions = max_regions
        self.regions = []
        self.lps = 0
        self.pruned = 0

    def _check_time(self):
        if Deadline(self.deadline).expired():
            raise SearchStopped("time_limit")

    def run(self):
        n = self.n
        status, z = strict_point(self.dom)
        if status == "infeasible":
            self.tree = {"empty": cert_json(z)}
            return []
        if z is None:
            z = np.zeros(n + 1)
            z[-1] = 1.0
        M = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
        d = [Fraction(0)] * n
        self.tree = self._layer(0, M, d, list(self.dom), (), z)
        return self.regions

    def _layer(self, k, M, d, rows, pattern, hint):
        """Returns the proof tree below this point: ``{"region": index}``, or
        ``{"unit": [k, i], "pos": ..., "neg": ...}`` at a branching unit, a
        pruned side being ``{"empty": Gordan multipliers}`` over the path's
        rows plus the new one (see :mod:`solver.certificates.regions`)."""
        if k == len(self.layers):
            self.regions.append(Region(pattern, rows, M, d, hint))
            if len(self.regions) > self.max_regions:
                raise SearchStopped(f"more than {self.max_regions} activation regions")
            return {"region": len(self.regions) - 1}
        Wq, bq, slope = self.layers[k]
        # the exact region map of solver.regionmap, in Fractions and composed
        # along the search (each partial map serves every branch below it)
        preM = [[sum((w * M[t][j] for t, w in enumerate(row) if w), Fraction(0))
                 for j in range(self.n)] for row in Wq]
        pred = [sum((w * d[t] for t, w in enumerate(row) if w), Fraction(0)) + bi
                for row, bi in zip(Wq, bq)]
        if slope is None:
            return self._layer(k + 1, preM, pred, rows, pattern + ((),), hint)
        return self._unit(k, 0, preM, pred, slope, [], rows, pattern, hint)

    def _unit(self, k, i, preM, pred, slope, signs, rows, pattern, hint):
        self._check_time()
        if i == len(preM):
            M = [r if s > 0 else [slope * v for v in r] for r, s in zip(preM, signs)]
            d = [c if s > 0 else slope * c for c, s in zip(pred, signs)]
            return self._layer(k + 1, M, d, rows, pattern + (tuple(signs),), hint)
        g, c = preM[i], pred[i]
        if not any(g):
            return self._unit(k, i + 1, preM, pred, slope, signs + [1 if c > 0 else -1], rows,
                              pattern, hint)
        r = int_row(list(g) + [c])
        u = unit_rows([r], cols=len(r) - 1)[0][0]
        # the row at the hint, over the norm of its normal (None if the
        # normal underflowed in binary64)
        val = None if (hint is None or not u[:-1].any()) else float(u @ hint)
        scale = 1.0 if hint is None else max(1.0, float(np.max(np.abs(hint))))
        order = (1, -1) if (val is not None and val > 0) else (-1, 1)
        node = {"unit": [k, i]}
        for s in order:
            row = [-s * v for v in r]
            if val is not None and -s * val < -1e-7 * scale:
                child_hint = hint
            else:
                self.lps += 1
                status, z = strict_point(rows + [row])
                if status == "infeasible":
                    self.pruned += 1
                    node["pos" if s > 0 else "neg"] = {"empty": cert_json(z)}
                    continue
                child_hint = z
            node["pos" if s > 0 else "neg"] = self._unit(
                k, i + 1, preM, pred, slope, signs + [s], rows + [row], pattern, child_hint)
        return node


def _output_intervals(regions, n, directions, counter, certs=None):
    """Certified intervals ``[lo, hi]`` of ``c . N(z)`` over each region's
    closure, for each integer direction ``c`` (``None`` = unbounded).
    Each finite end is proved by exact LP duality: ``mu >= 0`` with
    ``sum mu_k A_k = +-M^T c`` on the region's rows ``A z <= a``; when
    ``certs`` is a list, the multipliers are appended to it (per region, per
    direction ``[lo, hi]``, each JSON multipliers or None)."""
    out = []
    for r in regions:
        A = [list(q[:n]) for q in r.rows]
        a = [-q[n] for q in r.rows]
        if A:
            U, nu = unit_rows([q + [c] for q, c in zip(A, a)], cols=n)
            Af, af = U[:, :-1], U[:, -1]
        ivs, rc = [], []
        for c in directions:
            w = [sum((Fraction(ci) * r.M[o][j] for o, ci in enumerate(c) if ci), Fraction(0))
                 for j in range(n)]
            cd = sum((Fraction(ci) * r.d[o] for o, ci in enumerate(c) if ci), Fraction(0))
            ends, ec = [], []
            for sg in (1, -1):
                ws = [sg * v for v in w]
                ec.append(None)
                if not any(ws):
                    ends.append(Fraction(0))
                    ec[-1] = []
                    continue
                if not A:
                    ends.append(None)
                    continue
                counter[0] += 1
                ok, _, dual = highs_lp(-scaled_floats([ws])[0][0], Af,
                                       np.full(len(af), -np.inf), af)
                if not ok:
                    ends.append(None)
                    continue
                mu = -dual
                y = exact_combination(A, [True] * len(A), ws, mu / nu, mu)
                if y is None:
                    ends.append(None)
                    continue
                ends.append(sum((v * a[k] for k, v in y.items()), Fraction(0)))
                ec[-1] = cert_json(y)
            hi = None if ends[0] is None else ends[0] + cd
            lo = None if ends[1] is None else -ends[1] + cd
            ivs.append((lo, hi))
            rc.append([ec[1], ec[0]])
        out.append(ivs)
        if certs is not None:
            certs.append(rc)
    return out


def _disjoint(ivs1, ivs2):
    """``(direction, 0)`` if region 1's interval lies below region 2's in that
    direction, ``(direction, 1)`` if above, None if no direction separates."""
    for t, ((lo1, hi1), (lo2, hi2)) in enumerate(zip(ivs1, ivs2)):
        if hi1 is not None and lo2 is not None and hi1 < lo2:
            return t, 0
        if hi2 is not None and lo1 is not None and hi2 < lo1:
            return t, 1
    return None


def decide_by_regions(network, *, domain="all", box=None, time_limit=None,
                      max_regions=MAX_REGIONS):
    """Exact end-to-end decision by activation regions (small networks).

    Returns ``(verdict, witness_pair or None, message, stats)`` with verdict
    ``injective`` / ``injective_on_box`` / ``not_injective`` / ``unknown``.

    Notes
    -----
    Soundness: the closures of the full-dimensional regions cover the closed
    domain (the other points form a null set: each unit's pre-activation is
    affine on each region of the earlier layers, and is either constant
    there, handled without branching, or vanishes on a hyperplane), and N
    is one affine map on each closure. A pair ``z1 != z2`` with ``N(z1) =
    N(z2)`` therefore lies in the closures of two regions (or one), and the
    pair decider answers each of those questions exactly.
    Cost: R regions need R(R+1)/2 pair questions of up to 2n + 1 LPs each.
    """
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    n = network.n_in
    enum = _Regions(network, domain, box, deadline, max_regions)
    stats = {}
    try:
        regions = enum.run()
        stats.update(regions=len(regions), region_lps=enum.lps, pruned=enum.pruned)
        pd = PairDecider(network, n)
        rng = np.random.default_rng(12345)
        n_out = network.n_out
        dirs = [[int(v) for v in rng.integers(-3, 4, size=n_out)] for _ in range(3)]
        dirs = [c for c in dirs if any(c)] or [[1] + [0] * (n_out - 1)]
        cnt = [0]
        interval_certs = []
        ivs = _output_intervals(regions, n, dirs, cnt, interval_certs)
        stats["interval_lps"] = cnt[0]
        uncertified = []
        pair_certs = []
        pairs = skipped = 0
        for i, ri in enumerate(regions):
            if Deadline(deadline).expired():
                raise SearchStopped("time_limit")
            out = pd.same_region(ri) or pd.decide(ri, ri)
            pairs += 1
            if out[0] == "witness":
                stats.update(pairs=pairs, pair_lps=pd.lps)
                return "not_injective", out[1], "a region's output map has a kernel", stats
            if out[0] == "uncertified":
                uncertified.append((i, i, out[1]))
            else:
                pair_certs.append({"pair": [i, i], **out[2]})
            for j in range(i + 1, len(regions)):
                if Deadline(deadline).expired():
                    raise SearchStopped("time_limit")
                sep = _disjoint(ivs[i], ivs[j])
                if sep is not None:
                    skipped += 1
                    pair_certs.append({"pair": [i, j], "kind": "disjoint", "dir": sep[0],
                                       "below": sep[1]})
                    continue
                out = pd.decide(ri, regions[j])
                pairs += 1
                if out[0] == "witness":
                    stats.update(pairs=pairs, pair_lps=pd.lps)
                    return ("not_injective", out[1],
                            "two activation regions share an output value", stats)
                if out[0] == "uncertified":
                    uncertified.append((i, j, out[1]))
                else:
                    pair_certs.append({"pair": [i, j], **out[2]})
        stats.update(pairs=pairs, pair_lps=pd.lps, uncertified=len(uncertified),
                     pairs_separated=skipped)
    except SearchStopped as s:
        stats.setdefault("regions", len(enum.regions))
        return "unknown", None, f"region enumeration stopped: {s.reason}", stats
    if uncertified:
        i, j, why = uncertified[0]
        return ("unknown", None, f"{len(uncertified)} region pair(s) not certified "
                f"(e.g. {i},{j}: {why})", stats)
    where = "on the box" if box is not None else "on the domain"
    stats["proof"] = {"format": "reluinj.regions_proof", "version": 1,
                      "activations": [str(L.activation) for L in network.layers],
                      "tree": enum.tree, "regions": len(regions), "directions": dirs,
                      "intervals": interval_certs, "pairs": pair_certs}
    return ("injective_on_box" if box is not None else "injective", None,
            f"all {len(regions)} activation regions and {pairs + skipped} region pairs decided "
            f"exactly ({skipped} by certified output intervals); "
            f"no two inputs {where} share an output", stats)


def region_of_pattern(network, pattern, domain, box):
    """The closed region of explicit activation ``pattern`` (list per layer of
    bool arrays, True = active; ignored for identity layers): integer rows
    and exact output map. Empty patterns are fine (see :class:`_Regions`).

    The affine maps are :func:`solver.regionmap.exact_region_maps` (python-flint
    rational matrices; the results are the same exact rationals as the
    Fraction arithmetic of :class:`_Regions`)."""
    n = network.n_in
    rows = list(domain_rows(n, domain, box))
    pres, M, d = exact_region_maps(network, pattern)
    pat = []
    for L, p, (preM, pred) in zip(network.layers, pattern, pres):
        if L.activation.is_identity:
            pat.append(())
            continue
        m = preM.nrows()
        signs = [1 if bool(a) else -1 for a in p]
        # [preM | pred] times one common positive denominator: integer rows
        # with the sign pattern's half-spaces (gcd-reduced)
        Nm, _ = flint.fmpq_mat(m, n + 1, [v for i in range(m) for v in
                                          [preM[i, j] for j in range(n)] + [pred[i, 0]]]
                               ).numer_denom()
        for i, sg in enumerate(signs):
            r = [int(Nm[i, j]) for j in range(n + 1)]
            if any(r[:n]):
                g = math.gcd(*r)
                rows.append([-sg * v // g for v in r])
            elif sg * r[n] < 0:
                rows.append([0] * n + [1])   # 0 < 0 is false: empty region
        pat.append(tuple(signs))
    Mq = [[from_fmpq(M[i, j]) for j in range(n)] for i in range(M.nrows())]
    dq = [from_fmpq(d[i, 0]) for i in range(d.nrows())]
    return Region(tuple(pat), rows, Mq, dq, None)
