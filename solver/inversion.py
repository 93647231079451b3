"""Inverting generators: the target's structure first, then mixed-integer
programming.

Given a generator ``G`` (a :class:`solver.network.Network`) and a target
``x``, :func:`invert` finds a latent ``z`` in a box with ``G(z) = x``, proves
that no ``z`` in the box is closer when ``x`` is off the range (the nearest
point in the L-infinity or L1 norm), and says whether the preimage is unique.

Two algorithms share this module. The default (:func:`invert`, issue 15)
first *peels* the layers whose rows the target pins
(:mod:`solver.inversion_peel`: certified boxes, ReLU signs fixed by the
target, LP refinement in the latent space) and hands a MIP only what remains;
its steps are in :func:`invert`'s Notes. ``invert(peel=False)`` runs the
whole-network MIP described below (:func:`_invert_mip`), kept for comparison
and used by the default path for the nearest point of piecewise-linear heads.

Why an integer program: ``G`` is affine on each activation region
(Balestriero et al., Prop. 4), so ``min_z ||G(z) - x||`` is a minimum over
regions of LPs; one binary per *unstable* unit selects the region, with
big-M constants from bounds propagated over the box (:mod:`solver.bounds`,
:mod:`solver.netmilp`). The baselines of :mod:`solver.inversion_baselines`
(region enumeration, gradient descent, layer-by-layer LP) solve the same
problem for comparison.

The output layer is not encoded as ``u = act(y)``; its residual is encoded
directly. For an output unit with negative slope ``a`` and target ``x_i``,
``|act(y_i) - x_i| <= r_i`` is, for ReLU (``a = 0``),

* ``y_i <= x_i + r_i`` and ``r_i >= -x_i`` (always; convex);
* nothing more if ``x_i <= 0``;
* ``y_i >= x_i - r_i`` (the unit is active) if ``x_i > r_ub``, where
  ``r_ub`` is an upper bound on the optimal residual: **the target fixes the
  unit's sign, no binary**;
* otherwise (``0 < x_i <= r_ub``) the disjunction ``y_i >= x_i - r_i`` or
  ``r_i >= x_i``, one binary.

(Leaky and identity outputs are handled the same way, see
:func:`encode_residual`.) With ``x = G(z0)`` and ``r_ub`` tiny, every output
with ``x_i > 0`` pins its pre-activation and the remaining binaries are those
of the unstable hidden units only.

Algorithm of the whole-network MIP (:func:`_invert_mip`, ``invert(peel=False)``):

1. Bounds: interval arithmetic, then LP tightening of the hidden layers;
   output units are LP-tightened only where a binary needs a big-M.
2. *Sign fixing under the target* (:func:`target_tighten`): LPs over the
   relaxation of the MIP with ``r <= r_ub`` fix hidden units whose
   post-activation must be positive (or pre-activation negative); with
   ``x = G(z0)`` the positive outputs pin the hidden layer and usually every
   binary disappears.
3. *Exact phase*: the MIP with ``r <= tol_abs``. A solution is polished by
   the LP of its activation region and a Gauss-Newton step, and re-checked by
   a floating-point forward pass: status ``exact``. If the MIP (or already its
   LP relaxation) is infeasible, no ``z`` in the box reproduces ``x`` to the
   tolerance.
4. *Nearest phase*: heuristic points (layer-wise LP, gradient descent from
   it and from a few random starts, the box centre, all polished) give
   ``r_ub``; ``r <= r_ub`` cannot cut off a minimiser. For L-infinity the
   residual range is cut at the target values ``|x_i|``: inside one interval
   no output needs a binary (:func:`_interval_search`); LP screening, the
   incumbent's interval, then bisection below it. For L1, MIPs with growing
   levels ``rho`` (:func:`_level_search`). Status ``nearest``; ``optimal``
   is the MIP's optimality proof (to the backend's tolerances; pywraplp's
   default relative gap is 1e-4) together with the infeasibility proofs of
   the lower intervals; ``bound`` is the proved lower bound.
5. *Uniqueness*: a feasibility MIP for ``z'`` with residual ``<= eps`` and
   ``||z' - z||_inf >= delta`` (two binaries per latent coordinate). Found:
   ``unique = False`` and, for exact targets, an attempt to turn
   ``(z, z')`` into an exact non-injectivity witness (rational arithmetic,
   :meth:`Network.check_witness`). Proved infeasible: ``unique = True``,
   which means *no second preimage farther than delta within the box, to
   solver tolerance*. Otherwise ``None``. For a ``nearest`` answer the
   question is whether another point is equally near (L-infinity nearest
   points are often not unique: the residual is set by one coordinate).

The default latent box is ``[-5, 5]^n`` (:data:`DEFAULT_LATENT_BOX`): for
``N(0, I)`` latents a coordinate leaves it with probability 5.7e-7. It is
always reported.

References
----------
R. Balestriero, S. Paris, R. Baraniuk, "Max-affine spline insights into deep
generative networks", Proposition 4 (inversion is a search over regions,
i.e. an integer program).
Q. Lei, A. Jalal, I. Dhillon, A. Dimakis, "Inverting deep generative models,
one layer at a time", NeurIPS 2019 (layer-wise LP baseline).
A. Bora, A. Jalal, E. Price, A. Dimakis, "Compressed sensing using
generative models", ICML 2017 (gradient descent baseline).
V. Tjeng, K. Xiao, R. Tedrake, "Evaluating robustness of neural networks with
mixed integer programming", ICLR 2019 (big-M encoding, bounds).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.optimize import linprog

from .deadline import Deadline
from .errors import InputError
# the problem's pieces live in inversion_problem (shared with inversion_baselines);
# they stay importable from here
from .inversion_problem import (  # noqa: F401
    DEFAULT_DELTA, DEFAULT_LATENT_BOX, DEFAULT_TOL, MIP_GAP, NORM_NAMES, NORMS,
    InversionResult, check_norm, make_result, activation_pattern, latent_box_arrays,
    region_affine, region_constraints, region_lp, residual_norm, tolerance, validate_target)


def polish(network, z, x, lo, hi, norm="linf", *, patterns=(), keep_far=None):
    """Improve a candidate: the LP of its closed activation region (and of
    any extra ``patterns``), then Gauss-Newton steps ``z += lstsq(A, x - G(z))``
    inside the region. Only improvements of the floating-point residual in
    ``norm`` are kept. ``keep_far=(z_ref, delta)`` rejects points closer than
    ``delta`` to ``z_ref``."""
    z = np.clip(np.asarray(z, float), lo, hi)

    def score(v):
        if keep_far is not None and np.max(np.abs(v - keep_far[0])) < keep_far[1] * (1 - 1e-9):
            return math.inf
        return residual_norm(network.forward(v) - x, norm)

    best, best_s = z, score(z)
    for pat in [activation_pattern(network, z), *patterns]:
        try:
            zp, _ = region_lp(network, pat, x, lo, hi, norm)
        except ValueError:
            zp = None
        if zp is not None:
            s = score(zp)
            if s < best_s:
                best, best_s = zp, s
    for _ in range(3):  # Gauss-Newton in the region of the current best
        _, A, c = region_affine(network, activation_pattern(network, best))
        r = x - network.forward(best)
        try:
            step = np.linalg.lstsq(A, r, rcond=None)[0]
        except np.linalg.LinAlgError:
            break
        cand = np.clip(best + step, lo, hi)
        s = score(cand)
        if s < best_s:
            best, best_s = cand, s
        else:
            break
    return best


# ---------------------------------------------------------------------------
# MIP model
# ---------------------------------------------------------------------------

def ambiguous_outputs(network, x, r_ub, r_lb=0.0):
    """Output units whose activation piece the target does not decide when the
    residual lies in ``[r_lb, r_ub]`` (they need a binary and a big-M).

    For ReLU-like outputs (slope ``a < 1``) these are ``r_lb < x_i < r_ub``
    with ``r_lb >= 0``: ``x_i <= r_lb`` means ``x_i - r <= 0`` (the inactive
    piece suffices), ``x_i >= r_ub`` means ``x_i - r >= 0`` (the unit must
    be active). Mirrored for slopes ``a > 1``; none for identity outputs.
    """
    a = network.layers[-1].activation.slope
    if network.layers[-1].activation.is_identity:
        return np.zeros(len(x), bool)
    r_lb = max(0.0, float(r_lb))
    if a < 1:
        return (x > r_lb) & (x < r_ub)
    return (x < -r_lb) & (x > -r_ub)


def encode_residual(builder, network, y, x, ylo, yhi, norm, r_ub, *, r_lb=0.0,
                    order_chain=True):
    """Add ``|act(y_i) - x_i| <= r_i`` for the output layer.

    Parameters
    ----------
    builder : :class:`solver.netmilp.MilpBuilder`
    y : int array, output pre-activation variables.
    x : target.
    ylo, yhi : bounds on ``y`` (only used for the big-M of ambiguous units).
    norm : ``"linf"`` (one variable ``t``, ``r_i = t``) or ``"l1"`` (one
        ``r_i`` per unit, objective ``sum r_i``).
    r_ub : upper bound on the residual (``t <= r_ub``; for L1
        ``sum r_i <= r_ub``); it must be at least the optimum for the model to
        contain a minimiser.
    r_lb : lower bound on ``t`` (L-infinity only; ignored for L1). With
        ``[r_lb, r_ub]`` between two consecutive values of ``|x_i|`` no
        output unit is ambiguous: the model has no output binaries.
    order_chain : for L-infinity and ReLU outputs, add ``d_j <= d_i`` for
        ambiguous ``x_j <= x_i`` (valid: ``d_i = [x_i > t]`` is always a
        feasible choice), which removes symmetric branches.

    Returns
    -------
    ``(r_vars, binaries)``: the residual variable(s) (length 1 for linf) and
    the binaries of ambiguous units (-1 elsewhere). The objective (sum of
    ``r_vars``) is set.

    Notes
    -----
    With slope ``a`` (0 relu, 1 identity) and ``act(y) = max(y, a y)`` for
    ``a <= 1`` (``min`` for ``a > 1``), ``act(y) <= x + r`` and
    ``act(y) >= x - r`` are each either convex (both pieces at once) or a
    disjunction of the two pieces that the sign of ``x`` decides unless
    ``|x| <= r_ub``.
    """
    m = len(x)
    a = network.layers[-1].activation.slope
    ident = network.layers[-1].activation.is_identity
    if norm == "linf":
        r_lb = min(max(0.0, float(r_lb)), r_ub)
        t = builder.add_var(r_lb, r_ub, name="t", cost=1.0)
        r = np.full(m, t)
        rv = np.array([t])
    else:
        r = builder.add_vars(m, 0.0, r_ub, names=[f"r{i}" for i in range(m)], cost=1.0)
        builder.add_row(r, 1.0, hi=r_ub)  # the total, not only each term, is <= r_ub
        rv = r
        r_lb = 0.0
    binv = np.full(m, -1, dtype=int)
    amb = ambiguous_outputs(network, x, r_ub, r_lb)
    idx = np.arange(m)
    if ident:
        builder.add_rows([(1.0, y), (-1.0, r)], -np.inf, x)   # y - r <= x
        builder.add_rows([(1.0, y), (1.0, r)], x, np.inf)     # y + r >= x
        return rv, binv
    if a < 1:
        # upper side, convex: y - r <= x, a y - r <= x (a = 0: r >= -x)
        builder.add_rows([(1.0, y), (-1.0, r)], -np.inf, x)
        if a > 0:
            builder.add_rows([(a, y), (-1.0, r)], -np.inf, x)
        else:
            neg = x < 0
            if neg.any():
                if norm == "linf":  # a row, so that -x_i > r_ub makes the model infeasible
                    builder.add_row([t], [1.0], lo=float(np.max(-x[neg])))
                else:
                    builder.add_rows([(1.0, r[neg])], -x[neg], np.inf)
        # lower side
        sure_neg = (x <= r_lb) & ~amb   # x - r <= 0: the inactive piece suffices
        sure_pos = (x > r_lb) & ~amb    # x >= r_ub: x - r >= 0, must be active
        if a > 0 and sure_neg.any():
            builder.add_rows([(a, y[sure_neg]), (1.0, r[sure_neg])], x[sure_neg], np.inf)
        if sure_pos.any():
            builder.add_rows([(1.0, y[sure_pos]), (1.0, r[sure_pos])], x[sure_pos], np.inf)
        ai = idx[amb]
        if len(ai):
            d = builder.add_binaries(len(ai), names=[f"o{i}" for i in ai])
            binv[ai] = d
            xa = x[ai]
            M1 = np.maximum(0.0, xa - ylo[ai])
            M2 = np.maximum(0.0, xa - a * ylo[ai])
            if not (np.all(np.isfinite(M1)) and np.all(np.isfinite(M2))):
                raise InputError("missing output bound for an ambiguous unit")
            # d = 1: y + r >= x ;  d = 0: a y + r >= x
            builder.add_rows([(1.0, y[ai]), (1.0, r[ai]), (-M1, d)], xa - M1, np.inf)
            builder.add_rows([(a, y[ai]), (1.0, r[ai]), (M2, d)], xa, np.inf)
            if order_chain and norm == "linf" and a == 0 and len(ai) > 1:
                o = np.argsort(xa, kind="stable")
                builder.add_rows([(1.0, d[o[:-1]]), (-1.0, d[o[1:]])], -np.inf, 0.0)
    else:
        # a > 1: act = min(y, a y); lower side convex
        builder.add_rows([(1.0, y), (1.0, r)], x, np.inf)
        builder.add_rows([(a, y), (1.0, r)], x, np.inf)
        sure_pos = (x >= -r_lb) & ~amb  # x + r >= 0
        sure_neg = (x < -r_lb) & ~amb   # x <= -r_ub: x + r <= 0
        if sure_pos.any():
            builder.add_rows([(1.0, y[sure_pos]), (-1.0, r[sure_pos])], -np.inf, x[sure_pos])
        if sure_neg.any():
            builder.add_rows([(a, y[sure_neg]), (-1.0, r[sure_neg])], -np.inf, x[sure_neg])
        ai = idx[amb]
        if len(ai):
            d = builder.add_binaries(len(ai), names=[f"o{i}" for i in ai])
            binv[ai] = d
            xa = x[ai]
            M1 = np.maximum(0.0, yhi[ai] - xa)
            M2 = np.maximum(0.0, a * yhi[ai] - xa)
            # d = 1: y - r <= x ; d = 0: a y - r <= x
            builder.add_rows([(1.0, y[ai]), (-1.0, r[ai]), (M1, d)], -np.inf, xa + M1)
            builder.add_rows([(a, y[ai]), (-1.0, r[ai]), (-M2, d)], -np.inf, xa)
    return rv, binv


def inversion_model(network, x, lo, hi, bounds, norm, r_ub, *, away=None, fixed=None,
                    r_lb=0.0):
    """Build the inversion MIP.

    Parameters
    ----------
    network, x, lo, hi, norm : as in :func:`invert` (box as arrays).
    bounds : pre-activation bounds (finite) valid over the box.
    r_ub, r_lb : residual bounds (see :func:`encode_residual`).
    away : optional ``(z_ref, delta)``: add ``||z - z_ref||_inf >= delta``
        with two binaries per coordinate (the uniqueness MIP).
    fixed : optional per-layer sign arrays (+1/-1/0) for the hidden layers
        (see :func:`solver.netmilp.encode_network`), e.g. from
        :func:`target_tighten`.

    Returns
    -------
    ``(builder, encoding, r_vars, out_binaries)``.
    """
    from .netmilp import MilpBuilder, encode_network
    B = MilpBuilder()
    enc = encode_network(B, network, bounds, box=(lo, hi), encode_output=False, fixed=fixed)
    ylo, yhi = bounds[-1]
    rv, ob = encode_residual(B, network, enc.pre[-1], x, ylo, yhi, norm, r_ub, r_lb=r_lb)
    if away is not None and not _add_away(B, enc, away, lo, hi):
        return None
    return B, enc, rv, ob


def _output_subnetwork(network, keep):
    """The network with only the output units in ``keep`` (a relaxation of any
    constraint set on the outputs: fewer rows)."""
    from .network import DenseLayer, Network
    L = network.layers[-1]
    return Network(network.layers[:-1] + (DenseLayer(L.W[keep], L.b[keep], L.activation),))


def target_tighten(network, x, lo, hi, bounds, norm, r_ub, *, deadline=None, max_rounds=6,
                   stats=None, full_rows=True, big_m=True):
    """Sign fixing and bound tightening *under the target*: LPs over the
    relaxation of the inversion MIP (residual ``<= r_ub``, binaries relaxed).

    For each hidden unit with a binary: if ``min u_j > 0`` the unit is active
    (``act(y) > 0`` implies ``y > 0``); else if ``max y_j < 0`` it is
    inactive. Rounds repeat (the model is rebuilt with the fixed units linear,
    a tighter relaxation) until nothing new is fixed; then the units still
    free get ``[min y_j, max y_j]`` as bounds (smaller big-M). With
    ``x = G(z0)`` the outputs ``x_i > 0`` usually pin the last hidden layer,
    and then the layers below, so most or all binaries disappear.

    Speed: the first rounds use only the output rows that must be active
    (``x_i >= r_ub``), then those that can be (``x_i > 0``; ReLU-like
    outputs): relaxations with far fewer rows;
    the final rounds use every row (unless ``full_rows=False``). ``big_m``
    switches the final bound pass off. An LP is skipped when the last LP point
    already shows it cannot fix the unit (``u_j <= 0`` there, resp.
    ``y_j >= 0``).

    The results hold on the whole feasible set of the MIP with this ``r_ub``,
    so they are valid for this ``r_ub`` and any smaller one, not a larger one.
    LP values are padded by ``LP_PAD (1 + |v|)``; soundness is up to LP
    tolerance, like the MIP itself.

    Returns
    -------
    ``(bounds, fixed, infeasible)``: tightened bounds, per-layer sign arrays
    for :func:`inversion_model`, and True if the relaxation itself is
    infeasible (then so is the MIP, to LP tolerance).
    """
    from .bounds import LP_PAD, PersistentLP
    bounds = [(np.array(a, float), np.array(b, float)) for a, b in bounds]
    nh = len(network.layers) - 1
    fixed = [np.zeros(len(b[0]), dtype=np.int8) for b in bounds]
    st = {"rounds": 0, "lps": 0, "fixed_active": 0, "fixed_inactive": 0, "tightened": 0}
    t0 = time.monotonic()

    def pad(v):
        return LP_PAD * (1 + abs(v))

    def out_of_time():
        return Deadline(deadline).expired()

    stages = []
    a = network.layers[-1].activation.slope
    if not network.layers[-1].activation.is_identity and a < 1:
        for keep in (x >= r_ub, x > 0):  # sure-active rows, then all that can be active
            if 0 < keep.sum() < len(x) and not any(np.array_equal(keep, s) for s in stages):
                stages.append(keep)
    if full_rows or not stages:
        stages.append(None)
    last_keep = stages[-1]

    def model(keep):
        if keep is None:
            net, xs, bs = network, x, bounds
        else:
            net = _output_subnetwork(network, keep)
            xs = x[keep]
            bs = bounds[:-1] + [(bounds[-1][0][keep], bounds[-1][1][keep])]
        B, enc, _, _ = inversion_model(net, xs, lo, hi, bs, norm, r_ub, fixed=fixed)
        return PersistentLP(B.matrix(), B.row_lb, B.row_ub, B.lb, B.ub), enc

    if nh == 0:
        return bounds, fixed, False
    for keep in stages:
        for _ in range(max_rounds):
            if out_of_time():
                break
            st["rounds"] += 1
            lp, enc = model(keep)
            v, s = lp.extreme(enc.z[0], +1, Deadline(deadline).remaining())
            st["lps"] += 1
            if s == "infeasible":
                st["seconds"] = round(time.monotonic() - t0, 4)
                if stats is not None:
                    stats.update(st)
                return bounds, fixed, True
            new = 0
            for k in reversed(range(nh)):  # the target pins the last layer first
                for j in np.flatnonzero(enc.binaries[k] >= 0):
                    if out_of_time():
                        break
                    d, y, u = enc.binaries[k][j], enc.pre[k][j], enc.post[k][j]
                    p = lp.point()
                    if p is None:
                        break
                    if p[u] > pad(p[u]):
                        umin, s = lp.extreme(u, +1, Deadline(deadline).remaining())
                        st["lps"] += 1
                        if umin is not None and umin > pad(umin):
                            fixed[k][j] = 1
                            lp.set_bounds(d, 1.0, 1.0)
                            new += 1
                            st["fixed_active"] += 1
                    elif p[y] < -pad(p[y]):
                        ymax, s = lp.extreme(y, -1, Deadline(deadline).remaining())
                        st["lps"] += 1
                        if ymax is not None and ymax < -pad(ymax):
                            fixed[k][j] = -1
                            lp.set_bounds(d, 0.0, 0.0)
                            new += 1
                            st["fixed_inactive"] += 1
            if new == 0:
                break
    # big-M of the units still free, over the full relaxation
    if big_m and not out_of_time() and any((f == 0).any() for f in fixed[:nh]):
        lp, enc = model(last_keep)
        for k in range(nh):
            for j in np.flatnonzero(enc.binaries[k] >= 0):
                if out_of_time():
                    break
                y = enc.pre[k][j]
                ymin, _ = lp.extreme(y, +1, Deadline(deadline).remaining())
                ymax, _ = lp.extreme(y, -1, Deadline(deadline).remaining())
                st["lps"] += 2
                blo, bhi = bounds[k]
                nlo = blo[j] if ymin is None else max(blo[j], ymin - pad(ymin))
                nhi = bhi[j] if ymax is None else min(bhi[j], ymax + pad(ymax))
                if nlo > blo[j] or nhi < bhi[j]:
                    st["tightened"] += 1
                    blo[j], bhi[j] = nlo, min(max(nhi, nlo), bhi[j])
                    lp.set_bounds(y, blo[j], bhi[j])
    st["seconds"] = round(time.monotonic() - t0, 4)
    if stats is not None:
        stats.update(st)
    return bounds, fixed, False


def _relaxation_infeasible(network, x, lo, hi, bounds, norm, rho):
    """True if the LP relaxation of the inversion MIP with residual ``<= rho``
    is infeasible (then no ``z`` in the box has residual ``<= rho``, to LP
    tolerance)."""
    from .bounds import PersistentLP
    B, enc, rv, _ = inversion_model(network, x, lo, hi, bounds, norm, rho)
    lp = PersistentLP(B.matrix(), B.row_lb, B.row_ub, B.lb, B.ub)
    _, s = lp.extreme(int(rv[0]), +1)
    return s == "infeasible"


def _solve(builder, backend, deadline, threads=1, verbose=False):
    from .netmilp import solve_model
    model = builder.build()          # (building a large model takes time too)
    left = Deadline(deadline).remaining()
    return solve_model(model, backend, time_limit=left, threads=threads, verbose=verbose)


def _output_bounds(network, lo, hi, bounds, amb, deadline, stats, key):
    """LP-tighten the ambiguous output units (big-M), within a time share."""
    from .bounds import tighten_units
    if not amb.any():
        return bounds
    left = Deadline(deadline).remaining()
    share = None if left is None else 0.25 * left
    st = {}
    out = tighten_units(network, lo, hi, bounds, len(network.layers) - 1, amb,
                        time_limit=share, stats=st)
    stats[key] = {"units": int(amb.sum()), "lps": st.get("lps", 0),
                  "seconds": round(st.get("lp_seconds", 0.0), 4)}
    return out


# ---------------------------------------------------------------------------
# exact witnesses from a floating pair
# ---------------------------------------------------------------------------

def _fmpq(v):
    import flint
    f = Fraction(float(v))
    return flint.fmpq(f.numerator, f.denominator)


def _exact_region_rows(network, pattern, near_zero):
    """Exact (flint) rows: output map ``(A, c)`` and the pre-activation rows of
    units listed in ``near_zero`` (``[(layer, unit), ...]``)."""
    import flint
    n = network.n_in
    A = flint.fmpq_mat(n, n, [1 if i == j else 0 for i in range(n) for j in range(n)])
    c = flint.fmpq_mat(n, 1, [0] * n)
    zero_rows = []
    for k, (L, s) in enumerate(zip(network.layers, pattern)):
        m = L.W.shape[0]
        W = flint.fmpq_mat(m, L.W.shape[1], [_fmpq(v) for v in L.W.reshape(-1)])
        b = flint.fmpq_mat(m, 1, [_fmpq(v) for v in L.b])
        P = W * A
        p = W * c + b
        for (kk, i) in near_zero:
            if kk == k:
                zero_rows.append(([P[i, j] for j in range(n)], p[i, 0]))
        a = L.activation.slope
        fa = _fmpq(a)
        D = [1 if s[i] else fa for i in range(m)]
        A = flint.fmpq_mat(m, n, [D[i] * P[i, j] for i in range(m) for j in range(n)])
        c = flint.fmpq_mat(m, 1, [D[i] * p[i, 0] for i in range(m)])
    return A, c, zero_rows


def exact_pair(network, z1, z2, *, zero_tol=1e-9):
    """Try to turn a floating pair with ``G(z1) ~ G(z2)`` into an exact
    non-injectivity witness.

    The activation patterns of ``z1`` and ``z2`` give exact affine maps
    ``G = A_i z + c_i``; the pair ``w = (z1, z2)`` is moved to the exact
    rational solution of ``A_1 z1 + c_1 = A_2 z2 + c_2`` (plus ``pre = 0``
    for hidden units within ``zero_tol`` of their kink) nearest to it
    (minimal-norm correction on independent rows, python-flint), and the
    result is checked by :meth:`Network.check_witness` (exact forward pass).
    Short rationals near the floats are tried first (shorter witnesses).

    Returns ``(x1, x2)`` lists of Fractions, or None.
    """
    import flint
    n = network.n_in
    z1 = np.asarray(z1, float)
    z2 = np.asarray(z2, float)
    attempts = []
    for use_zero in (True, False):
        rows, rhs = [], []
        blocks = []
        for side, z in ((0, z1), (1, z2)):
            pat = activation_pattern(network, z)
            near = []
            if use_zero:
                h = z
                for k, L in enumerate(network.layers[:-1]):
                    y = L.W @ h + L.b
                    if not L.activation.is_identity:
                        scale = np.abs(L.W) @ np.abs(h) + np.abs(L.b) + 1.0
                        near += [(k, i) for i in np.flatnonzero(np.abs(y) <= zero_tol * scale)]
                    h = L.forward(h)
            A, c, zr = _exact_region_rows(network, pat, near)
            blocks.append((A, c))
            for coeffs, const in zr:
                row = [0] * (2 * n)
                for j in range(n):
                    row[side * n + j] = coeffs[j]
                rows.append(row)
                rhs.append(-const)
        (A1, c1), (A2, c2) = blocks
        for i in range(A1.nrows()):
            row = [A1[i, j] for j in range(n)] + [-A2[i, j] for j in range(n)]
            r = c2[i, 0] - c1[i, 0]
            if all(v == 0 for v in row):
                if r != 0:
                    rows = None
                    break
                continue
            rows.append(row)
            rhs.append(r)
        if rows is None:
            continue
        attempts.append((rows, rhs))
    exact0 = [Fraction(float(v)) for v in np.concatenate([z1, z2])]
    starts = [[v.limit_denominator(d) for v in exact0] for d in (10**3, 10**6, 10**9)] + [exact0]
    for (rows, rhs), w0f in ((a, w) for a in attempts for w in starts):
        w0 = [flint.fmpq(v.numerator, v.denominator) for v in w0f]
        if rows:
            E = flint.fmpq_mat(len(rows), 2 * n, [v for row in rows for v in row])
            # independent rows: pivots of rref(E^T)
            R, rank = E.transpose().rref()
            piv, col = [], 0
            for i in range(rank):
                while col < R.ncols() and R[i, col] == 0:
                    col += 1
                piv.append(col)
                col += 1
            Er = flint.fmpq_mat(len(piv), 2 * n, [E[i, j] for i in piv for j in range(2 * n)])
            W0 = flint.fmpq_mat(2 * n, 1, w0)
            f = flint.fmpq_mat(len(piv), 1, [rhs[i] for i in piv])
            resid = f - Er * W0
            try:
                yv = (Er * Er.transpose()).solve(resid)
            except (ZeroDivisionError, ValueError):
                continue
            W = W0 + Er.transpose() * yv
            w = [W[j, 0] for j in range(2 * n)]
        else:
            w = w0
        x1 = [Fraction(int(v.p), int(v.q)) for v in w[:n]]
        x2 = [Fraction(int(v.p), int(v.q)) for v in w[n:]]
        ok, _ = network.check_witness(x1, x2)
        if ok:
            return x1, x2
    return None


# ---------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------

def _interval_search(network, x, lo, hi, bounds, lower, upper, *, tighten, deadline,
                     backend, threads, verbose, stats):
    """Nearest point in L-infinity: search over the intervals between
    consecutive target values.

    With ``t`` restricted to ``[e_k, e_{k+1}]`` (consecutive values of
    ``|x_i|`` of the relevant sign) every output unit's piece is decided, so
    the model has only the hidden units' binaries (and target tightening
    fixes most of those, once, at ``upper``: valid for every smaller ``t``).
    Feasibility is monotone in ``k``. The LP relaxation screens intervals
    (bisection; an LP-infeasible interval is a proof). The MIP of the
    incumbent's interval is solved first (fast: it is feasible), then
    bisection over the intervals below proves or improves it; the MIP optimum
    of the smallest feasible interval is the global optimum. Proving an
    interval just below the optimum infeasible is the expensive step, so each
    of those MIPs gets at most half of the remaining time; when one stops, the
    best point is returned unproved.

    Returns ``(status, sol, enc, lower, phase)`` with status ``"solved"``,
    ``"infeasible"`` or ``"stopped"``.
    """
    from .backends import MilpStatus
    from .bounds import PersistentLP
    a = network.layers[-1].activation.slope
    vals = x[x > 0] if a < 1 else -x[x < 0]
    edges = np.unique(np.concatenate([[lower, upper], vals[(vals > lower) & (vals < upper)]]))
    K = len(edges) - 1
    info = stats["nearest_phase"] = {"intervals": int(K), "r_ub": upper, "mips": 0,
                                     "mip_seconds": 0.0}
    bnd, fx = bounds, None
    if tighten:
        tst = {}
        b2, f2, infeasible = target_tighten(
            network, x, lo, hi, bounds, "linf", upper, stats=tst,
            deadline=Deadline(deadline).portion(0.3).at)
        info["tightening"] = tst
        if not infeasible:  # infeasible would contradict the incumbent: ignore
            bnd, fx = b2, f2

    def model(k):
        return inversion_model(network, x, lo, hi, bnd, "linf", float(edges[k + 1]),
                               r_lb=float(edges[k]), fixed=fx)

    def lp_feasible(k):
        B, enc, rv, _ = model(k)
        lp = PersistentLP(B.matrix(), B.row_lb, B.row_ub, B.lb, B.ub)
        return lp.extreme(int(rv[0]), +1)[1] != "infeasible"

    lo_k, hi_k = 0, K - 1
    screens = 0
    while lo_k < hi_k and not Deadline(deadline).expired():
        mid = (lo_k + hi_k) // 2
        screens += 1
        if lp_feasible(mid):
            hi_k = mid
        else:
            lo_k = mid + 1
    info["lp_screens"] = screens
    if lo_k > 0:
        lower = max(lower, float(edges[lo_k]))
    results = {}

    def mip(k, cap=None):
        """'optimal' / 'feasible' (limit hit with a point) / 'infeasible' / 'unknown'."""
        B, enc, rv, ob = model(k)
        dl = Deadline(deadline).portion(1.0 if cap is None else cap).at
        sol, name = _solve(B, backend, dl, threads, verbose)
        info["mips"] += 1
        info["mip_seconds"] = round(info["mip_seconds"] + sol.seconds, 4)
        info.setdefault("binaries", B.stats()["binaries"])
        results[k] = (sol, enc, name)
        if sol.status is MilpStatus.INFEASIBLE:
            return "infeasible"
        if sol.status is MilpStatus.OPTIMAL:
            return "optimal"
        return "feasible" if sol.x is not None else "unknown"

    # (a) the incumbent's interval (feasible: it contains the incumbent), or the
    # first feasible one above it
    inc_k = int(np.clip(np.searchsorted(edges, upper * (1 - 1e-6), side="right") - 1, 0, K - 1))
    k = max(lo_k, inc_k)
    good = None
    while True:
        s1 = mip(k)
        if s1 in ("optimal", "feasible"):
            good = k
            break
        if s1 == "unknown" or k == K - 1:
            break
        lower = max(lower, float(edges[k + 1]))
        k += 1
    if good is None:
        sol, enc, name = results.get(k, (None, None, None))
        return "stopped", sol, enc, lower, None
    # (b) bisection over the intervals below. Infeasibility of interval j proves
    # every interval below it infeasible too (monotone), so ``lower`` only grows.
    # A MIP that stops (at most a quarter of the remaining time each: proofs
    # just below the optimum are the hard part) is passed over as if
    # infeasible, unproved: the search still finds the smallest interval whose
    # MIP is quickly feasible.
    lo_b = lo_k
    while lo_b < good and not Deadline(deadline).expired():
        mid = (lo_b + good) // 2
        s2 = mip(mid, cap=0.25)
        if s2 in ("optimal", "feasible"):
            good = mid
        else:
            lo_b = mid + 1
            if s2 == "infeasible":
                lower = max(lower, float(edges[mid + 1]))
    sol, enc, name = results[good]
    proved = lower >= edges[good] and sol.status is MilpStatus.OPTIMAL
    info["interval"] = [float(edges[good]), float(edges[good + 1])]
    info["proved_lower"] = lower
    return ("solved" if proved else "stopped"), sol, enc, lower, \
        (bnd, fx, float(edges[good + 1]), name, float(edges[good]))


def _level_search(solve_at, lower, upper, norm_tol, network, x, lo, hi, bounds, norm,
                  tighten, deadline, stats):
    """Nearest point for L1 (or identity outputs): MIPs with residual
    ``<= rho``; the LP relaxation screens levels (bisection on a log scale),
    then ``rho`` grows by 4x until the MIP is feasible, and that MIP's
    optimum is the global one. Returns like :func:`_interval_search`."""
    rho = upper
    if lower < upper / 4 and tighten:
        lo0 = max(lower, norm_tol)
        lo_r, hi_r = lo0, upper
        screens = 0
        while hi_r / lo_r > 4 and screens < 12 and not Deadline(deadline).expired():
            mid = math.sqrt(lo_r * hi_r)
            screens += 1
            if _relaxation_infeasible(network, x, lo, hi, bounds, norm, mid):
                lo_r = mid
            else:
                hi_r = mid
        if lo_r > lo0:
            lower = max(lower, lo_r)
        stats["screening"] = {"lps": screens, "lower": lower, "first_level": hi_r}
        rho = hi_r
    levels = 0
    while True:
        levels += 1
        key = "nearest_phase" if levels == 1 else f"nearest_phase_{levels}"
        st, sol, enc, ph = solve_at(rho, key)
        if st == "infeasible" and rho < upper:
            lower = max(lower, rho)
            rho = min(upper, 4 * rho)
            continue
        break
    stats["levels"] = levels
    if st == "stopped" and sol is not None and sol.bound is not None and np.isfinite(sol.bound):
        # no point of the model (residual <= rho) is below the MIP bound, and
        # points outside the model have residual > rho
        lower = max(lower, min(float(sol.bound), rho))
    return st, sol, enc, lower, ph


def _invert_mip(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, time_limit=None,
                backend=None, uniqueness=True, delta=DEFAULT_DELTA, tol=DEFAULT_TOL,
                tighten=True, threads=1, verbose=False, seed=0, exact_phase=True,
                lower0=0.0, start=None, stats=None, method_prefix="mip"
                ) -> InversionResult:
    """Invert a ReLU generator by mixed-integer programming over the whole
    network (the algorithm of the module docstring; ``invert(peel=False)``).

    ``exact_phase=False`` skips the exact-phase MIP when the caller has
    already proved that no ``z`` reproduces the target (``lower0``: a proved
    lower bound on the residual in ``norm``); ``start`` and ``stats`` let the
    caller's time and counters continue.

    Parameters
    ----------
    network : :class:`solver.network.Network` (relu / leaky / identity layers).
    x : array of length ``network.n_out``, the target.
    norm : ``"linf"`` (default) or ``"l1"``: the residual minimised.
    latent_box : float R (box ``[-R, R]^n``; default 5.0), array of R's, or
        ``(lo, hi)``. Always reported in the result.
    time_limit : seconds for everything (bounds, MIPs), or None.
    backend : MILP backend name (default :data:`solver.backends.DEFAULT_BACKEND`).
    uniqueness : run the uniqueness MIP (default True).
    delta : separation for uniqueness, ``||z' - z||_inf >= delta`` (default 1e-3).
    tol : relative tolerance: ``exact`` means
        ``||G(z) - x||_inf <= tol * max(1, ||x||_inf)`` in floating point.
    tighten : LP bound tightening (default True); interval bounds otherwise.
    threads : passed to the backend.
    seed : for the gradient-descent restarts that seed the nearest phase.

    Returns
    -------
    :class:`InversionResult`; ``to_json()`` gives ``{"status", "z",
    "residual", "optimal", "unique", "second_preimage", "seconds", "method",
    "latent_box", ...}``.

    Notes
    -----
    ``optimal`` and ``unique`` are statements about the box and hold to the
    MILP backend's feasibility and gap tolerances: the MIP is solved in
    floating point. The residual of the returned ``z`` is recomputed by a
    floating-point forward pass; a non-injectivity witness is checked in exact
    rational arithmetic. See the module docstring for the formulation.

    References
    ----------
    Balestriero et al., "Max-affine spline insights into deep generative
    networks", Prop. 4. Tjeng et al. 2019 (big-M MIP). Lei et al. 2019 and
    Bora et al. 2017 for the heuristics used as incumbents.
    """
    from .backends import DEFAULT_BACKEND, MilpStatus
    from .bounds import propagate_bounds
    start = time.monotonic() if start is None else start
    deadline = Deadline.after(time_limit, start).at
    norm, x, lo, hi = _validate(network, x, norm, latent_box, delta, tol)
    from .backends import get_backend
    be_name = backend or DEFAULT_BACKEND
    backend = get_backend(be_name)  # an unknown/unavailable name fails here, before any work
    method = f"{method_prefix}[{getattr(backend, 'name', be_name)}]"
    stats = {} if stats is None else stats
    tol_abs = tolerance(x, tol)
    norm_tol = tol_abs if norm == "linf" else tol_abs * len(x)

    # 1. bounds (hidden layers tightened; output units later, only ambiguous ones)
    bst = {}
    left = Deadline(deadline).remaining()
    bounds = propagate_bounds(network, lo, hi, tighten=tighten, output_units=[],
                              time_limit=None if left is None else 0.3 * left, stats=bst)
    stats["bounds"] = {"seconds": round(bst["seconds"], 4), "lps": bst["lps"],
                       "unstable_hidden": int(sum(
                           ((l < 0) & (h > 0)).sum() for (l, h), L in
                           zip(bounds[:-1], network.layers[:-1]) if not L.activation.is_identity))}

    def finish_mip(sol, enc):
        z = np.clip(sol.x[enc.z], lo, hi)
        pats = [enc.decode_pattern(sol.x)[:-1]]
        # decoded pattern lacks the output layer: take it from the float point
        full = []
        for p in pats:
            op = activation_pattern(network, z)[-1]
            full.append(list(p) + [op])
        return polish(network, z, x, lo, hi, norm, patterns=full)

    def solve_at(rho, key):
        """The MIP with residual <= rho: output big-M bounds for the ambiguous
        units, sign fixing under the target, then the backend. Returns
        ``(status, sol, enc, phase)`` with status "infeasible", "solved" or
        "stopped"."""
        amb = ambiguous_outputs(network, x, rho)
        bnd = _output_bounds(network, lo, hi, bounds, amb, deadline, stats, key + "_bounds") \
            if tighten else bounds
        fx = None
        info = stats.setdefault(key, {})
        info["r_ub"] = rho
        if tighten:
            tst = {}
            bnd, fx, infeasible = target_tighten(
                network, x, lo, hi, bnd, norm, rho, stats=tst,
                deadline=Deadline(deadline).portion(0.3).at)
            info["tightening"] = tst
            if infeasible:
                info["status"] = "infeasible (LP relaxation under the target)"
                return "infeasible", None, None, None
        B, enc, rv, ob = inversion_model(network, x, lo, hi, bnd, norm, rho, fixed=fx)
        info.update(B.stats(), output_binaries=int((ob >= 0).sum()))
        sol, name = _solve(B, backend, deadline, threads, verbose)
        info.update(status=sol.status.value, seconds=round(sol.seconds, 4))
        st = "infeasible" if sol.status is MilpStatus.INFEASIBLE else \
            "solved" if sol.status is MilpStatus.OPTIMAL else "stopped"
        return st, sol, enc, (bnd, fx, rho, name, 0.0)

    z_best = None
    status = "unknown"
    optimal = False
    bound = None
    message = ""
    phase = None  # (bounds, fixed, r_ub, backend, r_lb) of the model that produced z_best
    # 2. exact phase: residual <= tolerance
    if exact_phase:
        st, sol, enc, ph = solve_at(norm_tol, "exact_phase")
    else:
        st, sol, enc, ph = "skipped", None, None, None
    if ph is not None:
        method = f"{method_prefix}[{ph[3]}]"
    lower = norm_tol if st == "infeasible" else 0.0  # proved: optimum > lower
    lower = max(lower, float(lower0))
    if sol is not None and sol.x is not None:
        z = finish_mip(sol, enc)
        res = float(np.max(np.abs(network.forward(z) - x)))
        if res <= tol_abs:
            z_best, status, optimal, bound, phase = z, "exact", True, 0.0, ph
            message = "G(z) reproduces the target to tolerance (floating-point forward pass)"
        else:
            z_best = z
            message = f"exact-phase MIP point has residual {res:.3g} after polishing"

    # 3. nearest phase
    if status != "exact":
        from .inversion_baselines import gradient_descent, layerwise_lp
        cands = [np.clip(np.zeros(network.n_in), lo, hi)]
        if z_best is not None:
            cands.append(z_best)
        starts = []
        try:
            r = layerwise_lp(network, x, norm=norm, latent_box=(lo, hi))
            if r.z is not None:
                cands.append(np.array(r.z))
                starts.append(np.array(r.z))
        except Exception:  # a heuristic failing must not stop the exact method
            pass
        # gradient descent from the layer-wise point and a few random starts
        r = gradient_descent(network, x, norm=norm, latent_box=(lo, hi), restarts=4,
                             steps=500, seed=seed, z_init=np.array(starts) if starts else None)
        cands.append(np.array(r.z))
        cands = [polish(network, c, x, lo, hi, norm) for c in cands]
        scores = [residual_norm(network.forward(c) - x, norm) for c in cands]
        inc = cands[int(np.argmin(scores))]
        inc_val = float(min(scores))
        stats["incumbent"] = inc_val
        upper = inc_val * (1 + 1e-6) + norm_tol
        z_best, status, optimal, phase = inc, "nearest", False, None
        if inc_val <= lower * (1 + 1e-9) + 1e-12:
            # the incumbent attains a lower bound proved before any MIP
            st, sol, good, ph = "bound", None, None, None
        elif norm == "linf" and not network.layers[-1].activation.is_identity:
            st, sol, good, lower, ph = _interval_search(
                network, x, lo, hi, bounds, lower, upper, tighten=tighten, deadline=deadline,
                backend=backend, threads=threads, verbose=verbose, stats=stats)
        else:
            st, sol, good, lower, ph = _level_search(solve_at, lower, upper, norm_tol,
                                                     network, x, lo, hi, bounds, norm,
                                                     tighten, deadline, stats)
        if ph is not None:
            method = f"{method_prefix}[{ph[3]}]"
        if sol is not None and sol.x is not None:
            z = finish_mip(sol, good)
            if residual_norm(network.forward(z) - x, norm) <= \
                    residual_norm(network.forward(z_best) - x, norm):
                z_best = z
        obj = residual_norm(network.forward(z_best) - x, norm)
        name = f"{NORM_NAMES[norm]} residual"
        if st == "solved":
            # the MIP that solved is the global one (every lower interval/level
            # was proved infeasible): its dual bound is a global lower bound
            mb = None if sol is None or sol.bound is None or not math.isfinite(sol.bound) \
                else float(sol.bound)
            bound = max(lower, min(obj, mb if mb is not None else obj * (1 - MIP_GAP)))
            optimal, phase = True, ph
            message = (f"optimal: no z in the box has an {name} below {bound:.6g} "
                       f"(this point: {obj:.6g}; MIP bound, to the backend's tolerances)")
        elif st == "infeasible":
            bound = lower
            message = ("MIP reported infeasible at the incumbent's level (numerical "
                       "trouble); returning the incumbent")
        else:  # (a MIP's own bound is only global in the level search, which folds it in)
            bound = lower
            message = "best point found, not proved optimal (a MIP stopped at its time share)"
        if not optimal and obj <= lower * (1 + 1e-9) + 1e-12:
            # the point attains the proved lower bound
            optimal, bound = True, lower
            message = (f"optimal: the {name} of this point equals the proved lower bound "
                       f"{lower:.6g}")
        if not optimal:
            message += f"; proved: no z in the box has an {name} below {lower:.6g}"
        res = float(np.max(np.abs(network.forward(z_best) - x)))
        if res <= tol_abs:
            status, optimal = "exact", True

    # 4. uniqueness
    unique, second, witness = None, None, None
    if uniqueness and z_best is not None and status in ("exact", "nearest") and optimal:
        if Deadline(deadline).expired():
            stats["uniqueness"] = {"status": "skipped (time limit)"}
        else:
            obj = residual_norm(network.forward(z_best) - x, norm)
            eps = norm_tol if status == "exact" else obj * (1 + 1e-6) + norm_tol
            pb, pfx, pr, _, plb = phase if phase is not None else \
                (bounds, None, -np.inf, None, 0.0)
            if eps > pr:  # the phase's tightening is only valid up to its r_ub
                pb, pfx = bounds, None
            # r_lb: a proved lower bound on every residual (linf only)
            plb = min(plb, eps) if norm == "linf" else 0.0
            amb = ambiguous_outputs(network, x, eps, plb)
            if amb.any() and tighten:
                pb = _output_bounds(network, lo, hi, pb, amb, deadline, stats,
                                    "uniqueness_bounds")
            built = inversion_model(network, x, lo, hi, pb, norm, eps, away=(z_best, delta),
                                    fixed=pfx, r_lb=plb)
            if built is None:
                unique = True  # the box is narrower than delta around z
                stats["uniqueness"] = {"status": "box narrower than delta"}
            else:
                B, enc, rv, ob = built
                B.cost = [0.0] * B.nvars  # pure feasibility: stop at the first z'
                sol, be_name = _solve(B, backend, deadline, threads, verbose)
                stats["uniqueness"] = {**B.stats(), "status": sol.status.value,
                                       "seconds": round(sol.seconds, 4), "eps": eps}
                if sol.status is MilpStatus.INFEASIBLE:
                    unique = True
                elif sol.x is not None:
                    z2 = np.clip(sol.x[enc.z], lo, hi)
                    z2 = polish(network, z2, x, lo, hi, norm, keep_far=(z_best, delta))
                    unique = False
                    second = z2
                    if status == "exact":
                        pair = exact_pair(network, z_best, z2)
                        if pair is not None:
                            from .result import Witness
                            witness = Witness.of(pair)
                    stats["uniqueness"]["second_residual"] = float(
                        np.max(np.abs(network.forward(z2) - x)))
    return make_result(status, z_best, network, x, norm, lo, hi, start, method, optimal=optimal,
                       unique=unique, second=second, bound=bound, witness=witness, message=message,
                       delta=delta if uniqueness else None, stats=stats)


# ---------------------------------------------------------------------------
# the peeled inversion (issue 15): the target's structure before any MIP
# ---------------------------------------------------------------------------

#: a MIP of the remaining problem is only built up to this many binaries
#: (beyond that the model alone takes minutes to write; ``unique`` stays null)
MAX_MIP_BINARIES = 4000


def pre_activation_network(network):
    """The network with its last activation replaced by the identity: its
    output is the last layer's pre-activation."""
    from .network import DenseLayer, Network
    L = network.layers[-1]
    from .activations import IDENTITY
    return Network(network.layers[:-1] + (DenseLayer(L.W, L.b, IDENTITY),))


def truncated_network(network, k):
    """Layers ``0..k`` with layer ``k``'s activation dropped (its output is
    its pre-activation): the remaining problem when peeling stops at ``k``."""
    from .network import Network
    return pre_activation_network(Network(network.layers[:k + 1]))


def output_residual(network, z, x):
    """``||G(z) - x||_inf`` by the floating-point forward pass."""
    r = network.forward(np.asarray(z, float)) - x
    return float(np.max(np.abs(r))) if len(r) else 0.0


def box_model(network, tlo, thi, lo, hi, bounds, *, away=None, fixed=None):
    """Feasibility MIP ``{z in [lo, hi] : tlo <= y_K(z) <= thi}`` for the
    last layer's pre-activation ``y_K`` (the interval target that
    :func:`solver.inversion_peel.target_box` makes of any monotone head).

    ``bounds`` are pre-activation bounds over the box; the last layer's are
    intersected with ``[tlo, thi]`` (None when that is empty: no MIP needed).
    ``away=(z_ref, delta)`` adds ``||z - z_ref||_inf >= delta`` (uniqueness).
    Returns ``(builder, encoding)`` or None (empty, or box narrower than delta).
    """
    from .netmilp import MilpBuilder, encode_network
    ylo = np.maximum(bounds[-1][0], tlo)
    yhi = np.minimum(bounds[-1][1], thi)
    if np.any(ylo > yhi):
        return None
    bnd = list(bounds[:-1]) + [(ylo, yhi)]
    B = MilpBuilder()
    enc = encode_network(B, network, bnd, box=(lo, hi), encode_output=False, fixed=fixed)
    if away is not None and not _add_away(B, enc, away, lo, hi):
        return None
    return B, enc


def _add_away(B, enc, away, lo, hi):
    """``||z - z_ref||_inf >= delta`` with two binaries per coordinate; False
    when the box is narrower than ``delta`` around ``z_ref``."""
    zr, delta = away
    zr = np.asarray(zr, float)
    picks = []
    for j, zj in enumerate(enc.z):
        if zr[j] + delta <= hi[j]:
            p = B.add_var(0, 1, integer=True, name=f"far_up{j}")
            # z_j >= (zr_j + delta) p + lo_j (1 - p)
            B.add_row([zj, p], [1.0, -(zr[j] + delta - lo[j])], lo=lo[j])
            picks.append(p)
        if zr[j] - delta >= lo[j]:
            q = B.add_var(0, 1, integer=True, name=f"far_dn{j}")
            # z_j <= (zr_j - delta) q + hi_j (1 - q)
            B.add_row([zj, q], [1.0, hi[j] - (zr[j] - delta)], hi=hi[j])
            picks.append(q)
    if not picks:
        return False
    B.add_row(picks, 1.0, lo=1.0)
    return True


def polish_box(prenet, z, tlo, thi, lo, hi, *, score, rounds=3, trust=0.05):
    """Improve a candidate against a box target on the last pre-activation:
    the LP of its activation region minimising the largest violation of
    ``tlo <= y_K <= thi`` within a trust box (half-width ``trust`` times the
    box's; only the region rows that can become tight there are kept, which
    makes the LP small for wide generators), then Gauss-Newton steps toward
    the middle of the two-sided rows. ``score(z)`` decides (smaller is
    better); only improvements are kept."""
    z = np.clip(np.asarray(z, float), lo, hi)
    best, best_s = z, score(z)
    two = np.isfinite(tlo) & np.isfinite(thi)
    mid = np.zeros(len(tlo))
    mid[two] = 0.5 * (tlo[two] + thi[two])
    for _ in range(rounds):
        improved = False
        pat = activation_pattern(prenet, best)
        pres, A, c = region_affine(prenet, pat)
        M, m = region_constraints(prenet, pat, pres)
        n = prenet.n_in
        rad = trust * (hi - lo)
        blo, bhi = np.maximum(lo, best - rad), np.minimum(hi, best + rad)
        if M.shape[0]:
            near = M @ best + np.abs(M) @ (bhi - blo) > m
            M, m = M[near], m[near]
        rows, rhs = [], []
        up = np.isfinite(thi)
        dn = np.isfinite(tlo)
        # A z - s <= thi - c ; -A z - s <= c - tlo
        if up.any():
            rows.append(np.hstack([A[up], -np.ones((up.sum(), 1))]))
            rhs.append(thi[up] - c[up])
        if dn.any():
            rows.append(np.hstack([-A[dn], -np.ones((dn.sum(), 1))]))
            rhs.append(c[dn] - tlo[dn])
        if M.shape[0]:
            rows.append(np.hstack([M, np.zeros((M.shape[0], 1))]))
            rhs.append(m)
        cost = np.zeros(n + 1)
        cost[-1] = 1.0
        try:
            res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs),
                          bounds=[(blo[j], bhi[j]) for j in range(n)] + [(0, None)],
                          method="highs")
            cand = [np.clip(res.x[:n], lo, hi)] if res.status == 0 and res.x is not None else []
        except ValueError:
            cand = []
        if two.any():
            r = mid[two] - prenet.forward(best)[two]
            try:
                step = np.linalg.lstsq(A[two], r, rcond=None)[0]
                cand.append(np.clip(best + step, lo, hi))
            except np.linalg.LinAlgError:
                pass
        for cz in cand:
            sc = score(cz)
            if sc < best_s:
                best, best_s, improved = cz, sc, True
        if not improved:
            break
    return best


def descend(network, prenet, x, z, lo, hi, *, levels=(0.5, 0.9, 0.99, 0.999), rounds=6,
            deadline=None):
    """Polish a candidate toward the target in the output space: region LPs
    (:func:`polish_box`) against the pre-activation box of a level a bit
    below the current L-inf output residual, repeated while it improves. For
    piecewise-linear heads :func:`polish` does the same in one go."""
    from .inversion_peel import target_box
    head = network.layers[-1].activation

    def score(v):
        return output_residual(network, v, x)
    if head.piecewise_linear:
        return polish(network, z, x, lo, hi, "linf")
    z = np.clip(np.asarray(z, float), lo, hi)
    for f in levels:
        for _ in range(rounds):
            if Deadline(deadline).expired():
                return z
            t = score(z)
            if t == 0:
                return z
            z2 = polish_box(prenet, z, *target_box(head, x, f * t), lo, hi, score=score)
            if score(z2) >= t:
                break
            z = z2
    return z


def _enclosure_candidate(network, enc, boxes, zlo, zhi):
    """Least-squares latent point of the affine enclosure: the top layer's
    two-sided rows, weighted by their half-widths, toward their middles."""
    K = len(network.layers) - 1
    tlo, thi = boxes[K]
    two = np.isfinite(tlo) & np.isfinite(thi)
    if two.sum() < len(zlo):
        return 0.5 * (zlo + zhi)
    w = 1.0 / np.maximum(0.5 * (thi[two] - tlo[two]), 1e-300)
    A = enc.A[K][two] * w[:, None]
    r = (0.5 * (tlo[two] + thi[two]) - enc.c[K][two]) * w
    try:
        z = np.linalg.lstsq(A, r, rcond=None)[0]
    except np.linalg.LinAlgError:
        z = 0.5 * (zlo + zhi)
    return np.clip(z, zlo, zhi)


def _far_points(network, enc, boxes, zlo, zhi, z, delta, deadline):
    """Latent points of the enclosure's LP at least ``delta`` from ``z`` (one
    LP per coordinate side whose box end is that far); candidates for a
    second preimage."""
    import scipy.sparse as sp
    from .bounds import PersistentLP
    from .inversion_peel import latent_rows
    rows = latent_rows(enc, boxes)
    if rows is None:
        return []
    lp = PersistentLP(sp.csr_matrix(rows[0]), rows[1], rows[2], zlo, zhi)
    out = []
    order = np.argsort(-np.maximum(zhi - z, z - zlo))
    for j in order:
        for sense, far in ((-1, zhi[j] - z[j]), (+1, z[j] - zlo[j])):
            if far < delta or Deadline(deadline).expired():
                continue
            v, st = lp.extreme(j, sense)
            if v is not None and abs(v - z[j]) >= delta:
                out.append(np.clip(lp.point()[:len(z)], zlo, zhi))
        if len(out) >= 4:
            break
    return out


def _mip_binaries(network, bounds):
    """Binaries the MIP of ``network`` (output not encoded) would need."""
    from .bounds import stable_masks
    n = 0
    for L, (l, h) in zip(network.layers[:-1], bounds[:-1]):
        a, i = stable_masks(L.activation, l, h)
        n += int((~(a | i)).sum())
    return n


def _witness(network, z1, z2):
    pair = exact_pair(network, z1, z2)
    if pair is None:
        return None
    from .result import Witness
    return Witness.of(pair)


def _validate(network, x, norm, latent_box, delta, tol):
    norm = check_norm(norm)
    x = validate_target(network, x)
    lo, hi = latent_box_arrays(network, latent_box)
    if delta is not None and (not np.isfinite(delta) or delta <= 0):
        raise InputError(f"delta must be > 0; got {delta!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"tol must be > 0; got {tol!r}")
    return norm, x, lo, hi


def invert(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, time_limit=None,
           backend=None, uniqueness=True, delta=DEFAULT_DELTA, tol=DEFAULT_TOL,
           tighten=True, threads=1, verbose=False, seed=0, peel=True) -> InversionResult:
    """Invert a generator: ``z`` in the latent box with ``G(z) = x``, or the
    nearest point of the range; says whether the preimage is unique.

    Parameters
    ----------
    network : :class:`solver.network.Network` (relu / leaky / identity
        layers; the last layer may also be sigmoid or tanh).
    x : array of length ``network.n_out``, the target.
    norm : ``"linf"`` (default) or ``"l1"``: the residual minimised.
    latent_box : float R (box ``[-R, R]^n``; default 5.0), array of R's, or
        ``(lo, hi)``. Always reported in the result.
    time_limit : seconds for everything, or None.
    backend : MILP backend name (default :data:`solver.backends.DEFAULT_BACKEND`).
    uniqueness : decide uniqueness (default True).
    delta : separation for uniqueness, ``||z' - z||_inf >= delta`` (default 1e-3).
    tol : relative tolerance: ``exact`` means
        ``||G(z) - x||_inf <= tol * max(1, ||x||_inf)`` in floating point.
    tighten : LP bound tightening in the MIPs (default True).
    threads : passed to the backend.
    seed : for the gradient-descent restarts.
    peel : use the target's structure before any MIP (default True; False
        runs the whole-network MIP of the module docstring, kept for
        comparison).

    Returns
    -------
    :class:`InversionResult`.

    Notes
    -----
    With ``eps = tol * max(1, ||x||_inf)`` and ``S = {z in box :
    |G(z) - x| <= eps}`` (real arithmetic, exact weights):

    1. *Peel* (:func:`solver.inversion_peel.peel`). The head's interval
       preimage of ``[x - eps, x + eps]`` is a box on the last
       pre-activations (for sigmoid: ``[logit(x - eps), logit(x + eps)]``,
       an end infinite where ``x - eps <= 0`` or ``x + eps >= 1``); layers
       whose two-sided rows have full column rank pin their input to a
       certified box, a ReLU layer's box fixes its active units, down to the
       latent space. An empty box proves ``S`` empty.
    2. *Refine* (:func:`solver.inversion_peel.refine_latent_box`): on the
       small latent box the network is affine up to the units near their
       kink; LP hulls shrink the box. ``S`` lies in the final box ``Z``.
    3. *Exact*: the least-squares point of the affine enclosure, polished; it
       is ``exact`` when the floating-point forward pass reproduces ``x`` to
       ``eps``. For a sigmoid/tanh head this is the statement proved about
       the returned ``z``: the float forward pass is within ``eps`` of ``x``
       in every output; where ``x`` is within ``eps`` of 0 or 1 the output
       only bounds the pre-activation from one side.
    4. *Unique* (exact targets): ``unique = True`` when every point of ``Z``
       is within ``delta`` of ``z`` (then no point of ``S``, i.e. no latent
       point whose exact output is within ``eps`` of ``x``, is ``delta``
       away: no second MIP); otherwise a far vertex of the enclosure's LP is
       checked as a second preimage and turned into an exact witness
       (rational arithmetic) when possible; a MIP over ``Z`` (few binaries)
       decides what remains.
    5. Where the peel stops (a layer whose rows do not pin its input), the
       remaining layers and the box on their output go to a feasibility MIP
       (:func:`box_model`) after gradient-descent candidates.
    6. *Nearest* (no exact point): for piecewise-linear heads the MIP search
       of the module docstring, with the peel's proof that no point is within
       ``eps`` as its starting lower bound. For a sigmoid/tanh head and
       ``linf`` the residual is in the output space: per-pixel range bounds
       (a pixel below 0 costs at least its distance to the sigmoid's range)
       give the first lower bound; the incumbent is a region walk
       (:func:`solver.inversion_nearest.region_walk`: the exact L-inf minimum
       of each activation region, then across kinks), which often attains
       that bound; otherwise feasibility MIPs of the interval target at
       levels below the incumbent; for ``l1`` the problem is solved
       in the pre-activation space against ``act^{-1}(x)`` (targets at or
       beyond the range clipped, with a warning) and ``space`` says so.

    ``optimal`` and ``unique`` are proved to the stated tolerances (LP/MIP
    tolerances for the steps that use them, :data:`MIP_GAP` for
    optimality) or null.

    References
    ----------
    Puthawala et al., "Globally injective ReLU networks" (injectivity of a
    layer at a point: the active rows span). Balestriero et al., "Max-affine
    spline insights into deep generative networks", Prop. 4. Lei et al. 2019
    (layer-wise inversion). Tjeng et al. 2019 (big-M MIP).
    """
    if not peel:
        return _invert_mip(network, x, norm=norm, latent_box=latent_box, time_limit=time_limit,
                           backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                           tighten=tighten, threads=threads, verbose=verbose, seed=seed)
    return _invert_peeled(network, x, norm=norm, latent_box=latent_box, time_limit=time_limit,
                          backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                          tighten=tighten, threads=threads, verbose=verbose, seed=seed)


def _gd_candidates(network, x, lo, hi, seed, deadline, restarts=4, steps=500, z_init=None):
    """Gradient-descent points (output L2, projected Adam) as candidates."""
    from .inversion_baselines import gradient_descent
    left = Deadline(deadline).remaining()
    if left is not None and left < 1.0:
        return []
    r = gradient_descent(network, x, norm="linf", latent_box=(lo, hi), restarts=restarts,
                         steps=steps, seed=seed, z_init=z_init,
                         time_limit=None if left is None else 0.3 * left)
    return [np.array(r.z)] if r.z is not None else []


def _solve_box_mip(built, backend, deadline, threads, verbose, share=1.0):
    dl = Deadline(deadline).portion(share).at
    B, enc = built
    sol, name = _solve(B, backend, dl, threads, verbose)
    return sol, enc, name, B.stats()


@dataclass
class _ExactPhase:
    """Outcome of :func:`_exact_phase` (internal)."""
    status: str = "unknown"          # "exact", "none" (proved: no z within eps), "unknown"
    z: Any = None                    # best point found
    unique: bool | None = None
    second: Any = None
    witness: Any = None
    umethod: str | None = None
    binaries: int | None = None
    method: str = "peel"
    message: str = ""
    mip_tried: bool = False
    peel: dict = field(default_factory=dict)
    uniq: dict = field(default_factory=dict)


def _exact_phase(net, x, eps, lo, hi, *, delta, uniqueness, deadline, backend, threads,
                 verbose, seed, tighten, stats):
    """Exact phase of :func:`invert` on a network with a monotone head:
    ``z`` with ``||net(z) - x||_inf <= eps`` (float forward pass), and
    whether it is unique (see :func:`invert`, steps 1 to 5)."""
    from . import inversion_peel as P
    from .backends import MilpStatus
    from .bounds import propagate_bounds
    K = len(net.layers) - 1
    head = net.layers[-1].activation
    prenet = pre_activation_network(net)
    pl_head = head.piecewise_linear
    out = _ExactPhase()

    def score(z):
        return output_residual(net, z, x)

    def share(f):
        return Deadline(deadline).portion(f).at

    def final_polish(z):
        """A last polish toward the target itself (any point within eps is
        exact; a smaller residual is nicer to report and to build exact
        witnesses from). Done before uniqueness, which is about this z."""
        if score(z) <= 1e-3 * eps:
            return z
        if pl_head:
            zp = polish(net, z, x, lo, hi, "linf")
        else:
            zp = polish_box(prenet, z, *P.target_box(head, x, 1e-3 * score(z)), lo, hi,
                            score=score)
        return zp if score(zp) < score(z) else z

    def take_second(z, z2, how):
        out.unique, out.second, out.umethod = False, z2, how
        out.witness = _witness(net, z, z2)
        out.uniq["second_residual"] = score(z2)

    def away_score(z):
        return lambda v: math.inf if np.max(np.abs(v - z)) < delta else score(v)

    def run_mip(built, f=1.0):
        sol, enc2, name, bst = _solve_box_mip(built, backend, deadline, threads, verbose, f)
        out.method = f"peel+mip[{name}]"
        out.binaries = max(out.binaries or 0, bst["binaries"])
        return sol, enc2, bst

    fwd = P.forward_bounds(net, lo, hi)
    tlo, thi = P.target_box(head, x, eps)
    pe = P.peel(net, tlo, thi, lo, hi, fwd=fwd)
    out.peel = pinfo = pe.to_json()
    if pe.empty:
        out.status = "none"
        out.message = f"no z in the box reproduces the target to {eps:.3g} ({pe.reason})"
        return out
    if pe.reached_latent:
        zlo, zhi, enc, rst = P.refine_latent_box(net, pe.boxes, *pe.z_box, fwd=fwd,
                                                 deadline=share(0.5))
        hidden = int(sum(L.W.shape[0] for L in net.layers[:-1]))
        pinfo.update(latent_box_width=float(np.max(zhi - zlo)),
                     unstable_in_latent_box=enc.n_unstable, refine=rst,
                     units_fixed=hidden - enc.n_unstable)
        if rst == "empty":
            out.status = "none"
            out.message = (f"no z in the box reproduces the target to {eps:.3g} (the peeled "
                           "boxes have no common latent point; LP)")
            return out
        z = _enclosure_candidate(net, enc, pe.boxes, zlo, zhi)
        if score(z) > eps:
            z = polish_box(prenet, z, *pe.boxes[K], zlo, zhi, score=score)
        if score(z) > eps:
            z = descend(net, prenet, x, z, zlo, zhi, deadline=deadline)
        how = "the peel reached the latent space"
        if score(z) > eps:
            # the latent box still meets kinks: gradient-descent candidates,
            # then the MIP of the remaining problem (the unstable units on Z)
            for c in _gd_candidates(net, x, zlo, zhi, seed, deadline):
                c = descend(net, prenet, x, c, zlo, zhi, deadline=deadline)
                if score(c) < score(z):
                    z = c
        if score(z) > eps and enc.n_unstable <= MAX_MIP_BINARIES and \
                not Deadline(deadline).expired():
            out.mip_tried = True
            rm = P.reduced_model(net, zlo, zhi, enc.bounds, pe.boxes)
            sol, enc2, bst = run_mip((rm.builder, rm), 0.5)
            stats["exact_phase"].update(mip=bst, mip_status=sol.status.value)
            if sol.status is MilpStatus.INFEASIBLE:
                out.status = "none"
                out.message = (f"no z in the box reproduces the target to {eps:.3g} (MIP of "
                               f"the {bst['binaries']} units near their kink on the latent "
                               "box Z infeasible)")
                return out
            if sol.x is not None:
                c = descend(net, prenet, x, np.clip(sol.x[rm.z], zlo, zhi), zlo, zhi,
                            deadline=deadline)
                if score(c) < score(z):
                    z = c
                how = f"MIP of the {bst['binaries']} units near their kink on the latent box"
        if score(z) <= eps:
            z = final_polish(z)
            out.status = "exact"
            out.message = ("G(z) reproduces the target to tolerance (floating-point forward "
                           f"pass); {how}")
        out.z = z
        if out.status != "exact" or not uniqueness:
            return out
        ext = float(np.max(np.maximum(zhi - z, z - zlo)))
        out.uniq["latent_box_extent"] = ext
        if ext < delta:
            out.unique, out.umethod = True, "latent box"
            return out
        for zf in _far_points(net, enc, pe.boxes, zlo, zhi, z, delta, share(0.5)):
            if score(zf) > eps:
                zf = polish_box(prenet, zf, *pe.boxes[K], zlo, zhi, score=away_score(z))
            if away_score(z)(zf) <= eps:
                take_second(z, zf, "second preimage (LP vertex of the latent box)")
                return out
        if enc.n_unstable <= MAX_MIP_BINARIES and not Deadline(deadline).expired():
            rm = P.reduced_model(net, zlo, zhi, enc.bounds, pe.boxes)
            if not _add_away(rm.builder, rm, (z, delta), zlo, zhi):
                out.unique, out.umethod = True, "latent box"
                return out
            sol, enc2, bst = run_mip((rm.builder, rm))
            out.uniq.update(mip=bst, mip_status=sol.status.value)
            if sol.status is MilpStatus.INFEASIBLE:
                out.unique, out.umethod = True, "MIP over the latent box Z"
            elif sol.x is not None:
                z2 = polish_box(prenet, np.clip(sol.x[rm.z], zlo, zhi), *pe.boxes[K], zlo, zhi,
                                score=away_score(z))
                if away_score(z)(z2) <= eps:
                    take_second(z, z2, "MIP over the latent box Z")
        return out
    # peeling stopped at layer k: candidates, then the remaining problem's MIP
    k = pe.stopped_at
    tn = truncated_network(net, k)
    Tk = pe.boxes[k]
    cands = _gd_candidates(net, x, lo, hi, seed, deadline)
    cands = [descend(net, prenet, x, c, lo, hi, deadline=deadline) for c in cands]
    if cands:
        out.z = min(cands, key=score)
        if score(out.z) <= eps:
            out.z = final_polish(out.z)
            out.status = "exact"
            out.message = ("G(z) reproduces the target to tolerance (floating-point forward "
                           "pass; candidate from gradient descent, polished)")
    bk = P.forward_bounds(tn, lo, hi)
    nb = _mip_binaries(tn, bk)
    pinfo["remaining_problem"] = {"layers": k + 1, "binaries": nb}
    if nb > MAX_MIP_BINARIES:
        msg = (f"not built: the remaining problem (layers 0..{k}) has {nb} binaries "
               f"(> {MAX_MIP_BINARIES})")
        stats["exact_phase"]["mip"] = msg
        if out.status == "exact" and uniqueness:
            out.uniq["status"] = "not decided: " + msg
        return out
    if Deadline(deadline).expired():
        return out
    if tighten and not any(hasattr(L.W, "tocsr") for L in tn.layers):
        left = Deadline(deadline).remaining()
        bk = propagate_bounds(tn, lo, hi, tighten=True, output_units=[],
                              time_limit=None if left is None else 0.3 * left)
    if out.status != "exact":
        out.mip_tried = True
        built = box_model(tn, *Tk, lo, hi, bk)
        if built is None:
            out.status = "none"
            out.message = f"no z in the box reproduces the target to {eps:.3g} (bounds)"
            return out
        sol, enc2, bst = run_mip(built, 0.5)
        stats["exact_phase"].update(mip=bst, mip_status=sol.status.value)
        if sol.status is MilpStatus.INFEASIBLE:
            out.status = "none"
            out.message = (f"no z in the box reproduces the target to {eps:.3g} (MIP of the "
                           "remaining layers infeasible)")
            return out
        if sol.x is not None:
            z = descend(net, prenet, x, np.clip(sol.x[enc2.z], lo, hi), lo, hi,
                        deadline=deadline)
            if out.z is None or score(z) < score(out.z):
                out.z = z
            if score(z) <= eps:
                out.z = final_polish(z)
                out.status = "exact"
                out.message = ("G(z) reproduces the target to tolerance (floating-point "
                               "forward pass; MIP of the remaining layers)")
    if out.status == "exact" and uniqueness and not Deadline(deadline).expired():
        built = box_model(tn, *Tk, lo, hi, bk, away=(out.z, delta))
        if built is None:
            out.unique, out.umethod = True, "bounds"
            return out
        sol, enc2, bst = run_mip(built)
        out.uniq.update(mip=bst, mip_status=sol.status.value)
        if sol.status is MilpStatus.INFEASIBLE:
            out.unique, out.umethod = True, "MIP of the remaining layers"
        elif sol.x is not None:
            z2 = descend(net, prenet, x, np.clip(sol.x[enc2.z], lo, hi), lo, hi,
                         deadline=deadline)
            if away_score(out.z)(z2) <= eps:
                take_second(out.z, z2, "MIP of the remaining layers")
    return out


def _invert_peeled(network, x, *, norm, latent_box, time_limit, backend, uniqueness, delta, tol,
                   tighten, threads, verbose, seed):
    from dataclasses import replace

    from . import inversion_peel as P
    from .backends import DEFAULT_BACKEND, get_backend
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    norm, x, lo, hi = _validate(network, x, norm, latent_box, delta, tol)
    be = get_backend(backend or DEFAULT_BACKEND)
    head = network.layers[-1].activation
    kind = head.kind
    for L in network.layers[:-1]:
        L.activation.require_piecewise_linear("invert (a sigmoid/tanh layer is only supported "
                                              "as the last layer)")
    pl_head = head.piecewise_linear
    prenet = pre_activation_network(network)
    warnings = []
    oor = P.out_of_range(head, x)
    if oor.any():
        rlo, rhi = head.range
        d = float(np.max(np.maximum(rlo - x, x - rhi)))
        rng = head.output_set(1)[:-2]
        warnings.append(f"{int(oor.sum())} target value(s) at or beyond the range {rng} of "
                        f"the {kind} output (largest excess {d:.3g}): the output residual is "
                        "at least the excess")
    stats: dict = {}
    # the exact problem: for a sigmoid/tanh head and a target inside the open
    # range, the pre-activation problem against act^-1(x) (issue 15)
    if not pl_head and not oor.any():
        space, ex_net, ex_x = "pre-activation", prenet, head.inverse(x)
    else:
        space, ex_net, ex_x = "output", network, x
    eps = tolerance(ex_x, tol)
    stats["exact_phase"] = {"space": space, "eps": eps}
    ex = _exact_phase(ex_net, ex_x, eps, lo, hi, delta=delta, uniqueness=uniqueness,
                      deadline=deadline, backend=be, threads=threads, verbose=verbose, seed=seed,
                      tighten=tighten, stats=stats)
    pinfo = ex.peel
    if ex.uniq:
        stats["uniqueness"] = ex.uniq

    def finish(res, **kw):
        b = [v for v in (res.binaries, ex.binaries) if v is not None]
        return replace(res, seconds=time.monotonic() - start, peel=pinfo,
                       binaries=max(b) if b else None,
                       warnings=tuple(warnings) + tuple(res.warnings), **kw)

    if ex.status == "exact":
        res = make_result("exact", ex.z, network, x, norm, lo, hi, start, ex.method, optimal=True,
                          unique=ex.unique if uniqueness else None, second=ex.second, bound=0.0,
                          witness=ex.witness, message=ex.message,
                          delta=delta if uniqueness else None, stats=stats)
        kw = {}
        if space == "pre-activation":
            ez = np.asarray(ex.z)
            kw = dict(space=space, output_objective=res.objective,
                      objective=residual_norm(ex_net.forward(ez) - ex_x, norm),
                      message=res.message.replace(
                          "G(z) reproduces the target to tolerance",
                          f"the last layer's pre-activations reproduce {kind}^-1(x) to "
                          f"{eps:.3g}") + f"; output L-inf residual {res.residual:.3g}")
        return finish(res, uniqueness_method=ex.umethod, **kw)

    # nearest phase (output space for L-inf). First lower bound: what the
    # reachable range of each output unit alone forces (a pixel below 0 under
    # a ReLU or sigmoid head costs at least its distance to the range)
    fwd = P.forward_bounds(network, lo, hi)
    lb = P.range_lower_bound(head, x, *fwd[-1])
    lower = eps if (ex.status == "none" and space == "output") else 0.0
    if len(lb):
        lower = max(lower, float(np.max(lb)) if norm == "linf" else float(np.sum(lb)))
    stats["range_bound"] = lower
    big = any(hasattr(L.W, "tocsr") for L in network.layers) or \
        _mip_binaries(network, fwd) > MAX_MIP_BINARIES
    if big and norm == "l1":
        # no whole-network MIP at this size: the best heuristic point, the
        # range bound (sum over the outputs) as the proved bound
        cands = ([] if ex.z is None else [ex.z]) + _gd_candidates(network, x, lo, hi, seed,
                                                                    deadline)
        cands = [descend(network, prenet, x, c, lo, hi, deadline=deadline) for c in cands]
        z = min(cands, key=lambda v: residual_norm(network.forward(v) - x, "l1"))
        obj = residual_norm(network.forward(z) - x, "l1")
        opt = obj * (1 - MIP_GAP) <= lower
        res = make_result("nearest", z, network, x, "l1", lo, hi, start, "peel", optimal=opt,
                          bound=lower, stats=stats,
                          message=(f"optimal: the L1 residual equals the range bound {lower:.6g}"
                                   if opt else
                                   f"best point found (no MIP: the network is too large); "
                                   f"proved: no z in the box has an L1 output residual below "
                                   f"{lower:.6g}"))
        return finish(res)
    if pl_head and not big:
        res = _invert_mip(network, x, norm=norm, latent_box=(lo, hi), time_limit=time_limit,
                          backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                          tighten=tighten, threads=threads, verbose=verbose, seed=seed,
                          exact_phase=not (ex.status == "none" or ex.mip_tried), lower0=lower,
                          start=start, stats=stats, method_prefix="peel+mip")
        b = [v.get("binaries") for v in stats.values() if isinstance(v, dict) and
             v.get("binaries") is not None]
        res = replace(res, binaries=max(b) if b else None)
        return finish(res, uniqueness_method="MIP" if res.unique is not None else None)
    if norm == "linf":
        res = _nearest_monotone_head(network, prenet, x, lo, hi, fwd, ex.z, lower,
                                     tolerance(x, tol), be, deadline, threads, verbose, seed,
                                     stats, start)
        return finish(res)
    # L1 with a sigmoid/tanh head: the pre-activation problem
    c = max(tol, 1e-12)
    rlo, rhi = head.range
    xc = np.clip(x, rlo + c * (rhi - rlo), rhi - c * (rhi - rlo))
    if np.any(xc != x):
        warnings.append(f"{int((xc != x).sum())} target value(s) clipped to "
                        f"[{rlo + c * (rhi - rlo):g}, {rhi - c * (rhi - rlo):g}] for the "
                        f"pre-activation problem ({kind}^-1 of the target)")
    ystar = head.inverse(xc)
    res = _invert_mip(prenet, ystar, norm="l1", latent_box=(lo, hi), time_limit=time_limit,
                      backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                      tighten=tighten, threads=threads, verbose=verbose, seed=seed,
                      start=start, stats=stats, method_prefix="peel+mip")
    z = None if res.z is None else np.array(res.z)
    out = None if z is None else residual_norm(network.forward(z) - x, "l1")
    res = replace(res, space="pre-activation", output_objective=out,
                  residual=float("inf") if z is None else output_residual(network, z, x),
                  target_norm=float(np.max(np.abs(x))),
                  message=res.message + f" (objective and bound: L1 in the pre-activation "
                  f"space, against {kind}^-1 of the target)")
    return finish(res)


def _nearest_monotone_head(network, prenet, x, lo, hi, fwd, z0, lower, eps, backend, deadline,
                           threads, verbose, seed, stats, start):
    """L-inf nearest point in the output space for a sigmoid/tanh head (or
    any head, for networks too large or too sparse for the whole-network MIP
    of :func:`_invert_mip`; then no MIP runs past :data:`MAX_MIP_BINARIES`).

    ``|act(y_i) - x_i| <= t`` is the box :func:`target_box` ``(t)`` on the
    last pre-activation, nested in ``t``: the incumbent (gradient descent,
    then :func:`solver.inversion_nearest.region_walk`) gives an upper level; the
    per-unit range bound (:func:`range_lower_bound`) a lower one; a
    feasibility MIP of the box at ``t_inc (1 - MIP_GAP)`` that is infeasible
    proves optimality, a feasible one gives a better incumbent."""
    from . import inversion_peel as P
    from .backends import MilpStatus
    from .bounds import propagate_bounds
    head = network.layers[-1].activation
    info = stats.setdefault("nearest_phase", {})

    def score(z):
        return output_residual(network, z, x)

    lb = P.range_lower_bound(head, x, *fwd[-1])
    lower = max(lower, float(np.max(lb)) if len(lb) else 0.0)

    def improve(z):
        # the region walk (exact L-inf minimum per activation region, then
        # across kinks) makes the incumbent, hence the MIP's level, tight
        from .inversion_nearest import region_walk
        t0 = time.monotonic()
        z, _, wi = region_walk(network, prenet, x, z, lo, hi, lower=lower,
                               stop_at=lower / (1 - MIP_GAP),
                               deadline=Deadline(deadline).portion(0.3).at)
        walk = info.setdefault("region_walk", {"regions": 0, "moves": 0, "seconds": 0.0})
        walk["regions"] += wi["regions"]
        walk["moves"] += wi["moves"]
        walk["seconds"] = round(walk["seconds"] + time.monotonic() - t0, 4)
        return z

    def attained(t):
        return t * (1 - MIP_GAP) <= lower

    # candidates, cheapest first; stop as soon as one attains the range bound
    z, t_inc = None, math.inf
    for make in (lambda: [] if z0 is None else [z0],
                 lambda: _gd_candidates(network, x, lo, hi, seed, deadline, restarts=1,
                                        steps=100),
                 lambda: _gd_candidates(network, x, lo, hi, seed, deadline),
                 lambda: [np.clip(np.zeros(network.n_in), lo, hi)]):
        for c in make():
            c = improve(c)
            if score(c) < t_inc:
                z, t_inc = c, score(c)
        if attained(t_inc):
            break
    info.update(incumbent=t_inc, range_bound=lower)
    binaries = None
    method = "peel"
    optimal = attained(t_inc)
    how = "the per-unit range bound" if optimal else ""
    bk = P.forward_bounds(prenet, lo, hi)
    nb = _mip_binaries(prenet, bk)
    if nb > MAX_MIP_BINARIES:
        info["mip"] = f"not built: {nb} binaries (> {MAX_MIP_BINARIES})"
    elif not any(hasattr(L.W, "tocsr") for L in prenet.layers):
        left = Deadline(deadline).remaining()
        bk = propagate_bounds(prenet, lo, hi, tighten=True, output_units=[],
                              time_limit=None if left is None else 0.2 * left)
    while not optimal and nb <= MAX_MIP_BINARIES and not Deadline(deadline).expired():
        level = max(lower, t_inc * (1 - MIP_GAP))
        built = box_model(prenet, *P.target_box(head, x, level), lo, hi, bk)
        if built is None:
            lower, optimal, how = level, True, "bounds"
            break
        sol, enc, name, bst = _solve_box_mip(built, backend, deadline, threads, verbose)
        method = f"peel+mip[{name}]"
        binaries = max(binaries or 0, bst["binaries"])
        info.setdefault("mips", []).append({"level": level, "status": sol.status.value,
                                            "seconds": round(sol.seconds, 4), **bst})
        if sol.status is MilpStatus.INFEASIBLE:
            lower, optimal, how = level, True, "an infeasible MIP just below the incumbent"
            break
        if sol.x is None:
            break
        z2 = improve(np.clip(sol.x[enc.z], lo, hi))
        if score(z2) < t_inc:
            z, t_inc = z2, score(z2)
        else:
            break
    if t_inc <= eps:
        optimal, lower = True, 0.0
        msg = ("G(z) reproduces the target to tolerance in the output space (floating-point "
               "forward pass)")
    elif optimal:
        msg = (f"optimal: no z in the box has an L-inf output residual below {lower:.6g} "
               f"(this point: {t_inc:.6g}; proved by {how})")
    else:
        msg = (f"best point found, not proved optimal; proved: no z in the box has an L-inf "
               f"output residual below {lower:.6g}" + (
                   f" (no MIP: {nb} binaries)" if nb > MAX_MIP_BINARIES else ""))
    res = make_result("exact" if t_inc <= eps else "nearest", z, network, x, "linf", lo, hi, start,
                      method, optimal=optimal, bound=lower, message=msg, stats=stats)
    from dataclasses import replace
    return replace(res, binaries=binaries, uniqueness_method=None)
