"""Upper bounds on the inverse Lipschitz constant by a search over point pairs.

For a map ``N`` (a layer or a network) the inverse Lipschitz constant is

    L(N) = inf over x0 != x1 of ||N(x0) - N(x1)||_2 / ||x0 - x1||_2.

Every pair gives an upper bound. :func:`pair_search` minimises the ratio by
local optimisation (L-BFGS on ``ratio^2``, whose gradient is piecewise
``2 J^T r / |d|^2 - 2 ratio^2 d / |d|^2`` with the Jacobian ``J`` of the
current linear piece) from several starts, then evaluates the best pair in
exact rational arithmetic: the reported ``upper`` is a float rounded *up*
from the exact ``ratio^2`` (a rational), so it is a proved upper bound.

For a layer, :func:`cell_pair` gives the pair of Theorem 4's minimising cell:
``x`` and ``x + a v`` with ``v`` the smallest right singular vector of the
cell's active rows and ``a`` the largest step keeping ``x + a v`` in the
closed cell, so that ``ratio = ||W_P v|| / ||v||`` = σ* up to rounding of
``v``. So ``upper <= σ*`` (to that rounding), and L(N) lies between Theorem
4's constant and ``upper``.

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022, Theorem 4.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .deadline import Deadline
from .exact import fmt_rational
from .io import issparse

__all__ = ["PairBound", "pair_search", "cell_pair", "exact_ratio2", "sqrt_up"]


@dataclass(frozen=True)
class PairBound:
    """A pair ``x1 != x2`` and its exact ``ratio^2 = |N(x1) - N(x2)|^2 / |x1 - x2|^2``.

    ``upper`` is ``sqrt(ratio2)`` rounded up to a float (a proved upper bound
    on the inverse Lipschitz constant)."""
    x1: tuple
    x2: tuple
    ratio2: Fraction
    how: str

    @property
    def upper(self) -> float:
        return sqrt_up(self.ratio2)

    def to_json(self) -> dict:
        return {"x1": [fmt_rational(v) for v in self.x1],
                "x2": [fmt_rational(v) for v in self.x2],
                "ratio_squared": fmt_rational(self.ratio2), "found_by": self.how}


def _sqrt_near(q: Fraction) -> float:
    """A float within a few ulps of ``sqrt(q)``, ``q > 0``, at any scale:
    ``float(q)`` overflows or flushes to zero (or to a subnormal that has
    lost its digits) far from 1, so ``q`` is first brought near 1 by an
    exact power of 4. ``inf`` when the root exceeds the float range."""
    k = (q.numerator.bit_length() - q.denominator.bit_length()) // 2
    r = q / Fraction(4) ** k if k >= 0 else q * Fraction(4) ** -k
    try:
        return math.ldexp(math.sqrt(float(r)), k)
    except OverflowError:
        return math.inf


def sqrt_up(q: Fraction) -> float:
    """The smallest float whose square is >= the rational ``q >= 0``
    (checked exactly); ``inf`` beyond the float range.

    Examples
    --------
    >>> from fractions import Fraction
    >>> sqrt_up(Fraction(4)), sqrt_up(Fraction(0))
    (2.0, 0.0)
    >>> u = sqrt_up(Fraction(2)); Fraction(u) ** 2 >= 2 > Fraction(math.nextafter(u, 0)) ** 2
    True
    >>> sqrt_up(Fraction(10) ** -400), sqrt_up(Fraction(10) ** 700)
    (1.0000000000000001e-200, inf)
    """
    q = Fraction(q)
    if q <= 0:
        return 0.0
    u = _sqrt_near(q)
    if u == math.inf:
        return u
    while Fraction(u) ** 2 < q:
        u = math.nextafter(u, math.inf)
        if u == math.inf:
            return u
    while u > 0 and Fraction(math.nextafter(u, 0.0)) ** 2 >= q:
        u = math.nextafter(u, 0.0)
    return u


def sqrt_down(q: Fraction) -> float:
    """The largest float whose square is <= ``q >= 0`` (checked exactly);
    the largest finite float beyond the float range.

    Examples
    --------
    >>> from fractions import Fraction
    >>> sqrt_down(Fraction(2)) == math.nextafter(sqrt_up(Fraction(2)), 0)
    True
    >>> sqrt_down(Fraction(10) ** -400), sqrt_down(Fraction(10) ** 700) == sys.float_info.max
    (1e-200, True)
    >>> sqrt_down(Fraction(10) ** -700), sqrt_up(Fraction(10) ** -700)    # below the subnormals
    (0.0, 5e-324)
    """
    q = Fraction(q)
    if q <= 0:
        return 0.0
    u = min(_sqrt_near(q), sys.float_info.max)
    while u > 0 and Fraction(u) ** 2 > q:
        u = math.nextafter(u, 0.0)
    while u < sys.float_info.max and Fraction(math.nextafter(u, math.inf)) ** 2 <= q:
        u = math.nextafter(u, math.inf)
    return u


def exact_ratio2(net, x1, x2) -> Fraction:
    """Exact ``|N(x1) - N(x2)|^2 / |x1 - x2|^2`` (``x1 != x2``, rationals)."""
    x1 = [Fraction(v) for v in x1]
    x2 = [Fraction(v) for v in x2]
    y1, y2 = net.forward_exact(x1), net.forward_exact(x2)
    num = sum(((a - c) ** 2 for a, c in zip(y1, y2)), Fraction(0))
    den = sum(((a - c) ** 2 for a, c in zip(x1, x2)), Fraction(0))
    return num / den


def _slopes(act):
    """Negative-side slope of a piecewise linear activation, else None."""
    return act.slope if act.piecewise_linear else None


def _forward_and_vjp(layers, x, r=None):
    """Float forward pass; with ``r``, also ``J(x)^T r`` for the Jacobian of
    the linear piece at ``x``."""
    h = x
    masks = []
    for W, b, a in layers:
        pre = W @ h + b
        d = np.where(pre > 0, 1.0, a)
        masks.append(d)
        h = d * pre
    if r is None:
        return h, None
    g = r
    for (W, b, a), d in zip(reversed(layers), reversed(masks)):
        g = W.T @ (d * g)
    return h, g


def pair_search(net, *, starts=(), n_random=20, deadline=None, seed=0, scale=1.0,
                maxiter=200):
    """Minimise ``ratio^2(x0, x1)`` by L-BFGS from ``starts`` (pairs of float
    vectors) and ``n_random`` random pairs; returns the best float pair
    ``(ratio2_float, x0, x1)`` or None. Only piecewise-linear activations.

    ``scale`` sets the spread of the random starts (the biases' scale for
    affine layers; irrelevant for homogeneous ones)."""
    from scipy.optimize import minimize
    if any(_slopes(L.activation) is None for L in net.layers):
        return None
    # (sparse convolution matrices stay sparse: only products with vectors are taken)
    layers = [(L.W if issparse(L.W) else np.asarray(L.W, float),
               np.asarray(L.b, float), float(_slopes(L.activation))) for L in net.layers]
    n = net.n_in
    rng = np.random.default_rng(seed)

    seen = [None]        # best (value, point) evaluated so far

    class _Late(Exception):
        pass

    def f(p):
        if Deadline(deadline).expired():
            raise _Late()
        x0, x1 = p[:n], p[n:]
        d = x0 - x1
        q = float(d @ d)
        if q < 1e-300:
            return 1e300, np.zeros(2 * n)
        y0, _ = _forward_and_vjp(layers, x0)
        y1, _ = _forward_and_vjp(layers, x1)
        r = y0 - y1
        val = float(r @ r) / q
        _, g0 = _forward_and_vjp(layers, x0, r)
        _, g1 = _forward_and_vjp(layers, x1, r)
        grad = np.concatenate([2 * g0 / q - 2 * val * d / q, -2 * g1 / q + 2 * val * d / q])
        if np.isfinite(val) and (seen[0] is None or val < seen[0][0]):
            seen[0] = (val, p.copy())
        return val, grad

    best = None
    todo = [(np.asarray(a, float), np.asarray(c, float)) for a, c in starts]
    for _ in range(n_random):
        x0 = rng.standard_normal(n) * scale * 10.0 ** rng.uniform(-1, 1)
        x1 = x0 + rng.standard_normal(n) * scale * 10.0 ** rng.uniform(-2, 1)
        todo.append((x0, x1))
    for x0, x1 in todo:
        if Deadline(deadline).expired():
            break
        if not np.any(x0 != x1):
            continue
        p0 = np.concatenate([x0, x1])
        cand = []
        seen[0] = None
        try:
            # (weights far from unit scale overflow: such values are dropped below)
            with np.errstate(over="ignore", invalid="ignore"):
                f(p0)
                res = minimize(f, p0, jac=True, method="BFGS", options={"maxiter": maxiter})
            if np.all(np.isfinite(res.x)):
                cand.append((float(res.fun), res.x))
        except (ValueError, FloatingPointError):  # pragma: no cover - degenerate start
            pass
        except _Late:
            pass
        if seen[0] is not None:
            cand.append(seen[0])
        for v, p in cand:
            if np.all(np.isfinite(p)) and np.any(p[:n] != p[n:]) and (best is None or v < best[0]):
                best = (v, p[:n].copy(), p[n:].copy())
    return best


def cell_pair(W, b, point, positive):
    """Theorem 4's pair in the minimising cell: ``x1 = point``, ``x2 = x1 + a v``
    with ``v`` a rational approximation of the smallest right singular vector
    of ``W[positive]`` and ``a > 0`` the largest step keeping ``x2`` in the
    closed cell (``a <= 1``). Returns ``(x1, x2)`` exact or None."""
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    P = list(positive)
    if len(P) == 0:
        return None
    _, _, Vt = np.linalg.svd(W[P])
    vf = Vt[-1]
    v = [Fraction(float(c)).limit_denominator(10**12) for c in vf]
    if not any(v):
        return None
    from .exact import fractions_of
    Wq = fractions_of(W)
    bq = fractions_of(np.zeros(m) if b is None else b)
    x = [Fraction(c) for c in point]
    a = Fraction(1)
    for i in range(m):
        val = sum((w * c for w, c in zip(Wq[i], x)), bq[i])
        wv = sum((w * c for w, c in zip(Wq[i], v)), Fraction(0))
        if val > 0 and wv < 0:
            a = min(a, val / -wv)
        elif val < 0 and wv > 0:
            a = min(a, -val / wv)
    if a <= 0:
        return None
    return tuple(x), tuple(xi + a * vi for xi, vi in zip(x, v))


def best_pair(net, candidates):
    """The candidate pair (float or exact) with the smallest exact ratio^2.
    ``candidates``: list of ``(x1, x2, how)``. Returns a :class:`PairBound`
    or None."""
    best = None
    for x1, x2, how in candidates:
        x1 = tuple(Fraction(float(v)) if isinstance(v, float) else Fraction(v) for v in x1)
        x2 = tuple(Fraction(float(v)) if isinstance(v, float) else Fraction(v) for v in x2)
        if x1 == x2:
            continue
        r2 = exact_ratio2(net, x1, x2)
        if best is None or r2 < best.ratio2:
            best = PairBound(x1, x2, r2, how)
    return best
