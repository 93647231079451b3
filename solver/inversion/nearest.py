"""The L-infinity nearest point through a monotone head: an accurate local
minimiser (region walk) to make the MIP's cutoff tight.

For a generator ``G = act o N`` with a strictly monotone head (sigmoid, tanh,
identity) and ``N`` piecewise linear, the nearest point in the output space
minimises ``t(z) = max_i |act(y_i(z)) - x_i|`` with ``y = N(z)``.
``|act(y_i) - x_i| <= t`` is the interval ``[act^-1(x_i - t), act^-1(x_i + t)]``
of ``y_i`` (:func:`solver.inversion_peel.target_box`, an end infinite where
``x_i -+ t`` leaves the range), so on one activation region, where
``y = A z + c`` (Balestriero et al., Prop. 4), ``min t`` is a
one-parameter family of LPs: :func:`region_minimax` solves it by Newton steps
on the interval ends (an LP in ``(z, t)`` with the ends linearised at the
current level, then the level recomputed by the forward pass). A minimiser
usually lies on kinks of a few units; :func:`region_walk` moves to the
adjacent region across each such kink while that lowers ``t``.

The point only has to be *good*: every value reported is the floating-point
forward pass of the returned ``z``; the proof of optimality is elsewhere (the
range bound or an infeasible MIP just below this level, in
:func:`solver.inversion.peeled.nearest_monotone_head`). A better incumbent makes
that MIP's level tighter, and often attains the range bound outright (a
background pixel of a noisy image below 0 costs at least its distance to the
sigmoid's range, and the walk drives that pixel's logit down).

References
----------
R. Balestriero, S. Paris, R. Baraniuk, "Max-affine spline insights into deep
generative networks", Prop. 4 (inversion is a search over regions, each an
affine problem).
"""
from __future__ import annotations

import numpy as np

from ..deadline import Deadline
from ..lp import linprog_highs
from .problem import activation_pattern, region_affine, region_constraints, residual_norm

__all__ = ["region_minimax", "region_walk"]


def _residual(network, z, x):
    """L-inf output residual by the floating-point forward pass."""
    return residual_norm(network.forward(np.asarray(z, float)) - x, "linf")


def _slopes(head, x, t):
    """Interval ends of ``|act(y) - x| <= t`` and their derivatives in ``t``
    (``d/dt act^-1(x + t) = 1 / act'(act^-1(x + t))``)."""
    from .peel import activation_derivative, target_box
    tlo, thi = target_box(head, x, t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dhi = 1.0 / activation_derivative(head, thi, head.forward(thi))
        dlo = -1.0 / activation_derivative(head, tlo, head.forward(tlo))
    return tlo, thi, dlo, dhi


def _lp_active_set(G, g, lo, hi, tlo, thi, v0, first=64, rounds=8, deadline=None):
    """``min t`` over ``G (z, t) <= g``, ``lo <= z <= hi``, ``tlo <= t <= thi``
    by an active set: the rows tightest at ``v0`` first, then the rows the
    LP's point violates, until it violates none (the answer is that of the
    full LP; the small LPs are much faster than one with every row).
    Returns the point or None (infeasible, or not solved by ``deadline``)."""
    n = G.shape[1] - 1
    cost = np.zeros(n + 1)
    cost[-1] = 1.0
    bounds = [(lo[j], hi[j]) for j in range(n)] + [(tlo, thi)]
    scale = 1.0 + np.abs(G) @ np.abs(v0) + np.abs(g)
    slack = (g - G @ v0) / scale
    keep = np.zeros(len(g), bool)
    keep[np.argsort(slack)[:first]] = True
    for _ in range(rounds):
        try:
            res = linprog_highs(cost, A_ub=G[keep], b_ub=g[keep], bounds=bounds,
                                deadline=deadline)
        except ValueError:
            return None
        if res.status != 0 or res.x is None:
            return None
        viol = (G @ res.x - g) > 1e-9 * scale
        viol &= ~keep
        if not viol.any():
            return res.x
        # add the violated rows (the worst few hundred at most per round)
        idx = np.flatnonzero(viol)
        if len(idx) > 256:
            idx = idx[np.argsort(-((G[idx] @ res.x - g[idx]) / scale[idx]))[:256]]
        keep[idx] = True
    return None


def region_minimax(prenet, head, x, pattern, lo, hi, z, t0, *, lower=0.0, steps=6,
                   network=None, deadline=None):
    """Minimise the L-inf output residual over one closed activation region.

    Parameters
    ----------
    prenet : the network without its head (pre-activations of the last layer).
    head : the head :class:`solver.activations.Activation` (strictly monotone).
    x : target; pattern : activation pattern of the region
        (:func:`solver.inversion_problem.activation_pattern`).
    lo, hi : latent box. z, t0 : a point of the region and its residual.
    lower : a proved lower bound of the residual (the LP's ``t`` is kept above).
    steps : Newton steps.
    network : the full network (default: ``prenet`` with ``head``), for the
        forward pass that scores a point.
    deadline : ``time.monotonic()`` value: no step starts after it, and the
        LPs stop there (None: no limit).

    Returns
    -------
    ``(z, t)``: the best point found in the region and its residual by the
    floating-point forward pass (``z`` itself when nothing improves).

    Notes
    -----
    Each step solves ``min t`` subject to the region's rows, the box and
    ``tlo(t0) + dlo (t - t0) <= A z + c <= thi(t0) + dhi (t - t0)`` (the
    interval ends linearised at the current level; rows with an infinite end
    at ``t0`` are left out, as are rows whose end is too steep to linearise).
    The LP's point is scored by the forward pass, so linearisation error
    cannot make the answer wrong, only the step short.
    """
    if Deadline(deadline).expired():    # (the region's maps alone take a while when wide)
        return np.asarray(z, float), float(t0)
    score_net = network
    if score_net is None:
        from ..network import DenseLayer, Network
        L = prenet.layers[-1]
        score_net = Network(prenet.layers[:-1] + (DenseLayer(L.W, L.b, head),))
    pres, A, c = region_affine(prenet, pattern)
    M, m = region_constraints(prenet, pattern, pres)
    n = prenet.n_in
    best, best_t = np.asarray(z, float), float(t0)
    t = best_t
    for _ in range(steps):
        if Deadline(deadline).expired():
            break
        tlo, thi, dlo, dhi = _slopes(head, x, t)
        up = np.isfinite(thi) & np.isfinite(dhi)
        dn = np.isfinite(tlo) & np.isfinite(dlo)
        # A z - dhi t <= thi - dhi t0 - c ;  -A z + dlo t <= c - tlo + dlo t0
        rows = [np.hstack([A[up], -dhi[up, None]]), np.hstack([-A[dn], dlo[dn, None]])]
        rhs = [thi[up] - dhi[up] * t - c[up], c[dn] - tlo[dn] + dlo[dn] * t]
        if M.shape[0]:
            rows.append(np.hstack([M, np.zeros((M.shape[0], 1))]))
            rhs.append(m)
        G, g = np.vstack(rows), np.concatenate(rhs)
        sol = _lp_active_set(G, g, lo, hi, max(lower, 0.0), t, np.append(best, t),
                             deadline=deadline)
        if sol is None:
            break
        cand = np.clip(sol[:n], lo, hi)
        tc = _residual(score_net, cand, x)
        if tc < best_t:
            improved = best_t - tc
            best, best_t = cand, tc
            t = tc
            if improved <= 1e-10 * best_t:
                break
        else:
            break
    return best, best_t


def region_walk(network, prenet, x, z, lo, hi, *, lower=0.0, stop_at=None, deadline=None,
                max_moves=200, kink_tol=1e-7):
    """Local search for the L-inf nearest point over adjacent activation
    regions (:func:`region_minimax` in each).

    From the region of ``z``: minimise in the region; at the minimiser, the
    units at their kink (``|pre-activation| <= kink_tol * (1 + |W| |u|)``)
    bound the region; the region across each such kink is tried in turn and
    the walk moves to the first that lowers the residual. Stops at a point no
    adjacent region improves, after ``max_moves`` moves, or at the deadline.

    Parameters
    ----------
    network : a network whose head is strictly monotone or piecewise linear
        and whose hidden layers are piecewise linear.
    prenet : the same without its head
        (:func:`solver.inversion.problem.pre_activation_network`).
    x : target; z : start; lo, hi : latent box.
    lower : proved lower bound on the residual (no LP goes below it).
    stop_at : stop as soon as the residual is at most this (default: ``lower``
        to ``1e-9`` relative), e.g. where optimality is proved to a gap.

    Returns
    -------
    ``(z, t, info)``: the point, its floating-point L-inf output residual, and
    counters (``regions`` solved, ``moves``).

    Examples
    --------
    >>> from solver.network import make_network
    >>> rng = np.random.default_rng(0)
    >>> net = make_network([rng.standard_normal((6, 2)), rng.standard_normal((5, 6))],
    ...                    [0.1 * rng.standard_normal(6), np.zeros(5)],
    ...                    activations=["relu", "sigmoid"])
    >>> x = net.forward(np.array([0.3, -0.2])) + 0.01
    >>> from solver.inversion import pre_activation_network
    >>> pre = pre_activation_network(net)
    >>> z, t, info = region_walk(net, pre, x, np.zeros(2), -np.ones(2), np.ones(2))
    >>> bool(t <= _residual(net, np.zeros(2), x))
    True
    """
    head = network.layers[-1].activation
    z = np.clip(np.asarray(z, float), lo, hi)
    t = _residual(network, z, x)
    info = {"regions": 0, "moves": 0}
    stop = lower * (1 + 1e-9) if stop_at is None else max(stop_at, lower * (1 + 1e-9))
    if t <= stop:
        return z, t, info
    pat = activation_pattern(prenet, z)
    z, t = region_minimax(prenet, head, x, pat, lo, hi, z, t, lower=lower, network=network,
                          deadline=deadline)
    info["regions"] += 1
    tried = set()
    while info["moves"] < max_moves and not Deadline(deadline).expired():
        if t <= stop:
            break
        kinks = []
        u = z
        for k, L in enumerate(prenet.layers[:-1]):
            y = L.W @ u + L.b
            scale = 1.0 + np.abs(L.W) @ np.abs(u) + np.abs(L.b)
            if not L.activation.is_identity:
                kinks += [(k, int(j)) for j in np.flatnonzero(np.abs(y) <= kink_tol * scale)]
            u = L.activation.forward(y)
        moved = False
        for k, j in kinks:
            if Deadline(deadline).expired():
                break
            p2 = [p.copy() for p in pat]
            p2[k][j] = ~p2[k][j]
            key = (k, j, round(t, 15))
            if key in tried:
                continue
            tried.add(key)
            z2, t2 = region_minimax(prenet, head, x, p2, lo, hi, z, t, lower=lower,
                                    network=network, deadline=deadline)
            info["regions"] += 1
            if t2 < t * (1 - 1e-12):
                # z2 lies in the closed region p2 (the one solved)
                z, t, pat, moved = z2, t2, p2, True
                info["moves"] += 1
                break
        if not moved:
            break
    return z, t, info

