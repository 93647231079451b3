"""How injective: Theorem 4's inverse Lipschitz constant, exactly, and collapse.

:func:`stability` answers, for a layer ``F(x) = ReLU(W x + b)`` or a network:

* ``verdict``: injectivity, as :func:`solver.check_layer` /
  :func:`solver.check_network` decide it (proof or exact witness);
* ``sigma`` = σ* = min over x of σ_min(W_S(x)), ``S(x) = {i : w_i.x + b_i >= 0}``
  (:mod:`solver.sigma_search`), with ``sigma_lower``, a certified lower bound
  (exact positive-definiteness checks over a complete branch-and-bound tree),
  the minimising cell's exact point ``x`` and its active set ``active``;
* ``constant`` = σ*/sqrt(2m), Theorem 4's bound on the inverse Lipschitz
  constant: ``||F(x0) - F(x1)|| >= constant ||x0 - x1||`` for all ``x0, x1``;
  ``constant_lower`` the same with ``sigma_lower`` (so it is proved), and
  ``constant_sharp`` = sigma_lower/sqrt(2 h), h the number of distinct
  hyperplanes (see Notes: the paper's proof gives h in place of m);
* ``upper``: the best upper bound on the true inverse Lipschitz constant
  found by a search over point pairs (:mod:`solver.pairs`), with the pair in
  exact rationals and its exact ``ratio^2``;
* ``collapse`` for non-injective models: the largest ``||z1 - z2||_inf`` with
  equal outputs inside ``[-R, R]^n`` (:mod:`solver.collapse`).

For networks, Corollary 1 (injective layers compose) gives the product of
the layer constants as a lower bound on the network's inverse Lipschitz
constant when every layer is injective on the set its inputs come from
(later ReLU layers on x >= 0, Remark 1); ``layers`` lists each layer's figures.

Notes
-----
*The set S(x).* The paper defines ``S(x, W) = {j : <w_j, x> >= 0}`` (closed,
at one point). Rows with value exactly 0 only *enlarge* S, and σ_min is
monotone under adding rows, so the minimum over all x is attained at a
generic point, on an open cell, at a minimal realizable positive set (proofs
in :mod:`solver.sigma_search`). Biases: the proof of Theorem 4 (Lemmas 5, 6,
10) goes through verbatim for affine rows, with S(x) = {i : w_i.x + b_i >= 0}
(as the issue states); all rows that vanish on a crossed face define the same
affine hyperplane, so they are positive multiples of one another up to sign,
which is what Lemma 5 uses.

*The constant with h hyperplanes.* In the proof (Lemma 6 and Theorem 4), a
segment from x0 to x1 that avoids intersections of two hyperplanes crosses
K faces, each at most once per distinct hyperplane, so K <= h. With points in
the K + 1 cells visited, Lemma 5 bounds each of the K pieces by
``sigma*/sqrt(2)``, Lemma 10 gives ``sum |dF_k|^2 <= |dF|^2`` and Cauchy-Schwarz
over K terms gives ``|dF| >= sigma*/sqrt(2K) |dx|`` (K = 0: ``sigma* |dx|``).
So ``sigma*/sqrt(2 max(h, 1))`` is a valid constant; the paper's ``sqrt(2m)``
uses ``m >= h`` (and counts ``n_t <= m`` cells, one more than the crossings).
Segments through corners follow by the paper's limit argument.

*Upper bound.* Two points in the minimising cell, along its smallest right
singular vector, have ratio σ*, so the true constant lies in
``[constant_sharp, min(upper, sigma)]``.

References
----------
Puthawala, Kothari, Lassas, Dokmanić, de Hoop, *Globally injective ReLU
networks*, JMLR 2022: Theorem 4 and its proof (Appendix C.1, Lemmas 5, 6, 10),
Theorem 1, Corollary 1, Remark 1.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from .deadline import Deadline
from . import exact
from .errors import InputError
from .exact import fmt_rational
from .floatrows import unit_scale
from .io import as_dense
from .pairs import PairBound, best_pair, cell_pair, pair_search, sqrt_down
from .result import Verdict, Witness

__all__ = ["StabilityResult", "stability", "layer_stability", "network_stability",
           "theorem4_constant"]


def _default_box():
    from .inversion.problem import DEFAULT_LATENT_BOX
    return DEFAULT_LATENT_BOX


@dataclass(frozen=True)
class StabilityResult:
    """Outcome of :func:`stability`.

    Attributes
    ----------
    verdict : Verdict of injectivity (as ``check``).
    status : ``"exact"`` (σ* and its certified bound are complete; for a
        non-injective layer σ* = 0 exactly), ``"bound"`` (networks: product
        of exact layer constants), ``"unknown"`` (a limit stopped the
        search: bounds so far; or no bound applies).
    sigma : float or None, σ* (an upper bound on it when ``unknown``).
    sigma_lower : Fraction or None, certified lower bound on σ*.
    constant : float or None, σ*/sqrt(2m) (Theorem 4); networks: the product
        of the layer constants.
    constant_lower : float or None, a proved lower bound on the inverse
        Lipschitz constant: sigma_lower/sqrt(2m) rounded down (networks:
        product, rounded down).
    constant_sharp : float or None, sigma_lower/sqrt(2h) rounded down, h =
        ``hyperplanes`` (also proved; see the module Notes).
    hyperplanes : int or None, distinct hyperplanes of the nonzero rows.
    pair : PairBound or None, the best pair found: ``upper`` = its ratio
        rounded up.
    x : tuple of Fractions or None, a point of the minimising cell
        (non-injective: the witness's first point).
    active : tuple of row indices, S(x) at that point.
    collapse : Collapse or None.
    witness : Witness or None (non-injective).
    m, n : shape (networks: output and input sizes).
    seconds, message, stats.
    layers : per-layer results (networks).
    """
    verdict: Verdict
    status: str
    sigma: float | None
    sigma_lower: Fraction | None
    constant: float | None
    constant_lower: float | None
    constant_sharp: float | None
    hyperplanes: int | None
    pair: PairBound | None
    x: tuple | None
    active: tuple
    collapse: Any
    witness: Witness | None
    m: int
    n: int
    seconds: float
    message: str
    kind: str = "layer"
    layers: tuple = ()
    stats: Mapping[str, Any] = field(default_factory=dict)
    certificate: dict | None = field(default=None, repr=False)

    @property
    def upper(self) -> float | None:
        return None if self.pair is None else self.pair.upper

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict.value, "status": self.status, "kind": self.kind,
            "sigma": self.sigma,
            "sigma_lower": None if self.sigma_lower is None else float(self.sigma_lower),
            "sigma_lower_exact": None if self.sigma_lower is None else fmt_rational(self.sigma_lower),
            "constant": self.constant, "constant_lower": self.constant_lower,
            "constant_sharp": self.constant_sharp, "hyperplanes": self.hyperplanes,
            "upper": self.upper,
            "upper_squared": None if self.pair is None else fmt_rational(self.pair.ratio2),
            "pair": None if self.pair is None else self.pair.to_json(),
            "x": None if self.x is None else [fmt_rational(v) for v in self.x],
            "active": list(self.active),
            "collapse": None if self.collapse is None else self.collapse.to_json(),
            "witness": None if self.witness is None else self.witness.to_json(),
            "m": self.m, "n": self.n, "seconds": round(self.seconds, 6),
            "message": self.message, "layers": [L.to_json() for L in self.layers],
            "stats": dict(self.stats)}


def theorem4_constant(sigma, m, *, down=False):
    """σ/sqrt(2m); with ``down``, rounded down exactly (σ a Fraction).

    Examples
    --------
    >>> theorem4_constant(2.0, 2)
    1.0
    """
    if sigma is None:
        return None
    if down:
        return sqrt_down(Fraction(sigma) ** 2 / (2 * max(int(m), 1)))
    return float(sigma) / math.sqrt(2 * max(int(m), 1))


def _active(W, b, x):
    vals = exact.layer_preactivations(W, b, x)
    return tuple(i for i, v in enumerate(vals) if v >= 0)


def _hyperplanes(W, b):
    from .enumeration import coincident_classes
    G, _ = exact.integer_rows(W, b)
    return len(coincident_classes(G, W.shape[1])[0])


def _budget(deadline, frac=1.0):
    return Deadline(deadline).share(frac)


def _certificate_from_tree(W, b, tree):
    """The σ* search tree as an injectivity certificate in the checker's format
    (bound leaf -> basis leaf with n independent positive rows)."""
    from .certificates import checker
    n = W.shape[1]
    G, _ = exact.integer_rows(W, b)

    def conv(node):
        if "branch" in node:
            return {"branch": node["branch"], "pos": conv(node["pos"]), "neg": conv(node["neg"])}
        if node.get("leaf") == "gordan":
            if any(int(r) < 0 for r, _ in node["y"]):
                raise ValueError("domain rows")
            return {"leaf": "gordan", "y": node["y"]}
        if node.get("leaf") == "bound":
            sel = []
            for i in node["rows"]:
                if exact.rank([G[j][:n] for j in sel + [i]]) > len(sel):
                    sel.append(i)
                if len(sel) == n:
                    break
            return {"leaf": "basis", "rows": sel, "pairs": []}
        raise ValueError("open node")

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10 * W.shape[0] + 1000))
    try:
        t = conv(tree)
    finally:
        sys.setrecursionlimit(old)
    # the nested tree of version 1 (the sign tree writes version 4; the checker reads 1 to 4)
    return {"format": checker.FORMAT, "version": 1, "claim": "injective",
            "m": W.shape[0], "n": n, "layer_sha256": checker.layer_fingerprint(W, b),
            "method": "sigma-search", "tree": t}


def _pair_for(net, *, deadline, seed, point=None, positive=None, W=None, b=None,
              n_random=20):
    """Best pair: Theorem 4's cell pair (layers) and a local search."""
    cands = []
    starts = []
    n = net.n_in
    if point is not None and positive:
        cp = cell_pair(W, b, point, positive)
        if cp is not None:
            cands.append((cp[0], cp[1], "minimising cell, smallest singular direction"))
        xs = np.array([float(v) for v in point])
        _, _, Vt = np.linalg.svd(W[list(positive)])
        v = Vt[-1]
        r = max(1.0, float(np.linalg.norm(xs)))
        for s in (1e-3, 1e-1, 1.0, 10.0):
            starts.append((xs - s * r * v, xs + s * r * v))
    W0 = net.layers[0].W
    if all(not np.any(L.b) for L in net.layers):
        _, _, Vt = np.linalg.svd(W0)
        for u in Vt[-min(n, 4):]:
            starts.append((-u, u))
    from .floatrows import median_offset
    off = median_offset(W0, net.layers[0].b)
    scale = 1.0 if off is None else max(1e-6, off)
    found = pair_search(net, starts=starts, n_random=n_random, deadline=deadline, seed=seed,
                        scale=scale)
    if found is not None:
        cands.append((found[1], found[2], "local search (L-BFGS on ratio^2)"))
    return best_pair(net, cands)


def layer_stability(W, b=None, *, time_limit=None, box=None, backend=None, seed=0,
                    collapse=True, n_random=20) -> StabilityResult:
    """Stability of one layer ``x -> ReLU(W x + b)``; see :func:`stability`."""
    from .layer import check_layer
    from .io import validate_layer
    from .network import make_network
    from .sigma_search import sigma_star
    from .witness import witness_from_normal
    W, b = validate_layer(W, b)
    W = as_dense(W)                # scipy.sparse (convolutions): the search is dense
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    m, n = W.shape
    net = make_network([W], [b])
    h = _hyperplanes(W, b)
    stats = {}
    # the pair search works in squared magnitudes: far from unit scale on
    # (W, b) / 2^e, its ratios scaled back (floatrows.unit_scale; sigma_star
    # does the same for itself)
    Ws, bs, e = unit_scale(W, b)
    # 1. the verdict, with its proof
    share = None if deadline is None else 0.35 * float(time_limit)
    res = check_layer(W, b, time_limit=share)
    stats["check"] = {"verdict": res.verdict.value, "method": res.method,
                      "seconds": round(res.seconds, 6)}
    verdict, witness, certificate = res.verdict, res.witness, res.certificate
    out = None
    if verdict is not Verdict.NOT_INJECTIVE:
        budget = _budget(deadline, 0.8)
        out = sigma_star(W, b, time_limit=budget, seed=seed, keep_tree=verdict is Verdict.UNKNOWN)
        stats["search"] = out.stats
        if out.status == "zero":
            if verdict is Verdict.INJECTIVE:   # would contradict the certificate
                raise AssertionError("internal: certified injective layer has a rank-deficient cell")
            P = [g[:n] for i, g in enumerate(exact.integer_rows(W, b)[0]) if i in out.positive]
            v = exact.kernel(P, n)[0] if P else [1] + [0] * (n - 1)
            G, _ = exact.integer_rows(W, b)
            pair = witness_from_normal(G, v, [float(c) for c in out.point], W, b) \
                if out.point is not None else None
            if pair is not None:
                verdict, witness = Verdict.NOT_INJECTIVE, Witness.of(pair)
        elif out.status == "exact" and verdict is Verdict.UNKNOWN and out.lower and out.lower > 0:
            try:
                cert = _certificate_from_tree(W, b, out.tree)
            except ValueError:
                cert = None
            from .certificates import check_certificate
            if cert is not None and check_certificate(W, b, cert)[0]:
                verdict, certificate = Verdict.INJECTIVE, cert
                stats["check"]["upgraded"] = "injective: the sigma* search tree, checked by the certificate checker"
    if verdict is Verdict.NOT_INJECTIVE:
        x1, x2 = witness.x1, witness.x2      # checked exactly: equal outputs, ratio 0
        pair = PairBound(tuple(x1), tuple(x2), Fraction(0), "injectivity witness")
        col = None
        R = box if box is not None else _default_box()
        if collapse:
            from .collapse import collapse as _collapse
            col = _collapse(net, box=R, time_limit=_budget(deadline, 0.95), backend=backend,
                           start_pair=(x1, x2))
        msg = "not injective: sigma* = 0 (a cell's active rows are rank-deficient)"
        if col is not None and col.value is not None:
            msg += f"; collapse in [-{col.box:g}, {col.box:g}]^{n}: {float(col.value):.6g}"
        return StabilityResult(Verdict.NOT_INJECTIVE, "exact", 0.0, Fraction(0), 0.0, 0.0, 0.0, h,
                               pair, tuple(x1), _active(W, b, x1), col, witness, m, n,
                               time.monotonic() - start, msg, "layer", (), stats, certificate)
    # injective or unknown: sigma* bounds and the pair search
    sigma = out.sigma
    lower = out.lower
    status = "exact" if out.status == "exact" and lower is not None else "unknown"
    pair = _pair_for(make_network([Ws], [bs]),
                     deadline=None if deadline is None else deadline - 0.1 * float(time_limit),
                     seed=seed, point=out.point, positive=out.positive, W=Ws, b=bs,
                     n_random=n_random)
    if pair is not None and e:
        pair = replace(pair, ratio2=pair.ratio2 * Fraction(4) ** e)
    c = theorem4_constant(sigma, m) if status == "exact" else None
    cl = theorem4_constant(lower, m, down=True) if lower is not None else None
    cs = theorem4_constant(lower, max(h, 1), down=True) if lower is not None else None
    if status == "exact":
        msg = (f"sigma* = {sigma:.10g} (certified >= {float(lower):.10g}); Theorem 4: "
               f"||F(x0) - F(x1)|| >= {c:.6g} ||x0 - x1||")
    else:
        msg = (f"search stopped ({out.stats.get('reason', 'limit')}): sigma* <= "
               f"{sigma if sigma is not None else float('nan'):.6g}, certified >= "
               f"{float(lower or 0):.6g}")
    return StabilityResult(verdict, status, sigma, lower, c, cl, cs, h, pair,
                           out.point, _active(W, b, out.point) if out.point is not None else (),
                           None, None, m, n, time.monotonic() - start, msg, "layer", (), stats,
                           certificate)


def _bijective_layer(L, deadline):
    """Leaky-ReLU / identity layer: inverse Lipschitz constant
    ``min(1, slope) sigma_min(W)`` (W full column rank), certified."""
    from .sigma_certify import certify_sigma_lower
    W = as_dense(L.W)
    m, n = W.shape
    a = L.activation.slope
    s = float(np.linalg.svd(W, compute_uv=False)[-1]) if m >= n else 0.0
    lower = certify_sigma_lower(W, [tuple(range(m))], s, deadline=deadline) if s > 0 else Fraction(0)
    f = min(1.0, a)
    fq = Fraction(f)
    c = s * f
    cl = float(Fraction(sqrt_down((lower or Fraction(0)) ** 2 * fq * fq)))
    return c, cl, s, lower


def network_stability(net, *, time_limit=None, box=None, backend=None, seed=0,
                      collapse=True, n_random=20) -> StabilityResult:
    """Stability of a network; see :func:`stability`."""
    from .network.check import check_network
    from .sigma_search import sigma_star, too_large
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    layers = net.layers
    if len(layers) == 1 and layers[0].activation.is_relu:
        return layer_stability(layers[0].W, layers[0].b, time_limit=time_limit, box=box,
                               backend=backend, seed=seed, collapse=collapse, n_random=n_random)
    res = check_network(net, time_limit=_budget(deadline, 0.2), report_all_layers=True)
    stats = {"check": {"verdict": res.verdict.value, "method": res.method,
                       "seconds": round(res.seconds, 6)}}
    n, mo = net.n_in, net.n_out
    reports = list(res.layers)
    # the last index k such that every layer after k is injective on its inputs
    k_inj = len(layers) - 1
    while k_inj > 0 and reports[k_inj]["verdict"] == "injective":
        k_inj -= 1
    if res.verdict is Verdict.NOT_INJECTIVE:
        w = res.witness   # checked exactly by check_network: equal outputs, ratio 0
        pair = PairBound(tuple(w.x1), tuple(w.x2), Fraction(0), "injectivity witness")
        R = box if box is not None else _default_box()
        col = None
        if collapse:
            from .collapse import collapse as _collapse
            col = _collapse(net, box=R, time_limit=_budget(deadline, 0.95), backend=backend,
                            injective_after=k_inj, start_pair=(w.x1, w.x2))
        msg = "not injective: the inverse Lipschitz constant is 0"
        if col is not None and col.value is not None:
            msg += f"; collapse in [-{col.box:g}, {col.box:g}]^{n}: {float(col.value):.6g}"
        return StabilityResult(Verdict.NOT_INJECTIVE, "exact", 0.0, Fraction(0), 0.0, 0.0, 0.0,
                               None, pair, None, (), col, w, mo, n, time.monotonic() - start,
                               msg, "network", (), stats)
    # per-layer figures; their product is a bound (Corollary 1) only when
    # every layer was proved injective on the set its inputs come from
    per = []
    layerwise = res.method == "layerwise" and res.verdict is Verdict.INJECTIVE
    c_prod, cl_prod = 1.0, 1.0
    for k, L in enumerate(layers):
        dom = reports[k]["domain"] or \
            ("nonneg" if k > 0 and layers[k - 1].activation.nonneg_output else "all")
        inj = Verdict(reports[k]["verdict"]) if reports[k]["verdict"] != "skipped" \
            else Verdict.UNKNOWN
        left = _budget(deadline)
        searches = sum(1 for L2 in layers[k:] if L2.activation.is_relu)   # those that need time
        share = None if left is None else 0.8 * left / max(1, searches)
        ls = time.monotonic()
        m_k, n_k = L.W.shape
        c = cl = None
        skip = too_large(m_k, n_k) or \
            ("not searched: time limit" if Deadline(deadline).expired() else None)
        if L.activation.is_relu and skip:                   # (before densifying it)
            per.append(StabilityResult(inj, "unknown", None, None, None, None, None, None,
                                       None, None, (), None, None, m_k, n_k, 0.0,
                                       f"layer {k} ({L.activation}, inputs {dom}): {skip}",
                                       "layer"))
        elif L.activation.is_relu:
            Wd = as_dense(L.W)
            out = sigma_star(Wd, L.b, domain=dom, time_limit=share, seed=seed)
            st = "exact" if out.status in ("exact", "zero") else "unknown"
            h = _hyperplanes(Wd, L.b) if out.lower is not None else None
            c = theorem4_constant(out.sigma, m_k) if st == "exact" else None
            cl = theorem4_constant(out.lower, m_k, down=True) if out.lower is not None else 0.0
            cs = theorem4_constant(out.lower, max(h, 1), down=True) if out.lower is not None else None
            per.append(StabilityResult(inj, st, out.sigma, out.lower, c, cl, cs, h,
                                       None, out.point, (), None, None, m_k, n_k,
                                       time.monotonic() - ls,
                                       f"layer {k} ({L.activation}, inputs {dom})", "layer",
                                       (), {"search": out.stats, "domain": dom}))
        elif L.activation.piecewise_linear:          # identity, leaky ReLU
            c, cl, s_, lower = _bijective_layer(L, deadline)
            st = "exact" if lower is not None else "unknown"
            per.append(StabilityResult(inj, st, s_, lower, c, cl, None, None, None,
                                       None, (), None, None, m_k, n_k, time.monotonic() - ls,
                                       f"layer {k} ({L.activation}): min(1, slope) sigma_min(W)",
                                       "layer", (), {"domain": dom}))
        else:
            per.append(StabilityResult(inj, "unknown", None, None, None, None,
                                       None, None, None, None, (), None, None, m_k, n_k, 0.0,
                                       f"layer {k} ({L.activation}): no global inverse "
                                       "Lipschitz bound (the activation saturates)", "layer"))
        c_prod = None if (c_prod is None or per[-1].status != "exact" or c is None) else c_prod * c
        cl_prod = None if (cl_prod is None or cl is None) else cl_prod * cl
    if layerwise and c_prod is not None and cl_prod is not None:
        status = "bound"
        cl_prod *= (1 - 1e-15 * len(layers))   # products of floats: round down
    else:
        status, c_prod, cl_prod = "unknown", None, None
    pair = _pair_for(net, deadline=None if deadline is None else deadline - 0.1 * float(time_limit),
                     seed=seed, n_random=n_random)
    if layerwise:
        msg = ("layerwise injective: ||N(x0) - N(x1)|| >= "
               + (f"{cl_prod:.6g}" if cl_prod is not None else "?")
               + " ||x0 - x1|| (product of the proved layer constants, Corollary 1 with "
               "Theorem 4; a bound, usually far from tight)")
    elif res.verdict is Verdict.INJECTIVE:
        msg = "injective end to end but not layerwise: no product bound (Corollary 1 needs every layer)"
    else:
        msg = f"injectivity not decided ({res.message})"
    return StabilityResult(res.verdict, status, None, None, c_prod, cl_prod, None, None, pair,
                           None, (), None, None, mo, n, time.monotonic() - start, msg, "network",
                           tuple(per), stats)


def stability(model, b=None, *, time_limit=None, box=None, backend=None, seed=0,
              collapse=True, n_random=20) -> StabilityResult:
    """How stable is inversion: Theorem 4's constant, exactly, with bounds.

    Parameters
    ----------
    model : a weight matrix ``W`` (array, with ``b``), a
        :class:`solver.network.Network`, or a path (``.npz`` layer or network,
        ``.onnx``).
    b : bias of a layer given as an array (else ignored).
    time_limit : seconds or None; every phase keeps within it (``unknown``
        with the bounds proved so far when it runs out).
    box : R > 0, the box ``[-R, R]^n`` of the collapse of a non-injective
        model (default: the inversion box, 5).
    backend : MILP engine for the collapse.
    seed : seed of the heuristic parts (sampled cells, random pair starts).
    collapse : compute the collapse of a non-injective model (a MILP).
    n_random : random starts of the pair search.

    Returns
    -------
    StabilityResult (see its attributes; ``to_json()`` for the CLI's JSON).

    Raises
    ------
    InputError for bad input (shapes, NaN, unreadable files, bad options).

    Notes
    -----
    See the module docstring: which set S(x) counts and why the minimum sits
    on a minimal realizable active set, how biases enter, the sharper
    constant with the number of hyperplanes, and the network bound.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, JMLR 2022, Theorem 4,
    Corollary 1.

    Examples
    --------
    >>> import numpy as np
    >>> r = stability(np.vstack([np.eye(2), -np.eye(2)]))     # [I; -I]: sigma* = 1, L = 1/sqrt(2)
    >>> r.verdict.value, r.status, round(r.sigma, 12), round(r.constant, 6)
    ('injective', 'exact', 1.0, 0.353553)
    >>> round(r.upper, 6)        # the pair (u, -u) attains 1/sqrt(2)
    0.707107
    """
    from .network import Network
    from .network_io import load_network
    from .deadline import validate_time_limit
    validate_time_limit(time_limit)
    if box is not None:
        from .io import validate_box
        box = validate_box(box)
    if isinstance(model, (str, os.PathLike)):
        model = load_network(model)
    if isinstance(model, Network):
        return network_stability(model, time_limit=time_limit, box=box, backend=backend,
                                 seed=seed, collapse=collapse, n_random=n_random)
    return layer_stability(model, b, time_limit=time_limit, box=box, backend=backend, seed=seed,
                           collapse=collapse, n_random=n_random)
