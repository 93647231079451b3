"""Baselines for generator inversion (for tests and the benchmark harness).

1. :func:`invert_by_enumeration`: Proposition 4 of Balestriero et al.
   literally. ``G`` is affine on each activation region, so enumerate the
   regions that meet the latent box (depth-first over unit signs, one LP per
   branch) and solve each region's LP ``min ||A z + c - x||``; the best is the
   global optimum. Exponential; small generators only (``max_regions``).
2. :func:`gradient_descent`: Adam on ``||G(z) - x||^2`` with random restarts
   from ``N(0, I)`` projected on the box (Bora et al. 2017). Analytic
   backpropagation in numpy. No guarantee: ReLU networks have flat regions
   and spurious local minima.
3. :func:`layerwise_lp`: Lei et al. 2019: invert the last layer by an LP
   given the target, then the previous one with the result as target, and so
   on. Exact for expansive layers with an injective, well-conditioned
   structure; otherwise a heuristic.

All return :class:`solver.inversion.problem.InversionResult` (also importable
from :mod:`solver.inversion`).
"""
from __future__ import annotations

import time

import numpy as np

from ..deadline import Deadline
from .problem import (DEFAULT_LATENT_BOX, DEFAULT_TOL, check_norm, make_result,
                                latent_box_arrays, region_lp, require_dense_piecewise_linear,
                                residual_norm, tolerance, validate_target)
from ..lp import linprog_highs


__all__ = ["enumerate_regions", "invert_by_enumeration", "gradient_descent", "layerwise_lp"]

# ---------------------------------------------------------------------------
# 1. exhaustive region enumeration
# ---------------------------------------------------------------------------

def _interior_lp(M, m, lo, hi, row_norms, deadline=None):
    """Max ``s`` with ``M z + s |M_i| <= m``, ``lo + s <= z <= hi - s``,
    ``s <= 1``. Returns ``(s, z)`` or ``(None, None)`` (also when HiGHS
    stops at ``deadline``)."""
    n = len(lo)
    if M.shape[0]:
        Aub = np.hstack([M, row_norms[:, None]])
        bub = m
    else:
        Aub = np.zeros((0, n + 1))
        bub = np.zeros(0)
    box = np.vstack([np.hstack([np.eye(n), np.ones((n, 1))]),
                     np.hstack([-np.eye(n), np.ones((n, 1))])])
    Aub = np.vstack([Aub, box])
    bub = np.concatenate([bub, hi, -lo])
    c = np.zeros(n + 1)
    c[-1] = -1.0
    res = linprog_highs(c, A_ub=Aub, b_ub=bub, bounds=[(None, None)] * n + [(None, 1.0)],
                        deadline=deadline)
    if res.status != 0 or res.x is None:
        return None, None
    return float(res.x[-1]), res.x[:n]


def enumerate_regions(network, lo, hi, *, max_regions=None, progress=False, margin=1e-9,
                      deadline=None):
    """Yield the activation patterns of the full-dimensional activation
    regions that meet the interior of the box ``[lo, hi]``.

    Depth-first over the units, layer by layer; a branch is kept when the LP
    of :func:`_interior_lp` finds a ball of radius ``> margin`` inside it.
    Units whose sign does not change on the current region (its interior point
    is strictly on one side and the other side's LP fails) do not branch.

    Yields
    ------
    ``(pattern, z_interior)``: per-layer bool arrays and a point inside.
    Stops after ``max_regions`` regions, or silently at ``deadline`` (a
    ``time.monotonic()`` value; the caller tells a complete enumeration from
    a stopped one by that deadline).
    """
    from tqdm.auto import tqdm
    layers = network.layers
    n = network.n_in
    bar = tqdm(total=max_regions, desc="regions", unit="region", disable=not progress,
               leave=False)
    count = 0
    center = (lo + hi) / 2
    s0, z0 = _interior_lp(np.zeros((0, n)), np.zeros(0), lo, hi, np.zeros(0))
    if s0 is None or s0 <= margin:  # degenerate box: treat as a point
        z0 = center
    # stack items: (layer k, unit i, pattern so far (list of arrays), current layer
    # input map (A, c), region rows (M, m, norms), interior point)
    A0, c0 = np.eye(n), np.zeros(n)
    stack = [(0, 0, [], np.zeros(len(layers[0].b), bool), A0, c0,
              np.zeros((0, n)), np.zeros(0), np.zeros(0), z0)]
    try:
        while stack:
            if Deadline(deadline).expired():   # one region can take many LPs: look here
                return
            k, i, done, cur, A, c, M, m, nr, zc = stack.pop()
            L = layers[k]
            mk = L.W.shape[0]
            if i == mk:  # layer complete: move on
                # the float region map of solver.regionmap, composed along the
                # search (each partial map serves every branch below it)
                P = L.W @ A
                p = L.W @ c + L.b
                a = L.activation.slope
                D = np.where(cur, 1.0, a)
                pat = done + [cur]
                if k + 1 == len(layers):
                    count += 1
                    bar.update(1)
                    yield pat, zc
                    if max_regions is not None and count >= max_regions:
                        return
                    continue
                stack.append((k + 1, 0, pat, np.zeros(len(layers[k + 1].b), bool),
                              D[:, None] * P, D * p, M, m, nr, zc))
                continue
            if L.activation.is_identity:
                cur = cur.copy()
                cur[:] = True
                stack.append((k, mk, done, cur, A, c, M, m, nr, zc))
                continue
            alpha = L.W[i] @ A
            beta = float(L.W[i] @ c + L.b[i])
            an = float(np.linalg.norm(alpha))
            children = []
            if an == 0.0:
                children.append((beta >= 0, None))
            else:
                v = float(alpha @ zc + beta)
                for sgn in (True, False):
                    # active: -(alpha z + beta) <= 0 ; inactive: alpha z + beta <= 0
                    row = -alpha if sgn else alpha
                    rhs = beta if sgn else -beta
                    M2 = np.vstack([M, row[None, :]])
                    m2 = np.append(m, rhs)
                    nr2 = np.append(nr, an)
                    if (sgn and v > margin * an) or (not sgn and v < -margin * an):
                        # zc is strictly inside this child; keep it
                        children.append((sgn, (M2, m2, nr2, zc)))
                    else:
                        s, z = _interior_lp(M2, m2, lo, hi, nr2, deadline)
                        if s is not None and s > margin:
                            children.append((sgn, (M2, m2, nr2, z)))
            for sgn, data in children:
                cur2 = cur.copy()
                cur2[i] = sgn
                if data is None:
                    stack.append((k, i + 1, done, cur2, A, c, M, m, nr, zc))
                else:
                    stack.append((k, i + 1, done, cur2, A, c, *data))
    finally:
        bar.close()


def invert_by_enumeration(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX,
                          max_regions=10000, time_limit=None, progress=False,
                          tol=DEFAULT_TOL):
    """Global inversion by exhaustive region enumeration (Prop. 4 literally).

    Parameters
    ----------
    network, x, norm, latent_box, tol : as in :func:`solver.inversion.invert`.
    max_regions : stop after this many regions (then ``optimal`` is False).
    time_limit : seconds, or None.
    progress : show a tqdm progress bar.

    Returns
    -------
    :class:`InversionResult` with ``method = "enumeration"``; ``optimal`` is
    True when every region was visited (to LP tolerance); ``stats["regions"]``
    counts the regions.

    References
    ----------
    Balestriero et al., "Max-affine spline insights into deep generative
    networks", Proposition 4.
    """
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start)
    norm = check_norm(norm)
    x = validate_target(network, x)
    require_dense_piecewise_linear(network, "region enumeration")   # before any work
    lo, hi = latent_box_arrays(network, latent_box)
    best_z, best_v = None, np.inf
    count = 0
    complete = True
    for pat, _zc in enumerate_regions(network, lo, hi, max_regions=None, progress=progress,
                                      deadline=deadline.at):
        count += 1
        z, _v = region_lp(network, pat, x, lo, hi, norm, deadline=deadline.at)
        if z is not None:
            v = residual_norm(network.forward(z) - x, norm)
            if v < best_v:
                best_z, best_v = z, v
        if (max_regions is not None and count >= max_regions) or deadline.expired():
            complete = False
            break
    if deadline.expired():   # the enumeration may have stopped inside a region
        complete = False
    if best_z is None:
        return make_result("unknown", None, network, x, norm, lo, hi, start, "enumeration",
                           message="no region solved", stats={"regions": count})
    res = float(np.max(np.abs(network.forward(best_z) - x)))
    status = "exact" if res <= tolerance(x, tol) else "nearest"
    msg = (f"all {count} regions meeting the box visited" if complete
           else f"stopped after {count} regions (limit)")
    return make_result(status, best_z, network, x, norm, lo, hi, start, "enumeration",
                       optimal=complete or status == "exact", message=msg,
                       bound=best_v if complete else None,
                       stats={"regions": count, "complete": complete})


# ---------------------------------------------------------------------------
# 2. gradient descent with restarts
# ---------------------------------------------------------------------------

def _forward_batch(network, Z):
    """Forward pass of a batch (rows of Z); returns output, pre-activations
    and post-activations."""
    H = Z
    pres, posts = [], []
    for L in network.layers:
        Y = np.asarray(L.W @ H.T).T + L.b
        pres.append(Y)
        H = L.activation.forward(Y)
        posts.append(H)
    return H, pres, posts


def _grad_batch(network, Z, x):
    """Gradient of ``0.5 ||G(z) - x||^2`` for each row of Z (analytic backprop)."""
    from .peel import activation_derivative
    out, pres, posts = _forward_batch(network, Z)
    g = out - x
    for L, Y, H in zip(reversed(network.layers), reversed(pres), reversed(posts)):
        g = g * activation_derivative(L.activation, Y, H)
        g = np.asarray(L.W.T @ g.T).T
    return g, out


def gradient_descent(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, restarts=10,
                     steps=1000, lr=0.05, seed=0, tol=DEFAULT_TOL, z_init=None,
                     time_limit=None):
    """Projected Adam on ``||G(z) - x||_2^2`` with random restarts.

    Parameters
    ----------
    restarts : number of starting points ``z ~ N(0, I)`` (clipped to the box).
    steps, lr : Adam iterations and step size (betas 0.9, 0.999).
    seed : for the starting points.
    z_init : optional array of extra starting points (rows).
    time_limit : seconds (the best points so far are returned), or None.

    Returns
    -------
    :class:`InversionResult` (``method = "gradient-descent"``), the restart
    with the smallest residual in ``norm``; ``optimal`` only when exact.

    References
    ----------
    Bora, Jalal, Price, Dimakis, "Compressed sensing using generative models",
    ICML 2017.
    """
    start = time.monotonic()
    norm = check_norm(norm)
    x = validate_target(network, x)
    lo, hi = latent_box_arrays(network, latent_box)
    rng = np.random.default_rng(seed)
    Z = np.clip(rng.standard_normal((restarts, network.n_in)), lo, hi)
    if z_init is not None:
        Z = np.vstack([np.atleast_2d(z_init), Z])
    m1 = np.zeros_like(Z)
    m2 = np.zeros_like(Z)
    b1, b2, eps = 0.9, 0.999, 1e-12
    best = Z.copy()
    best_v = np.full(len(Z), np.inf)
    t_end = None if time_limit is None else start + float(time_limit)
    for it in range(1, steps + 1):
        if Deadline(t_end).expired():
            break
        g, out = _grad_batch(network, Z, x)
        v = np.abs(out - x).max(axis=1) if norm == "linf" else np.abs(out - x).sum(axis=1)
        better = v < best_v
        best[better], best_v[better] = Z[better], v[better]
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b2 * m2 + (1 - b2) * g * g
        step = lr * (m1 / (1 - b1 ** it)) / (np.sqrt(m2 / (1 - b2 ** it)) + eps)
        Z = np.clip(Z - step, lo, hi)
    out, _, _ = _forward_batch(network, Z)
    v = np.abs(out - x).max(axis=1) if norm == "linf" else np.abs(out - x).sum(axis=1)
    better = v < best_v
    best[better], best_v[better] = Z[better], v[better]
    j = int(np.argmin(best_v))
    z = best[j]
    res = float(np.max(np.abs(network.forward(z) - x)))
    status = "exact" if res <= tolerance(x, tol) else "nearest"
    return make_result(status, z, network, x, norm, lo, hi, start, "gradient-descent",
                       optimal=status == "exact",
                       message=f"best of {len(Z)} restarts x {steps} Adam steps "
                               "(no optimality proof)",
                       stats={"restarts": len(Z), "steps": steps,
                              "restart_residuals": [float(t) for t in best_v]})


# ---------------------------------------------------------------------------
# 3. layer-by-layer LP inversion
# ---------------------------------------------------------------------------

def _invert_layer_lp(layer, target, ulo, uhi, sign_tol, deadline=None):
    """LP for one layer: ``min t`` over the layer input ``u`` in ``[ulo, uhi]``
    with ``|act(W u + b) - target| <= t`` where each unit's piece is chosen by
    the target's sign (positive target = active piece)."""
    W, b = layer.W, layer.b
    m, n = W.shape
    a = layer.activation.slope
    rows, rhs = [], []
    one = -np.ones((m, 1))
    # y = W u + b ; constraint rows in (u, t)
    Wt = np.hstack([W, one])
    Wtn = np.hstack([-W, one])
    if layer.activation.is_identity:
        rows += [Wt, Wtn]
        rhs += [target - b, b - target]
    else:
        pos = target > sign_tol
        # upper side: act(y) <= target + t
        if a <= 1:
            rows.append(Wt)
            rhs.append(target - b)
            if a > 0:
                rows.append(np.hstack([a * W, one]))
                rhs.append(target - a * b)
        else:
            rows.append(np.where(pos[:, None], Wt, np.hstack([a * W, one])))
            rhs.append(np.where(pos, target - b, target - a * b))
        # lower side: act(y) >= target - t
        if a <= 1:
            if pos.any():
                rows.append(Wtn[pos])
                rhs.append((b - target)[pos])
            if a > 0 and (~pos).any():
                rows.append(np.hstack([-a * W, one])[~pos])
                rhs.append((a * b - target)[~pos])
        else:
            rows += [Wtn, np.hstack([-a * W, one])]
            rhs += [b - target, a * b - target]
    c = np.zeros(n + 1)
    c[-1] = 1.0
    bounds = [(ulo[j], uhi[j]) for j in range(n)] + [(0, None)]
    res = linprog_highs(c, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=bounds,
                        deadline=deadline)
    if res.status != 0 or res.x is None:
        return None
    return res.x[:n]


def layerwise_lp(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, tol=DEFAULT_TOL,
                 time_limit=None):
    """Layer-by-layer LP inversion (Lei et al. 2019).

    Each layer ``u_k = act(W_k u_{k-1} + b_k)`` is inverted by one LP given the
    target ``u_k``: units with a positive target are taken active
    (``|W u + b - u_k| <= t``), the others inactive (``W u + b <= u_k + t``
    for ReLU), minimising ``t``; ``u_{k-1}`` is restricted to its interval
    bounds over the box (so ``u >= 0`` after a ReLU layer, the box for ``z``).
    The result becomes the target of the layer below.

    ``time_limit`` (seconds, or None) is HiGHS's limit on the LPs together;
    an LP stopped by it ends the method with status ``unknown``.

    Returns
    -------
    :class:`InversionResult` (``method = "layerwise-lp"``), no optimality claim
    unless exact.

    References
    ----------
    Lei, Jalal, Dhillon, Dimakis, "Inverting deep generative models, one layer
    at a time", NeurIPS 2019.
    """
    from ..bounds import activation_bounds, interval_bounds
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    norm = check_norm(norm)
    x = validate_target(network, x)
    require_dense_piecewise_linear(network, "the layer-wise LP")
    lo, hi = latent_box_arrays(network, latent_box)
    ib = interval_bounds(network, lo, hi)
    post = [(lo, hi)] + [activation_bounds(L.activation, *b) for L, b in
                         zip(network.layers, ib)]
    target = x
    for k in range(len(network.layers) - 1, -1, -1):
        u = _invert_layer_lp(network.layers[k], target, post[k][0], post[k][1],
                             sign_tol=tolerance(target, 1e-9), deadline=deadline)
        if u is None:
            why = "time limit" if Deadline(deadline).expired() else "failed"
            return make_result("unknown", None, network, x, norm, lo, hi, start, "layerwise-lp",
                               message=f"LP of layer {k}: {why}")
        target = u
    z = np.clip(target, lo, hi)
    res = float(np.max(np.abs(network.forward(z) - x)))
    status = "exact" if res <= tolerance(x, tol) else "nearest"
    return make_result(status, z, network, x, norm, lo, hi, start, "layerwise-lp",
                       optimal=status == "exact", message="one LP per layer, last to first")
