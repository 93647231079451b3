"""``check_network``: injectivity of multi-layer networks, with proofs.

A network is ``N(z) = act_L(W_L ... act_1(W_1 z + b_1) ... + b_L)``
(:mod:`solver.network`). The verdicts mean what they say:

* ``injective``: proved on the whole input domain (R^n, or the non-negative
  orthant with ``domain="nonneg"``);
* ``injective_on_box``: proved on the box ``[-R, R]^n`` (``[0, R]^n`` for
  ``nonneg``) given by ``box=R``;
* ``not_injective``: exact rational ``z1 != z2`` with ``N(z1) == N(z2)``,
  checked through every layer and activation (:meth:`Network.check_witness`);
* ``unknown``: nothing proved (limits, or only a MILP that found nothing).

How (in this order)
-------------------
1. **Layerwise** (Corollary 1 of Puthawala et al.: injective layers compose
   to an injective network). The first layer is decided on the input
   domain; a later layer on the non-negative orthant when the previous
   activation is ReLU (Remark 1: its inputs are >= 0) or sigmoid (inputs
   in (0, 1)^n, inside the orthant), else on R^n (tanh: (-1, 1)^n).
   Deciding on a superset of the inputs' set is sound for ``injective``.
   ReLU layers: :func:`solver.check_layer` (R^n, certificate) and
   :func:`check_layer_nonneg` (orthant, certificate). Layers with a
   strictly increasing activation (leaky ReLU, identity, sigmoid, tanh):
   exact column rank (see :func:`decide_bijective_layer`).
2. **First-layer witness.** ``L1(z1) == L1(z2)`` gives ``N(z1) == N(z2)``.
3. **End to end**, when a later layer fails even on its restricted domain:
   the network may still be injective because the range of the earlier
   layers avoids the bad cells.

   * ``regions`` (small networks, sound both ways): enumerate the
     full-dimensional activation regions of N in the domain (every pruned
     branch proved empty exactly); on the closure of each region N is one
     affine map, and the closures cover the domain. For every pair of
     regions one LP asks for ``z1 != z2`` in the two closures with equal
     outputs; a positive answer is turned into an exact point and checked,
     a negative one is certified by exact LP duality (Farkas / bound
     multipliers re-derived in rational arithmetic and checked). So
     ``injective`` / ``injective_on_box`` from here are proofs.
   * ``milp`` (any size, witnesses only): two copies of N in one MILP over
     the box, big-M constants from bound propagation over the box
     (:mod:`solver.bounds`), ``||z1 - z2||_inf >= delta`` with binaries, equal
     outputs. A candidate is refined on the activation patterns it shows
     (an LP on the pair of closed regions, made exact) and checked exactly.
     A MILP that finds nothing proves nothing: it has solver tolerances, a
     box and a minimal separation; the verdict stays ``unknown`` and the
     message says what was searched. Default search box ``DEFAULT_BOX``
     (10), default ``delta = 1e-3 R``; a candidate whose patterns hold no
     exact pair is cut off and the MILP re-solved (5 rounds at most).

   Both run on the piecewise linear core: a sigmoid or tanh last layer is
   strictly increasing, so ``N(z1) = N(z2)`` iff its pre-activations are
   equal, and it is replaced by the identity (the verdict is unchanged);
   a sigmoid or tanh layer before the last one stops this step (named in
   the message: ``unknown``).

   With a box, a first-layer witness outside it is rescaled into it when the
   network has no biases (``N(t z) = t N(z)``); otherwise it answers the R^n
   question only, is kept in ``stats["witness_outside_box"]``, and the box
   question goes on to the end-to-end search.

Cost
----
Layer decisions are exponential in the worst case (coNP-complete). The
region method needs R regions and up to R(R+1)/2 pair questions (pairs whose
certified output intervals are disjoint are skipped): small networks only
(under ``method="auto"``: n <= 6, <= 64 hidden units, <= 400 regions).

References
----------
Puthawala, Kothari, Lassas, Dokmanić, de Hoop, *Globally injective ReLU
networks*, JMLR 2022: Theorem 1, Remark 1, Corollary 1.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Mapping

import flint
import numpy as np

from .deadline import Deadline
from . import exact, exactlp, lp
from .lp import highs_lp
from .errors import InputError
from .result import LayerResult, Verdict, Witness
from .activations import parse_activation
from .io import DENSE_MAX_ENTRIES
from .network import Network

DOMAINS = ("all", "nonneg")
DEFAULT_BOX = 10.0          # search box of the MILP when no --box is given
DEFAULT_DELTA_FRACTION = 1e-3   # MILP separation delta = fraction * R
MAX_REGIONS = 3000          # region enumeration gives up (unknown) beyond this
MILP_MAX_UNITS = 5000       # the two-copy MILP is not built for more units than this
MILP_MAX_BOUND = 1e9        # ... nor with pre-activation bounds larger than this
WITNESS_ONLY_SECONDS = 30.0  # first-layer witness search when nothing else can settle it

# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkResult:
    """Outcome of :func:`check_network`.

    Attributes
    ----------
    verdict : Verdict (``injective``, ``not_injective``, ``unknown``,
        ``injective_on_box``).
    witness : Witness or None; ``x1, x2`` are the network inputs ``z1, z2``
        (exact rationals), present iff ``not_injective``.
    method : what decided it (``layerwise``, ``first-layer``, ``regions``,
        ``milp``, ...).
    seconds, message : wall time, human-readable reason.
    layers : tuple of per-layer dicts ``{"index", "shape", "activation",
        "input_set", "domain", "verdict", "method", "proved", "seconds",
        "message"}``: ``input_set`` is the set the layer's inputs come from
        (text, e.g. ``R^20``, ``[0, inf)^400``, ``(0, 1)^64``), ``domain``
        the superset it was decided on (``all`` or ``nonneg``), ``proved``
        what was proved about it in words (None when nothing was).
    domain : ``"all"`` or ``"nonneg"``; box : the box R or None.
    layer_results : per layer the LayerResult (certificates, witnesses) or
        None when the layer was skipped; not part of ``to_json``.
    regions_proof : for ``injective`` / ``injective_on_box`` by the region
        method, its proof (JSON: the region tree with exact certificates for
        every pruned branch, and one certificate per pair of regions;
        checked by :mod:`solver.certificates.regions`); not part of
        ``to_json``.
    stats : counters.
    """
    verdict: Verdict
    witness: Witness | None
    method: str
    seconds: float
    message: str
    layers: tuple = ()
    domain: str = "all"
    box: float | None = None
    layer_results: tuple = field(default=(), repr=False)
    stats: Mapping[str, Any] = field(default_factory=dict)
    regions_proof: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.verdict is not Verdict.UNKNOWN

    def to_json(self) -> dict:
        w = None
        if self.witness is not None:
            j = self.witness.to_json()
            w = {"z1": j["x1"], "z2": j["x2"]}
        return {"verdict": self.verdict.value, "witness": w, "method": self.method,
                "seconds": round(self.seconds, 6), "message": self.message,
                "domain": self.domain, "box": self.box,
                "layers": [dict(L) for L in self.layers], "stats": dict(self.stats)}


# ---------------------------------------------------------------------------
# leaky-ReLU / identity layers
# ---------------------------------------------------------------------------


def decide_bijective_layer(W, b, activation, *, domain="all"):
    """Decide ``x -> act(W x + b)`` for a strictly increasing ``act``
    (identity, leaky ReLU with slope ``a > 0``, sigmoid, tanh), on R^n or on
    the orthant.

    Claim: injective iff ``W`` has full column rank (exact integer rank).
    Proof: ``act`` is strictly increasing (for the leaky ReLU, ``t -> t if
    t > 0 else a t``), so applied entrywise it is injective on R^m and the
    layer is injective on a set D iff the affine map ``x -> W x + b`` is
    injective on D. On R^n, and on the orthant (which has interior points
    x, with x + s v >= 0 for small s), that holds iff ``W v = 0`` has no
    solution ``v != 0``. The same holds on any set with an interior point,
    e.g. the open boxes ``(0, 1)^n`` and ``(-1, 1)^n`` after a sigmoid or
    tanh. A kernel vector v gives the exact witness ``(x, x + v)`` (x = 0
    on R^n, x = (1,..,1) scaled on the orthant): its pre-activations are
    equal, hence its outputs.

    Returns a LayerResult (no certificate object: the proof is the exact rank
    ``n``, recorded in ``stats``).

    Raises
    ------
    InputError when ``activation`` is relu (not strictly increasing).
    """
    activation = parse_activation(activation)
    if not activation.injective:
        raise InputError(f"decide_bijective_layer needs a strictly increasing activation, "
                         f"got {activation}")
    start = time.monotonic()
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    G, _ = exact.integer_rows(W, b)
    rows = [g[:n] for g in G]
    r = exact.rank(rows)
    if r == n:
        return LayerResult(Verdict.INJECTIVE, None, "rank", time.monotonic() - start,
                           f"{activation} is strictly increasing and W has full column rank "
                           f"{n} (exact)", m, n, None, {"rank": r})
    v = exact.kernel(rows, n)[0]
    return LayerResult(Verdict.NOT_INJECTIVE, Witness.of(_kernel_witness(W, b, v, domain)),
                       "rank", time.monotonic() - start,
                       f"W has rank {r} < {n}: a kernel vector moves x without changing W x + b",
                       m, n, None, {"rank": r})


def _kernel_witness(W, b, v, domain):
    """``(x, x + s v)`` for a kernel vector ``v`` of ``W``: equal
    pre-activations, hence equal outputs for any activation; ``x = 0`` on
    R^n, ``x = (1, .., 1)`` and ``s`` small enough to stay ``>= 0`` on the
    orthant. Checked exactly."""
    n = W.shape[1]
    v = [Fraction(c) for c in v]
    if domain == "nonneg":
        x1 = [Fraction(1)] * n
        s = min([Fraction(1)] + [Fraction(1) / -c for c in v if c < 0])
        x2 = [a + s * c for a, c in zip(x1, v)]
    else:
        x1 = [Fraction(0)] * n
        x2 = v
    # equal pre-activations give equal outputs for any activation
    if x1 == x2 or exact.layer_preactivations(W, b, x1) != exact.layer_preactivations(W, b, x2):
        raise AssertionError("kernel witness failed the exact check")  # W v = 0 exactly
    return x1, x2


def decide_large_layer(W, b, activation, *, domain="all"):
    """A sparse layer too large for the dense methods (the sign tree, exact
    rank by elimination): look for an exact kernel vector among columns
    with one shared row support (:func:`solver.exact.sparse_kernel_vector`);
    one gives a witness on the domain (:func:`_kernel_witness`), whatever
    the activation. Otherwise ``unknown``, naming the size.
    """
    start = time.monotonic()
    m, n = W.shape
    v = exact.sparse_kernel_vector(W)
    if v is not None:
        return LayerResult(Verdict.NOT_INJECTIVE, Witness.of(_kernel_witness(W, b, v, domain)),
                           "kernel", time.monotonic() - start,
                           "columns with a common support of fewer rows are dependent: an "
                           "exact kernel vector moves x without changing W x + b", m, n, None,
                           {"nnz": int(W.nnz)})
    what = ("the exact sign-tree search" if activation.is_relu
            else "the exact rank (fraction-free elimination)")
    extra = (f"; m = {m} < n = {n}, so rank W < n and it is not injective on a set with "
             "interior points, but no exact kernel vector was found"
             if m < n else "")
    return LayerResult(Verdict.UNKNOWN, None, "size", time.monotonic() - start,
                       f"too large: {what} needs the dense {m}x{n} matrix "
                       f"({m * n:,} entries, sparse layers above {DENSE_MAX_ENTRIES:,} are not "
                       f"densified){extra}", m, n, None, {"nnz": int(W.nnz)})


# ---------------------------------------------------------------------------
# ReLU layer on the non-negative orthant (Remark 1)
# ---------------------------------------------------------------------------
#
# Criterion. F(x) = ReLU(W x + b) is injective on D = {x >= 0} iff for every
# x in the OPEN orthant that is generic (no nonzero row vanishes) the rows
# positive at x span R^n.
# (<=) Take x1 != x2 in D with F(x1) = F(x2), d = x2 - x1. Rows positive at
# x1 keep their value, so w.d = 0; rows <= 0 at x1 are <= 0 at x2, hence on
# the whole segment (D is convex), and a row = 0 at x1 has w.d <= 0. Step to
# x = x1 + e d (small e): now every row is > 0 with w.d = 0, or < 0, or
# identically 0 on the segment (so w.d = 0). Any small perturbation x' of x
# keeps the nonzero signs, so taking x' generic and in the open orthant
# (x + s(1,..,1) is > 0), the rows positive at x' are all orthogonal to d.
# (=>) If the positive rows at a generic interior x lie in v-perp, v != 0,
# then x and x + s v (s > 0 small: stays >= 0, rows not orthogonal to v stay
# negative) have the same image.
# So the sign-tree search of solver.search applies with the extra constraints
# x_j > 0, which restrict the sign patterns but never count as positive rows.


# shared with the sign-tree search: control flow and witness rounding
from .search import SearchStopped, WitnessFound  # noqa: E402
from .witness import rational_candidates, simple_rational_below  # noqa: E402


class _OrthantTree:
    def __init__(self, W, b, deadline, max_nodes):
        self.W, self.b = W, b
        self.m, self.n = W.shape
        m, n = self.m, self.n
        self.G, self.scales = exact.integer_rows(W, b)
        Wb = np.hstack([W, b[:, None]])
        norms = np.linalg.norm(Wb, axis=1)
        norms[norms == 0] = 1.0
        self.F = Wb / norms[:, None]
        Faug = np.vstack([self.F, np.hstack([np.eye(n), np.zeros((n, 1))])])
        self.Faug = Faug
        self.orth = [(m + j, 1) for j in range(n)]
        self.orth_int = [[-1 if k == j else 0 for k in range(n)] + [0] for j in range(n)]
        self.nonzero = [i for i in range(m) if any(self.G[i][:n])]
        wn = np.linalg.norm(W, axis=1)
        wn[wn == 0] = 1.0
        self.Wunit = W / wn[:, None]
        self.deadline, self.max_nodes = deadline, max_nodes
        self.stats = {"nodes": 0, "lps": 0, "exact_lps": 0,
                      "leaves": {"basis": 0, "gordan": 0, "hyperplane": 0}}
        self.lp = lp.PersistentSignLP(Faug)

    def _lp(self, signed):
        self.stats["lps"] += 1
        return self.lp.solve(signed + self.orth)

    def _Gi(self, signed):
        return [[-s * c for c in self.G[i]] for i, s in signed] + self.orth_int

    def _cert(self, signed, mult):
        """mult: {index into signed + orthant rows: positive value}."""
        k = len(signed)
        y = [[signed[t][0], str(Fraction(v) * self.scales[signed[t][0]])]
             for t, v in sorted(mult.items()) if t < k and v != 0]
        yx = [[t - k, str(Fraction(v))] for t, v in sorted(mult.items()) if t >= k and v != 0]
        return y, yx

    def _settle(self, signed, feas, y):
        Gi = self._Gi(signed)
        if feas is False and y is not None:
            cert = lp.exact_gordan(Gi, y)
            if cert is not None:
                return self._cert(signed, cert), None
        self.stats["exact_lps"] += 1
        status, v = exactlp.strict_feasibility(Gi)
        if status == "infeasible":
            Y, _ = exact.common_denominator(v)
            return self._cert(signed, {t: Y[t] for t in range(len(Y)) if Y[t] != 0}), None
        return None, v

    def _strict_at(self, z, signed):
        if z is None:
            return False
        vals = np.array([s * (self.Faug[i] @ z) for i, s in signed + self.orth])
        scale = max(1.0, float(np.max(np.abs(z))))
        return bool(z[-1] > 0 and np.all(vals > 1e-7 * scale))

    def witness(self, v, x):
        """Exact pair in the orthant from a kernel vector v of the positive
        rows and a candidate interior point x where every row not
        orthogonal to v is negative."""
        n = self.n
        if not any(v):
            return None
        wv = [exact.dot(g[:n], v) for g in self.G]
        for X in rational_candidates(x):
            if any(c <= 0 for c in X):
                continue
            ok, alpha = True, None
            for g, gv in zip(self.G, wv):
                if gv == 0:
                    continue
                val = exact.dot(g[:n], X) + g[n]
                if val >= 0:
                    ok = False
                    break
                if gv > 0:
                    a = Fraction(-val) / gv
                    alpha = a if alpha is None or a < alpha else alpha
            if not ok:
                continue
            for xj, vj in zip(X, v):
                if vj < 0:
                    a = xj / -vj
                    alpha = a if alpha is None or a < alpha else alpha
            alpha = simple_rational_below(Fraction(1) if alpha is None else alpha)
            X2 = [a + alpha * c for a, c in zip(X, v)]
            good, _ = exact.check_layer_witness(self.W, self.b, X, X2)
            if good and all(c >= 0 for c in X2):
                return list(X), X2
        return None

    def _tick(self):
        self.stats["nodes"] += 1
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SearchStopped("time_limit")
        if self.max_nodes is not None and self.stats["nodes"] > self.max_nodes:
            raise SearchStopped("max_nodes")

    def node(self, sigma, basis, z_hint):
        self._tick()
        n = self.n
        signed = list(sigma.items())
        z = z_hint if self._strict_at(z_hint, signed) else None
        if z is None:
            feas, z, y = self._lp(signed)
            if not feas:
                cert, zx = self._settle(signed, feas, y)
                if cert is not None:
                    self.stats["leaves"]["gordan"] += 1
                    return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
                z = np.array([float(c) for c in zx])
        if len(basis) == n:
            self.stats["leaves"]["basis"] += 1
            return {"leaf": "basis", "rows": list(basis)}
        unassigned = [j for j in self.nonzero if j not in sigma]
        if len(basis) == n - 1:
            normal = exact.kernel([self.G[i][:n] for i in basis], n)[0]
            U = [j for j in unassigned if exact.dot(self.G[j][:n], normal) != 0]
        else:
            normal = None
            if basis and unassigned:
                Q, _ = np.linalg.qr(self.W[basis].T)
                R = self.Wunit[unassigned] - (self.Wunit[unassigned] @ Q) @ Q.T
                res = np.linalg.norm(R, axis=1)
                U = [j for j, r in zip(unassigned, res) if r > 1e-9]
            else:
                U = list(unassigned)
        full = signed + [(j, -1) for j in U]
        feas2, z2, y2 = self._lp(full)
        v = normal if normal is not None else exact.kernel([self.G[i][:n] for i in basis], n)[0]
        if feas2:
            w = self.witness(v, z2[:n] / z2[n])
            if w is not None:
                raise WitnessFound(w)
        if not feas2 and (normal is not None or not U):
            cert, zx = self._settle(full, feas2, y2)
            if cert is not None:
                if normal is not None:
                    self.stats["leaves"]["hyperplane"] += 1
                    return {"leaf": "hyperplane", "rows": list(basis),
                            "normal": [str(c) for c in normal], "y": cert[0], "yx": cert[1]}
                self.stats["leaves"]["gordan"] += 1
                return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
            feas2, y2 = True, None
            z2 = np.array([float(c) for c in zx])
            w = self.witness(v, [zx[i] / zx[n] for i in range(n)])
            if w is not None:
                raise WitnessFound(w)
        elif feas2 and not U:
            cert, zx = self._settle(full, None, None)
            if cert is not None:
                self.stats["leaves"]["gordan"] += 1
                return {"leaf": "gordan", "y": cert[0], "yx": cert[1]}
            w = self.witness(v, [zx[i] / zx[n] for i in range(n)])
            if w is not None:
                raise WitnessFound(w)
        cands = U if U else unassigned
        if not cands:
            raise SearchStopped("numerical: a sign pattern could be neither closed nor turned "
                                "into a witness")
        if feas2 is False and y2 is not None and U:
            k = len(signed)
            j = cands[max(range(len(U)), key=lambda t: y2[k + t])]
        elif feas2 and z2 is not None:
            j = max(cands, key=lambda t: self.F[t] @ z2)
        else:
            j = cands[0]
        out = {"branch": j}
        for key, s in (("pos", 1), ("neg", -1)):
            child = dict(sigma)
            child[j] = s
            cb = basis
            if s == 1 and exact.rank([self.G[i][:n] for i in basis] + [self.G[j][:n]]) == len(basis) + 1:
                cb = basis + [j]
            out[key] = self.node(child, cb, z2 if (s == -1 and feas2) else z)
        return out


from .certificates.nonneg import NONNEG_FORMAT, check_nonneg_certificate  # noqa: E402,F401


def check_layer_nonneg(W, b=None, *, time_limit=None, max_nodes=None) -> LayerResult:
    """Decide whether ``x -> ReLU(W x + b)`` is injective on ``{x >= 0}``.

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None.
    time_limit : seconds or None (``unknown`` when hit); max_nodes : budget.

    Returns
    -------
    LayerResult: ``not_injective`` with an exact witness ``x1 != x2``, both
    ``>= 0``; ``injective`` with a certificate (format
    ``reluinj.certificate.nonneg``) accepted by
    :func:`check_nonneg_certificate`; or ``unknown``.

    Notes
    -----
    Criterion (proved in the comment above ``_OrthantTree``): injective on the
    orthant iff the positive rows span R^n at every generic point of the open
    orthant. The search is the sign tree of :mod:`solver.search` with the
    constraints ``x_j > 0`` added to every sign system; they may appear in
    Gordan multipliers (``yx``) but never count as spanning rows.
    Exponential worst case, like the unrestricted problem.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, Remark 1.

    Examples
    --------
    >>> import numpy as np
    >>> check_layer_nonneg(np.eye(2)).verdict.value   # ReLU(x) = x on x >= 0
    'injective'
    >>> check_layer_nonneg(np.array([[1.0, -1.0]])).verdict.value
    'not_injective'
    """
    from .io import validate_layer
    W, b = validate_layer(W, b)
    start = time.monotonic()
    m, n = W.shape
    deadline = Deadline.after(time_limit, start).at
    T = _OrthantTree(W, b, deadline, max_nodes)

    def done(verdict, wit, msg, cert=None):
        return LayerResult(Verdict(verdict), Witness.of(wit), "orthant-sign-tree",
                           time.monotonic() - start, msg, m, n, cert, dict(T.stats))

    rows = [g[:n] for g in T.G]
    if exact.rank(rows) < n:
        v = exact.kernel(rows, n)[0]
        w = T.witness(v, [1.0] * n)
        if w is not None:
            return done("not_injective", w, "W has rank < n")
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * m + 1000))
    try:
        tree = T.node({}, [], None)
    except WitnessFound as f:
        return done("not_injective", f.witness,
                    "the positive rows at a point of the open orthant are rank-deficient")
    except SearchStopped as s:
        return done("unknown", None, s.reason)
    finally:
        sys.setrecursionlimit(old)
    from .certificates import checker
    cert = {"format": NONNEG_FORMAT, "version": 1, "claim": "injective_on_nonneg",
            "m": m, "n": n, "layer_sha256": checker.layer_fingerprint(W, b),
            "method": "orthant-sign-tree", "tree": tree}
    ok, why = check_nonneg_certificate(W, b, cert)
    if not ok:  # a bug, never a verdict
        return done("unknown", None, f"internal: certificate rejected by its checker: {why}")
    return done("injective", None, "every sign pattern of the open orthant closed", cert)


# ---------------------------------------------------------------------------
# exact linear algebra helpers (rationals; python-flint for elimination)
# ---------------------------------------------------------------------------


def _fq(v):
    v = Fraction(v)
    return flint.fmpq(v.numerator, v.denominator)


def _qf(v):
    return Fraction(int(v.p), int(v.q))


def _int_row(vals):
    """Positive multiple of a rational vector with integer entries."""
    vals = [Fraction(v) for v in vals]
    den = 1
    for v in vals:
        den = den * v.denominator // math.gcd(den, v.denominator)
    return [int(v * den) for v in vals]


def _solve_near(rows, rhs, guide):
    """An exact solution of ``rows . x = rhs`` (rationals), with the free
    variables of the row echelon form set to the exact binary64 values of
    ``guide``. Returns a list of Fractions or None if inconsistent."""
    nv = len(guide)
    if not rows:
        return [Fraction(float(g)) for g in guide]
    k = len(rows)
    M = flint.fmpq_mat(k, nv + 1, [_fq(v) for r, c in zip(rows, rhs) for v in list(r) + [c]])
    R, rank = M.rref()
    x = [None] * nv
    pivots = []
    for r in range(rank):
        c = next(j for j in range(nv + 1) if R[r, j] != 0)
        if c == nv:
            return None
        pivots.append((r, c))
    pcols = {c for _, c in pivots}
    for j in range(nv):
        if j not in pcols:
            x[j] = Fraction(float(guide[j]))
    for r, c in pivots:
        val = _qf(R[r, nv])
        for j in range(nv):
            if j not in pcols and R[r, j] != 0:
                val -= _qf(R[r, j]) * x[j]
        x[c] = val
    return x


def _exact_combination(vectors, nonneg, target, guide, support_weights, tol=1e-9):
    """Exact multipliers ``y`` with ``sum_k y_k vectors[k] == target`` and
    ``y_k >= 0`` where ``nonneg[k]``, near the float ``guide``, on the support
    of ``support_weights`` (the LP's duals for its normalised rows: on the
    scale of the integer rows the guide's magnitudes are meaningless).
    Returns ``{k: Fraction}`` (verified) or None."""
    g = np.asarray(guide, dtype=np.float64)
    w = np.abs(np.asarray(support_weights, dtype=np.float64))
    if g.size == 0 or not np.all(np.isfinite(g)) or not np.all(np.isfinite(w)):
        return None
    top = float(np.max(w)) if w.size else 0.0
    if top == 0:
        return None
    S = [k for k in range(len(vectors)) if w[k] > tol * top]
    dim = len(target)
    rows = [[vectors[k][r] for k in S] for r in range(dim)]
    y = _solve_near(rows, list(target), [g[k] for k in S])
    if y is None:
        return None
    out = {}
    for k, v in zip(S, y):
        if nonneg[k] and v < 0:
            return None
        if v != 0:
            out[k] = v
    for r in range(dim):  # re-check exactly
        if sum((v * vectors[k][r] for k, v in out.items()), Fraction(0)) != target[r]:
            return None
    return out


def _strict_system(G):
    """:func:`solver.lp.strict_system` on :func:`highs_lp` (same contract)."""
    F = np.asarray(G, dtype=np.float64)
    norms = np.linalg.norm(F, axis=1)
    norms[norms == 0] = 1.0
    F = F / norms[:, None]
    k, n1 = F.shape
    t_row = np.zeros(n1)
    t_row[-1] = -1.0
    A = np.hstack([np.vstack([F, t_row]), -np.ones((k + 1, 1))])
    c = np.zeros(n1 + 1)
    c[-1] = 1.0
    lb = np.full(n1 + 1, -np.inf)
    lb[-1] = 0.0
    ok, x, dual = highs_lp(c, A, np.full(k + 1, -np.inf), -np.ones(k + 1), lb)
    if not ok:
        return None, None, None
    if x[-1] <= 1e-9:
        return True, x[:n1], None
    return False, x[:n1], -dual


def _scaled_floats(rows):
    """Float copies of exact rows (ints or Fractions) and the positive factor
    each was divided by (its largest entry in absolute value, a float, inf
    if beyond binary64): ``out[i] = rows[i] / top[i]`` with entries in
    [-1, 1]. Signs and directions are unchanged, and binary64 cannot
    overflow (rows of huge or tiny binary64 weights scale to integers far
    beyond 2^1024). The floats only guide LPs; every conclusion is exact."""
    k = len(rows)
    width = len(rows[0]) if k else 0
    out, top = np.zeros((k, width)), np.ones(k)
    for i, r in enumerate(rows):
        t = max((abs(v) for v in r), default=0)
        if t:
            out[i] = [float(Fraction(v) / t) for v in r]
            try:
                top[i] = float(t)
            except OverflowError:
                top[i] = np.inf
    return out, top


def _strict_point(rows, tol=1e-7):
    """Strict homogeneous system ``rows . (z, t) < 0, t > 0`` (integer rows).
    Returns ``("feasible", float z or None)``, ``("infeasible", y)`` with
    exact Gordan multipliers ``y`` ({row index: positive rational}, ``sum
    y_k rows[k][:n] = 0``, ``sum y_k rows[k][n] >= 0``), or ``("feasible",
    z)`` from the exact simplex."""
    if not rows:
        return "feasible", None
    G, _ = _scaled_floats(rows)
    feas, z, y = _strict_system(G)
    if feas:
        return "feasible", z
    if feas is False and y is not None:
        cert = lp.exact_gordan(rows, y)
        if cert is not None:
            return "infeasible", cert
    status, zx = exactlp.strict_feasibility([list(r) for r in rows])
    if status == "infeasible":
        return "infeasible", {k: v for k, v in enumerate(zx) if v != 0}
    return "feasible", np.array([float(c) for c in zx])


def _cert_json(y):
    """``{index: rational}`` as a JSON list ``[[index, "p/q"], ...]``."""
    return [[int(k), exact.fmt_rational(v)] for k, v in sorted(y.items()) if v != 0]


# ---------------------------------------------------------------------------
# end to end, exact: activation regions and pairs of regions
# ---------------------------------------------------------------------------


@dataclass
class _Region:
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


def _domain_rows(n, domain, box):
    rows = []
    if box is not None:
        R = Fraction(float(box))
        for j in range(n):
            e = [0] * n
            e[j] = 1
            rows.append(_int_row(e + [-R]))            # z_j < R
            if domain != "nonneg":
                rows.append(_int_row([-c for c in e] + [-R]))   # -z_j < R
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
        self.dom = _domain_rows(self.n, domain, box)
        self.deadline = deadline
        self.max_regions = max_regions
        self.regions = []
        self.lps = 0
        self.pruned = 0

    def _check_time(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SearchStopped("time_limit")

    def run(self):
        n = self.n
        status, z = _strict_point(self.dom)
        if status == "infeasible":
            self.tree = {"empty": _cert_json(z)}
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
            self.regions.append(_Region(pattern, rows, M, d, hint))
            if len(self.regions) > self.max_regions:
                raise SearchStopped(f"more than {self.max_regions} activation regions")
            return {"region": len(self.regions) - 1}
        Wq, bq, slope = self.layers[k]
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
        r = _int_row(list(g) + [c])
        rf = _scaled_floats([r])[0][0]
        nrm = np.linalg.norm(rf[:-1])
        val = None if (hint is None or nrm == 0) else float(rf @ hint) / nrm
        scale = 1.0 if hint is None else max(1.0, float(np.max(np.abs(hint))))
        order = (1, -1) if (val is not None and val > 0) else (-1, 1)
        node = {"unit": [k, i]}
        for s in order:
            row = [-s * v for v in r]
            if val is not None and -s * val < -1e-7 * scale:
                child_hint = hint
            else:
                self.lps += 1
                status, z = _strict_point(rows + [row])
                if status == "infeasible":
                    self.pruned += 1
                    node["pos" if s > 0 else "neg"] = {"empty": _cert_json(z)}
                    continue
                child_hint = z
            node["pos" if s > 0 else "neg"] = self._unit(
                k, i + 1, preM, pred, slope, signs + [s], rows + [row], pattern, child_hint)
        return node


class PairDecider:
    """For two regions, decide whether their closures hold ``z1 != z2`` with
    equal outputs. Float LPs (HiGHS) guide; every conclusion is exact:
    a point is rebuilt in rationals and checked through the network, an
    empty set or a bound ``+-(z1_j - z2_j) <= 0`` is certified by exact
    multipliers (Farkas / LP duality) recomputed on the LP's dual support."""

    def __init__(self, network, n):
        self.net = network
        self.n = n
        self.lps = 0

    def _system(self, ra, rb):
        n = self.n
        A, a = [], []
        for r in ra.rows:
            A.append(list(r[:n]) + [0] * n)
            a.append(-r[n])
        for r in rb.rows:
            A.append([0] * n + list(r[:n]))
            a.append(-r[n])
        E, e = [], []
        Ma, da, Da = ra.integer_map()
        Mb, db, Db = rb.integer_map()
        for o in range(len(Ma)):
            # (Ma z1 + da)/Da == (Mb z2 + db)/Db, times Da*Db
            row = [v * Db for v in Ma[o]] + [-v * Da for v in Mb[o]]
            rhs = db[o] * Da - da[o] * Db
            if not any(row):
                if rhs != 0:
                    return None      # constant outputs differ: no pair at all
                continue
            g = math.gcd(*row, rhs)
            E.append([v // g for v in row])
            e.append(rhs // g)
        return A, a, E, e

    @staticmethod
    def _floats(rows, rhs):
        if not rows:
            return np.zeros((0, 0)), np.zeros(0), np.zeros(0)
        G, top = _scaled_floats([list(r) + [c] for r, c in zip(rows, rhs)])
        F, f = G[:, :-1], G[:, -1]
        nu = np.linalg.norm(F, axis=1)
        nu[nu == 0] = 1.0
        with np.errstate(over="ignore"):
            return F / nu[:, None], f / nu, nu * top

    def decide(self, ra, rb):
        """Returns ``("witness", (z1, z2))``, ``("none", why, certificate)``
        or ``("uncertified", why)``. The certificate (JSON, checked by
        :mod:`solver.certificates.regions`) is ``{"kind": "constant"}``,
        ``{"kind": "farkas", "y": ...}`` (multipliers over the rows of
        :meth:`_system`: A rows, then E rows) or ``{"kind": "bounds",
        "dirs": [[j, sign, y], ...]}`` (``sign (z1_j - z2_j) <= 0``)."""
        n = self.n
        sysm = self._system(ra, rb)
        if sysm is None:
            return "none", "outputs are different constants", {"kind": "constant"}
        A, a, E, e = sysm
        nv = 2 * n
        Af, af, nuA = self._floats(A, a)
        Ef, ef, nuE = self._floats(E, e)
        kA, kE = len(A), len(E)
        if kA == 0:
            Af = np.zeros((0, nv))
        if kE == 0:
            Ef = np.zeros((0, nv))
        # phase 1: min s  s.t.  A u - s <= a,  |E u - e| <= s
        Aub = np.vstack([np.hstack([Af, -np.ones((kA, 1))]),
                         np.hstack([Ef, -np.ones((kE, 1))]),
                         np.hstack([-Ef, -np.ones((kE, 1))])])
        bub = np.concatenate([af, ef, -ef])
        cost = np.zeros(nv + 1)
        cost[-1] = 1.0
        self.lps += 1
        lb = np.full(nv + 1, -np.inf)
        lb[-1] = 0.0
        ok, x1, dual = highs_lp(cost, Aub, np.full(len(bub), -np.inf), bub, lb)
        if not ok:
            return "uncertified", "phase-1 LP failed"
        vectors = [list(A[k]) + [a[k]] for k in range(kA)] + [list(E[k]) + [e[k]] for k in range(kE)]
        nonneg = [True] * kA + [False] * kE
        if x1[-1] > 1e-9:
            yd = -dual
            wn = np.concatenate([yd[:kA], yd[kA:kA + kE] - yd[kA + kE:]])
            guide = np.concatenate([yd[:kA] / nuA if kA else [],
                                    (yd[kA:kA + kE] - yd[kA + kE:]) / nuE if kE else []])
            bound = float(np.dot(wn, np.concatenate([af, ef])))
            if bound < 0:
                y = _exact_combination(vectors, nonneg, [0] * nv + [-1], guide / -bound, wn)
                if y is not None:
                    return ("none", "closures with equal outputs are empty (exact Farkas)",
                            {"kind": "farkas", "y": _cert_json(y)})
            return "uncertified", "phase-1 LP says empty, no exact Farkas certificate"
        pending = None
        bounds = []
        for j in range(n):
            for sg in (1, -1):
                dvec = [0] * nv
                dvec[j], dvec[n + j] = sg, -sg
                dv = np.array(dvec, dtype=float)
                self.lps += 1
                Afull = np.vstack([Af, dv[None, :], Ef])
                ok, xu, dual = highs_lp(-dv, Afull,
                                        np.concatenate([np.full(kA + 1, -np.inf), ef]),
                                        np.concatenate([af, [1.0], ef]))
                if not ok:
                    pending = pending or "a direction LP failed"
                    continue
                val = float(dv @ xu)
                if val > 1e-9:
                    u = self._exact_point(A, a, E, e, Af, af, xu, dvec)
                    if u is not None:
                        z1, z2 = u[:n], u[n:]
                        ok, _ = self.net.check_witness(z1, z2)
                        if ok:
                            return "witness", (z1, z2)
                if val < 1e-7:
                    y = self._bound_certified(A, a, E, e, vectors, nonneg, dvec, dual, nuA, nuE)
                    if y is not None:
                        bounds.append([j, sg, _cert_json(y)])
                        continue
                pending = pending or (f"direction {j}{'+' if sg > 0 else '-'}: LP value "
                                      f"{val:.3g} neither certified nor realised")
        if pending:
            return "uncertified", pending
        return ("none", "every pair in the closures has z1 == z2 (exact LP duality)",
                {"kind": "bounds", "dirs": bounds})

    @staticmethod
    def _bound_certified(A, a, E, e, vectors, nonneg, dvec, dual, nuA, nuE):
        """Exact ``mu >= 0, nu`` with ``A^T mu + E^T nu = d`` and
        ``a.mu + e.nu <= 0``, so ``d.u <= 0`` on the whole polyhedron. The
        LP's duals give the support; first with the bound pinned to 0 (the
        usual case: the closures meet on the diagonal), then free. Returns
        the multipliers ``{row: rational}`` (A rows, then E rows) or None."""
        kA = len(A)
        mu = -dual[:kA]
        nu = -dual[kA + 1:]
        wn = np.concatenate([mu, nu])
        if not np.any(wn):
            return None
        guide = np.concatenate([mu / nuA if kA else [], nu / nuE if len(E) else []])
        y = _exact_combination(vectors, nonneg, dvec + [0], guide, wn)
        if y is not None:
            return y
        coeffs = [v[:-1] for v in vectors]
        y = _exact_combination(coeffs, nonneg, dvec, guide, wn)
        if y is None:
            return None
        rhs = [v[-1] for v in vectors]
        return y if sum((val * rhs[k] for k, val in y.items()), Fraction(0)) <= 0 else None

    def _exact_point(self, A, a, E, e, Af, af, u, dvec):
        """An exact point of ``{A u <= a, E u = e}`` with ``dvec . u > 0``
        near the float LP optimum ``u``: rows tight at ``u`` become
        equations, free coordinates keep ``u``'s binary64 values."""
        slack = af - Af @ u if len(af) else np.zeros(0)
        for tol in (1e-9, 1e-7, 1e-5):
            T = [k for k in range(len(A)) if slack[k] <= tol]
            x = _solve_near([A[k] for k in T] + E, [a[k] for k in T] + e, u)
            if x is None:
                continue
            if all(exact.dot(A[k], x) <= a[k] for k in range(len(A))) and \
                    exact.dot(dvec, x) > 0:
                return x
        return None

    def same_region(self, r):
        """A region paired with itself: its closure holds a pair iff the
        output map has a kernel (the region is open and nonempty). Returns
        like :meth:`decide`, or None to fall back to the generic LP."""
        n = self.n
        rows = [_int_row(row) for row in r.M]
        if exact.rank(rows) == n:
            return "none", "output map of the region has full column rank", {"kind": "rank"}
        v = [Fraction(c) for c in exact.kernel(rows, n)[0]]
        cands = []
        if r.hint is not None and r.hint[-1] > 0:
            cands += rational_candidates(r.hint[:n] / r.hint[n])
        status, zx = exactlp.strict_feasibility([list(q) for q in r.rows]) if r.rows \
            else ("feasible", [Fraction(0)] * n + [Fraction(1)])
        if status == "feasible":
            cands.append([Fraction(zx[i]) / Fraction(zx[n]) for i in range(n)])
        for z in cands:
            vals = [exact.dot(q[:n], z) + q[n] for q in r.rows]
            if any(x >= 0 for x in vals):
                continue
            t = Fraction(1)
            for q, x in zip(r.rows, vals):
                qv = exact.dot(q[:n], v)
                if qv > 0:
                    t = min(t, -x / qv)
            z2 = [zi + t * vi for zi, vi in zip(z, v)]
            ok, _ = self.net.check_witness(z, z2)
            if ok:
                return "witness", (z, z2)
        return None


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
            G, top = _scaled_floats([q + [c] for q, c in zip(A, a)])
            Af, af = G[:, :-1], G[:, -1]
            nu = np.linalg.norm(Af, axis=1)
            nu[nu == 0] = 1.0
            Af, af = Af / nu[:, None], af / nu
            with np.errstate(over="ignore"):
                nu = nu * top
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
                ok, _, dual = highs_lp(-_scaled_floats([ws])[0][0], Af,
                                       np.full(len(af), -np.inf), af)
                if not ok:
                    ends.append(None)
                    continue
                mu = -dual
                y = _exact_combination(A, [True] * len(A), ws, mu / nu, mu)
                if y is None:
                    ends.append(None)
                    continue
                ends.append(sum((v * a[k] for k, v in y.items()), Fraction(0)))
                ec[-1] = _cert_json(y)
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
            if deadline is not None and time.monotonic() > deadline:
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
                if deadline is not None and time.monotonic() > deadline:
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

    The affine maps are composed with python-flint rational matrices (C
    speed; the shared 784 x 60 decoder layer takes ~0.1 s instead of ~10 s
    with Fractions); the results are the same exact rationals."""
    n = network.n_in
    rows = list(_domain_rows(n, domain, box))
    M = flint.fmpq_mat(n, n)
    for j in range(n):
        M[j, j] = 1
    d = flint.fmpq_mat(n, 1)
    pat = []
    for L, p in zip(network.layers, pattern):
        Wd = L.W.toarray() if hasattr(L.W, "toarray") else L.W
        G, scales = exact.integer_rows(Wd, L.b)
        m = len(G)
        Gm = flint.fmpq_mat([g[:-1] for g in G])
        inv = flint.fmpq_mat(m, m)
        for i, sc in enumerate(scales):
            inv[i, i] = flint.fmpq(1, sc)
        bq = flint.fmpq_mat([[flint.fmpq(g[-1], sc)] for g, sc in zip(G, scales)])
        preM = inv * (Gm * M)
        pred = inv * (Gm * d) + bq
        if L.activation.is_identity:
            M, d = preM, pred
            pat.append(())
            continue
        slope = Fraction(L.activation.slope)
        signs = [1 if bool(a) else -1 for a in p]
        # [preM | pred] times one common positive denominator: integer rows
        # with the sign pattern's half-spaces (gcd-reduced)
        Nm, _ = flint.fmpq_mat(m, n + 1, [v for i in range(m) for v in
                                          [preM[i, j] for j in range(n)] + [pred[i, 0]]]
                               ).numer_denom()
        D = flint.fmpq_mat(m, m)
        for i, sg in enumerate(signs):
            r = [int(Nm[i, j]) for j in range(n + 1)]
            if any(r[:n]):
                g = math.gcd(*r)
                rows.append([-sg * v // g for v in r])
            elif sg * r[n] < 0:
                rows.append([0] * n + [1])   # 0 < 0 is false: empty region
            D[i, i] = 1 if sg > 0 else _fq(slope)
        M, d = D * preM, D * pred
        pat.append(tuple(signs))
    Mq = [[_qf(M[i, j]) for j in range(n)] for i in range(M.nrows())]
    dq = [_qf(d[i, 0]) for i in range(d.nrows())]
    return _Region(tuple(pat), rows, Mq, dq, None)


def search_pair_milp(network, *, box, domain="all", delta=None, backend=None,
                     time_limit=None, tighten=True, max_rounds=5):
    """Two copies of the network in one MILP over the box: ``N(z1) = N(z2)``,
    ``z1_j - z2_j >= delta`` for some j (binaries; by symmetry one side
    suffices). Big-M constants from :func:`solver.bounds.propagate_bounds`
    over the box. A solution is only a hint: its two activation patterns
    are re-solved exactly (:class:`PairDecider`) and the pair is checked
    through the network in rational arithmetic. A candidate whose patterns
    hold no exact pair is cut off (no-good cut on the binaries) and the MILP
    solved again, ``max_rounds`` times at most.

    Returns ``(witness_pair or None, info dict)``. Never proves injectivity.
    """
    from .bounds import propagate_bounds
    from .netmilp import MilpBuilder, encode_network, solve_model
    start = time.monotonic()
    n = network.n_in
    R = float(box)
    lo = np.zeros(n) if domain == "nonneg" else np.full(n, -R)
    hi = np.full(n, R)
    delta = float(delta if delta is not None else DEFAULT_DELTA_FRACTION * R)
    info = {"milp_box": R, "milp_delta": delta}
    bstats = {}
    left = None if time_limit is None else max(1.0, 0.3 * time_limit)
    with np.errstate(all="ignore"):
        bounds = propagate_bounds(network, lo, hi, tighten=tighten, time_limit=left,
                                  stats=bstats)
    info["bound_lps"] = bstats.get("lps", 0)
    top = max(float(np.max(np.abs(np.concatenate([bl, bh])))) for bl, bh in bounds)
    if not top <= MILP_MAX_BOUND:
        info["milp_error"] = (f"the two-copy MILP was not run: pre-activation bounds up to "
                              f"{top:.3g} over the box (above {MILP_MAX_BOUND:g}, solver "
                              "tolerances are meaningless)")
        return None, info
    B = MilpBuilder()
    e1 = encode_network(B, network, bounds, box=(lo, hi), prefix="a_")
    e2 = encode_network(B, network, bounds, box=(lo, hi), prefix="b_")
    B.add_rows([(1.0, e1.post[-1]), (-1.0, e2.post[-1])], 0.0, 0.0)
    width = hi - lo
    p = B.add_binaries(n)
    # z1_j - z2_j >= delta p_j - width_j (1 - p_j)
    B.add_rows([(1.0, e1.z), (-1.0, e2.z), (-(delta + width), p)], -width, np.inf)
    B.add_row(p, np.ones(n), 1.0, np.inf)
    info.update(B.stats())
    pd = PairDecider(network, n)
    bins = np.concatenate([b[b >= 0] for b in e1.binaries + e2.binaries]).astype(int)
    info["milp_rounds"] = 0
    info["milp_seconds"] = 0.0
    for _ in range(max_rounds):
        remaining = None if time_limit is None else time_limit - (time.monotonic() - start)
        if remaining is not None and remaining <= 0.5:
            break
        sol, name = solve_model(B.build(), backend, time_limit=remaining)
        info["milp_rounds"] += 1
        info.update(milp_backend=name, milp_status=str(getattr(sol.status, "value", sol.status)))
        info["milp_seconds"] = round(info["milp_seconds"] +
                                     float(getattr(sol, "seconds", 0.0) or 0.0), 6)
        if sol.x is None:
            return None, info
        x = np.asarray(sol.x)
        ra = region_of_pattern(network, e1.decode_pattern(x), domain, box)
        rb = region_of_pattern(network, e2.decode_pattern(x), domain, box)
        out = pd.decide(ra, rb)
        info["milp_candidate"] = out[0]
        if out[0] == "witness":
            return out[1], info
        if not len(bins):
            break
        # no-good cut: this pair of activation patterns holds no exact pair
        on = np.asarray(x)[bins] > 0.5
        B.add_row(bins, np.where(on, -1.0, 1.0), 1.0 - float(on.sum()), np.inf)
    return None, info


# ---------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------


def _domain_text(domain, n):
    return f"R^{n}" if domain == "all" else f"[0, inf)^{n}"


def _input_set(network, k, domain, box):
    """The set layer ``k``'s inputs come from, as text: the (boxed) input
    domain for the first layer, the range of the previous activation after."""
    n = network.layers[k].W.shape[1]
    if k > 0:
        return network.layers[k - 1].activation.output_set(n)
    if box is not None:
        return f"[{'0' if domain == 'nonneg' else f'{-box:g}'}, {box:g}]^{n}"
    return _domain_text(domain, n)


def _layer_report(k, L, domain, res, input_set, skipped=False):
    """One entry of ``NetworkResult.layers``: what was decided about layer
    ``k`` and on which set. ``domain`` is where it was decided (``all`` or
    ``nonneg``, a superset of ``input_set``, the set its inputs come
    from); ``proved`` says in words what was proved, or is None."""
    m, n = L.W.shape
    base = {"index": k, "shape": [m, n], "activation": str(L.activation),
            "input_set": input_set, "domain": domain}
    if skipped:
        return {**base, "verdict": "skipped", "method": None, "seconds": 0.0, "proved": None,
                "message": "not needed: the network verdict was already settled"}
    proved = None
    if res.verdict is Verdict.INJECTIVE:
        proved = f"injective on {_domain_text(domain, n)}"
    elif res.verdict is Verdict.NOT_INJECTIVE:
        proved = f"not injective on {_domain_text(domain, n)} (exact witness)"
    elif getattr(res, "proved", None):
        proved = res.proved
    return {**base, "verdict": res.verdict.value, "method": res.method, "proved": proved,
            "seconds": round(res.seconds, 6), "message": res.message}


def _homogeneous(network):
    """``N(t z) = t N(z)`` up to an injective head: no biases, piecewise
    linear activations (positively homogeneous) except perhaps a strictly
    increasing last one, whose outputs are equal iff its pre-activations
    are. Then ``N(z1) = N(z2)`` implies ``N(t z1) = N(t z2)`` for t > 0."""
    last = len(network.layers) - 1
    return all(not np.any(L.b) and (L.activation.piecewise_linear
                                    or (k == last and L.activation.injective))
               for k, L in enumerate(network.layers))


def _piecewise_linear_core(network):
    """The network with a strictly increasing, not piecewise linear head
    (sigmoid, tanh) replaced by the identity: ``N(z1) = N(z2)`` iff the
    core's outputs (the head's pre-activations) are equal, so both have
    the same pairs with equal outputs. Other networks are returned as they
    are."""
    from .activations import IDENTITY
    from .network import DenseLayer
    L = network.layers[-1]
    if L.activation.piecewise_linear or not L.activation.injective:
        return network
    return Network(network.layers[:-1] + (DenseLayer(L.W, L.b, IDENTITY),))


def _in_box(z, domain, box):
    if domain == "nonneg" and any(v < 0 for v in z):
        return False
    if box is None:
        return True
    R = Fraction(float(box))
    return all(-R <= v <= R for v in z)


def check_network(network, *, time_limit=None, box=None, backend=None, domain="all",
                  method="auto", max_regions=None, delta=None,
                  report_all_layers=False) -> NetworkResult:
    """Decide whether a network ``z -> N(z)`` is injective, with a proof.

    Parameters
    ----------
    network : :class:`solver.network.Network`, or a path (``.npz`` / ``.onnx``)
        for :func:`solver.network_io.load_network`.
    time_limit : seconds or None (``unknown`` when it runs out; the MILP
        search then gets 60 s at most).
    box : R > 0 or None. Restrict the question to ``[-R, R]^n``
        (``[0, R]^n`` with ``domain="nonneg"``); a proof there is reported as
        ``injective_on_box``. Also the MILP search box (default
        ``DEFAULT_BOX``).
    backend : MILP engine name for the end-to-end witness search
        (:mod:`solver.backends`; default ``DEFAULT_BACKEND``).
    domain : ``"all"`` (R^n) or ``"nonneg"`` (inputs ``z >= 0``, Remark 1).
    method : ``"auto"`` (layerwise, then ``regions`` for small networks, then
        ``milp``), ``"layerwise"`` (no end-to-end search), ``"regions"`` or
        ``"milp"`` (end-to-end part forced).
    max_regions : cap for the region enumeration (default: 400 under
        ``auto``, ``MAX_REGIONS`` under ``regions``).
    delta : MILP minimal separation ``||z1 - z2||_inf`` (default
        ``1e-3 * R``).
    report_all_layers : decide every layer even when a first-layer witness
        already settles the network (for the per-layer report).

    Returns
    -------
    NetworkResult. ``not_injective`` carries ``z1 != z2`` (exact rationals)
    with ``N(z1) == N(z2)`` checked exactly through every layer (and
    ``z1, z2 >= 0`` for ``nonneg``); ``injective`` / ``injective_on_box`` is
    proved: layer certificates (Corollary 1) or the exact region argument.

    Raises
    ------
    InputError for bad models and options.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, JMLR 2022,
    Theorem 1, Remark 1, Corollary 1.

    Examples
    --------
    >>> import numpy as np
    >>> from solver.network import make_network
    >>> B = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> net = make_network([np.vstack([B, -B]), np.eye(4)])   # ReLU(I ReLU(W z))
    >>> r = check_network(net)
    >>> r.verdict.value, [L["domain"] for L in r.layers]
    ('injective', ['all', 'nonneg'])
    """
    start = time.monotonic()
    if not isinstance(network, Network):
        from .network_io import load_network
        network = load_network(network)
    if domain not in DOMAINS:
        raise InputError(f"domain must be one of {', '.join(DOMAINS)}; got {domain!r}")
    if method not in ("auto", "layerwise", "regions", "milp"):
        raise InputError(f"method must be auto, layerwise, regions or milp; got {method!r}")
    if time_limit is not None and not (time_limit >= 0):
        raise InputError(f"time_limit must be a non-negative number of seconds; got {time_limit!r}")
    if box is not None:
        from .io import validate_box
        box = validate_box(box)
    if delta is not None and not (float(delta) > 0):
        raise InputError(f"delta must be positive; got {delta!r}")
    deadline = Deadline.after(time_limit, start).at

    def left():
        return Deadline(deadline).remaining()

    layers = network.layers
    decided = {}        # layer index -> (domain, LayerResult)
    stats = {}

    def result(verdict, witness, meth, msg, proof=None):
        reports, results = [], []
        for k in range(len(layers)):
            if k not in decided and report_all_layers:
                decided[k] = decide_layer(k)
            if k in decided:
                dom, res = decided[k]
                reports.append(_layer_report(k, layers[k], dom, res, input_set(k)))
                results.append(res)
            else:
                reports.append(_layer_report(k, layers[k], None, None, input_set(k),
                                             skipped=True))
                results.append(None)
        return NetworkResult(Verdict(verdict), Witness.of(witness), meth,
                             time.monotonic() - start, msg, tuple(reports), domain, box,
                             tuple(results), stats, proof)

    def witness_result(pair, meth, msg):
        z1, z2 = [Fraction(v) for v in pair[0]], [Fraction(v) for v in pair[1]]
        ok, why = network.check_witness(z1, z2)
        if not ok:
            raise AssertionError(f"internal: unverified network witness ({why})")
        if not (_in_box(z1, domain, box) and _in_box(z2, domain, box)):
            if domain == "nonneg" and (any(v < 0 for v in z1) or any(v < 0 for v in z2)):
                raise AssertionError("internal: witness outside the non-negative orthant")
            if _homogeneous(network):
                # N(t z) = t N(z) for t > 0 when there are no biases (_homogeneous)
                top = max(abs(v) for v in z1 + z2)
                t = Fraction(float(box)) / top
                z1, z2 = [t * v for v in z1], [t * v for v in z2]
                ok, why = network.check_witness(z1, z2)
                if not ok:
                    raise AssertionError(f"internal: rescaled witness failed ({why})")
                msg += "; rescaled into the box (no biases: N(t z) = t N(z))"
            else:
                stats["witness_outside_box"] = {"z1": [exact.fmt_rational(v) for v in z1],
                                                "z2": [exact.fmt_rational(v) for v in z2]}
                return None     # answers R^n, not the box question: keep going
        return result("not_injective", (z1, z2), meth, msg + " (checked exactly through "
                      "every layer)")

    def input_set(k):
        return _input_set(network, k, domain, box)

    def decide_layer(k, cap=None):
        """Decide layer k on a superset of the set its inputs come from: the
        domain for the first layer; after it, the orthant when the previous
        activation is >= 0 (relu: Remark 1; sigmoid: (0, 1)^n is inside
        it), else R^n (tanh's (-1, 1)^n, leaky, identity). ``cap``: at most
        this many seconds for a sign-tree search."""
        L = layers[k]
        if k == 0:
            dom = domain
        else:
            dom = "nonneg" if layers[k - 1].activation.nonneg_output else "all"
        if L.is_sparse:
            res = decide_large_layer(L.W, L.b, L.activation, domain=dom)
        elif not L.activation.is_relu:
            res = decide_bijective_layer(L.W, L.b, L.activation, domain=dom)
        else:
            from .layer import check_layer
            budget = left()
            if cap is not None:
                budget = cap if budget is None else min(cap, budget)
            until = None if budget is None else time.monotonic() + budget
            if dom == "all":
                res = check_layer(L.W, L.b, time_limit=budget)
            else:
                share = None if budget is None else 0.5 * budget
                res = check_layer(L.W, L.b, time_limit=share)
                if res.verdict is Verdict.INJECTIVE:
                    dom = "all"       # stronger than needed
                else:
                    first = res
                    rest = None if until is None else max(0.0, until - time.monotonic())
                    res = check_layer_nonneg(L.W, L.b, time_limit=rest)
                    if res.verdict is Verdict.UNKNOWN and first.verdict is Verdict.UNKNOWN:
                        res = LayerResult(Verdict.UNKNOWN, None, res.method, first.seconds +
                                          res.seconds, f"R^n: {first.message}; orthant: "
                                          f"{res.message}", res.m, res.n, None, res.stats)
        return dom, res

    def reasons(ks):
        return ", ".join(f"layer {k} {decided[k][1].verdict.value}"
                         + (f" ({decided[k][1].message})"
                            if decided[k][1].verdict is Verdict.UNKNOWN else "")
                         for k in sorted(ks))

    # what the end-to-end step (3) can do, on the piecewise linear core (a
    # sigmoid/tanh head replaced by the identity: the same pairs have equal
    # outputs)
    core = _piecewise_linear_core(network)
    smooth = [k for k, L in enumerate(core.layers) if not L.activation.piecewise_linear]
    small = network.n_in <= 6 and sum(L.W.shape[0] for L in layers[:-1]
                                      if not L.activation.is_identity) <= 64
    regions_possible = (not smooth and method != "layerwise"
                        and (method == "regions" or (method == "auto" and small)))

    # 1. layerwise (Corollary 1): the cheap decisions first (exact rank,
    # sparse layers), then the sign-tree searches for ReLU layers, which
    # share what time is left. Once a layer has failed and the region
    # method cannot run, no later decision can prove the network injective:
    # later tree layers are not searched, and the first layer only for a
    # witness (at most WITNESS_ONLY_SECONDS without a time limit).
    failing = []
    order = sorted(range(len(layers)),
                   key=lambda k: layers[k].activation.is_relu and not layers[k].is_sparse)
    for k in order:
        tree = layers[k].activation.is_relu and not layers[k].is_sparse
        cap = None
        if tree and failing and not regions_possible and not report_all_layers:
            if k > 0:
                m, n = layers[k].W.shape
                dom = "nonneg" if layers[k - 1].activation.nonneg_output else "all"
                decided[k] = (dom, LayerResult(
                    Verdict.UNKNOWN, None, "not-run", 0.0,
                    f"not searched: the network cannot be proved injective any more "
                    f"(layer {min(failing)} failed; no end-to-end proof for this "
                    f"network)", m, n))
                failing.append(k)
                continue
            if time_limit is None:
                cap = WITNESS_ONLY_SECONDS
        dom, res = decide_layer(k, cap)
        if cap is not None and res.verdict is Verdict.UNKNOWN:
            res = replace(res, message=f"{res.message}; searched for a witness for "
                          f"{cap:g} s only, since the other layers leave no proof of "
                          f"injectivity: use --time-limit to search longer")
        decided[k] = (dom, res)
        if k == 0 and res.verdict is Verdict.NOT_INJECTIVE:
            out = witness_result((res.witness.x1, res.witness.x2), "first-layer",
                                 "the first layer is not injective"
                                 + (" on the non-negative orthant" if dom == "nonneg" else "")
                                 + "; its witness is a network witness")
            if out is not None:
                return out
        if res.verdict is not Verdict.INJECTIVE:
            failing.append(k)
    if not failing:
        return result("injective", None, "layerwise",
                      "every layer is injective on the set its inputs come from "
                      "(Corollary 1; inputs after relu or sigmoid are >= 0, Remark 1)")
    why = reasons(failing)
    if method == "layerwise":
        return result("unknown", None, "layerwise",
                      f"not proved layerwise ({why}); end-to-end search not run")

    # 3. end to end, on the piecewise linear core
    msgs = []
    if smooth:
        k = smooth[0]
        return result("unknown", None, "layerwise",
                      f"not proved layerwise ({why}); end-to-end search not available: layer "
                      f"{k} is {layers[k].activation} inside the network (regions and the "
                      "MILP need relu, identity or leaky_relu before the last layer)")
    units = sum(L.W.shape[0] for L in core.layers if not L.activation.is_identity)
    sparse = [k for k, L in enumerate(core.layers) if L.is_sparse]
    milp_refused = None
    if method in ("auto", "milp") and (sparse or units > MILP_MAX_UNITS):
        milp_refused = ("the two-copy MILP was not run: "
                        + (f"layer {sparse[0]} is a sparse {core.layers[sparse[0]].W.shape[0]}x"
                           f"{core.layers[sparse[0]].W.shape[1]} matrix, " if sparse else "")
                        + f"{units:,} units with activations (limit {MILP_MAX_UNITS:,})")
        if not regions_possible:
            return result("unknown", None, "layerwise",
                          f"not proved layerwise ({why}); end-to-end search not available: "
                          f"activation regions need n <= 6 inputs and <= 64 hidden units; "
                          f"{milp_refused}")
    if deadline is not None and time.monotonic() >= deadline:
        return result("unknown", None, "layerwise",
                      f"not proved layerwise ({why}); end-to-end search not run (time limit)")
    if method == "regions" or (method == "auto" and small):
        cap = max_regions or (MAX_REGIONS if method == "regions" else 400)
        v, w, msg, st = decide_by_regions(core, domain=domain, box=box,
                                          time_limit=left(), max_regions=cap)
        regions_proof = st.pop("proof", None)
        stats["regions"] = st
        if v == "not_injective":
            out = witness_result(w, "regions", f"layerwise failed ({why}); end to end: {msg}")
            if out is not None:
                return out
        if v in ("injective", "injective_on_box"):
            extra = ""
            if "witness_outside_box" in stats:
                extra = ("; not injective on the whole domain (exact witness outside the box "
                         "in stats['witness_outside_box'])")
            return result(v, None, "regions",
                          f"layerwise failed ({why}), but end to end: {msg}{extra}",
                          proof=regions_proof)
        msgs.append(f"regions: {msg}")
    if milp_refused:
        msgs.append(milp_refused)
    elif method in ("auto", "milp") and (deadline is None or time.monotonic() < deadline):
        R = box if box is not None else DEFAULT_BOX
        budget = left()
        budget = 60.0 if budget is None else budget
        try:
            w, info = search_pair_milp(core, box=R, domain=domain, delta=delta,
                                       backend=backend, time_limit=budget)
        except ImportError as exc:
            info = {"milp_error": f"MILP backends unavailable: {exc}"}
            w = None
        stats["milp"] = info
        if w is not None:
            out = witness_result(w, "milp", f"layerwise failed ({why}); a two-copy MILP "
                                 f"candidate was refined to an exact pair")
            if out is not None:
                return out
        if "milp_error" in info:
            msgs.append(info["milp_error"])
        else:
            lo_txt = "0" if domain == "nonneg" else f"{-R:g}"
            where = f"[{lo_txt}, {R:g}]^{network.n_in}"
            st = info.get("milp_status")
            if "milp_candidate" in info:
                msgs.append(f"the MILP over {where} proposed a pair (status {st}) but its "
                            f"activation patterns hold no exact pair ({info['milp_candidate']})")
            elif st == "infeasible":
                msgs.append(f"the MILP over {where} found no pair with ||z1 - z2||_inf >= "
                            f"{info['milp_delta']:g}: that holds to solver tolerance only and "
                            f"is not a proof")
            else:
                msgs.append(f"the MILP over {where} stopped without a candidate (status {st})")
    if "witness_outside_box" in stats:
        msgs.append("not injective on the whole domain: an exact witness outside the box is "
                    "in stats['witness_outside_box']")
    return result("unknown", None, "end-to-end",
                  f"not proved layerwise ({why}); " + "; ".join(msgs))
