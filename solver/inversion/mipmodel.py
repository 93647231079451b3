"""The MIP models of inversion: the residual encoding of the output layer
(:func:`encode_residual`: the target fixes the sign of most output units),
the whole-network model (:func:`inversion_model`), sign fixing under the
target (:func:`target_tighten`), the feasibility model of a box target on the
last pre-activation (:func:`box_model`), and one solve (:func:`solve_mip`).

References
----------
V. Tjeng, K. Xiao, R. Tedrake, "Evaluating robustness of neural networks with
mixed integer programming", ICLR 2019 (big-M encoding, bounds).
"""
from __future__ import annotations

import time

import numpy as np

from ..deadline import Deadline
from ..errors import InputError

__all__ = ["ambiguous_outputs", "encode_residual", "inversion_model", "target_tighten",
           "relaxation_infeasible", "solve_mip", "output_bounds", "MAX_MIP_BINARIES",
           "box_model", "add_away", "mip_binaries"]


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
    from ..netmilp import MilpBuilder, encode_network
    B = MilpBuilder()
    enc = encode_network(B, network, bounds, box=(lo, hi), encode_output=False, fixed=fixed)
    ylo, yhi = bounds[-1]
    rv, ob = encode_residual(B, network, enc.pre[-1], x, ylo, yhi, norm, r_ub, r_lb=r_lb)
    if away is not None and not add_away(B, enc, away, lo, hi):
        return None
    return B, enc, rv, ob


def _output_subnetwork(network, keep):
    """The network with only the output units in ``keep`` (a relaxation of any
    constraint set on the outputs: fewer rows)."""
    from ..network import DenseLayer, Network
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
    from ..bounds import LP_PAD
    from ..lp import PersistentLP
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


def relaxation_infeasible(network, x, lo, hi, bounds, norm, rho, deadline=None):
    """True if the LP relaxation of the inversion MIP with residual ``<= rho``
    is infeasible (then no ``z`` in the box has residual ``<= rho``, to LP
    tolerance); False otherwise, also when HiGHS stops at ``deadline``."""
    from ..lp import PersistentLP
    B, enc, rv, _ = inversion_model(network, x, lo, hi, bounds, norm, rho)
    lp = PersistentLP(B.matrix(), B.row_lb, B.row_ub, B.lb, B.ub)
    _, s = lp.extreme(int(rv[0]), +1, Deadline(deadline).remaining(floor=1e-3))
    return s == "infeasible"


def solve_mip(builder, backend, deadline, threads=1, verbose=False):
    """``(solution, backend name)`` of the builder's model, solved until
    ``deadline``. Past the deadline the model is not even built, and with
    too little time left no engine is started (:func:`solver.netmilp.solve_model`):
    the answer is a ``TIME_LIMIT`` without a point."""
    from ..netmilp import not_started, solve_model
    if Deadline(deadline).expired():        # (building takes time)
        name = getattr(backend, "name", str(backend))
        return not_started(name), name
    model = builder.build()
    return solve_model(model, backend, time_limit=Deadline(deadline).remaining(),
                       threads=threads, verbose=verbose)


def output_bounds(network, lo, hi, bounds, amb, deadline, stats, key):
    """LP-tighten the ambiguous output units (big-M), within a time share."""
    from ..bounds import tighten_units
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


#: a MIP of the remaining problem is only built up to this many binaries
#: (beyond that the model alone takes minutes to write; ``unique`` stays null)
MAX_MIP_BINARIES = 4000


def box_model(network, tlo, thi, lo, hi, bounds, *, away=None, fixed=None):
    """Feasibility MIP ``{z in [lo, hi] : tlo <= y_K(z) <= thi}`` for the
    last layer's pre-activation ``y_K`` (the interval target that
    :func:`solver.inversion.peel.target_box` makes of any monotone head).

    ``bounds`` are pre-activation bounds over the box; the last layer's are
    intersected with ``[tlo, thi]`` (None when that is empty: no MIP needed).
    ``away=(z_ref, delta)`` adds ``||z - z_ref||_inf >= delta`` (uniqueness).
    Returns ``(builder, encoding)`` or None (empty, or box narrower than delta).
    """
    from ..netmilp import MilpBuilder, encode_network
    ylo = np.maximum(bounds[-1][0], tlo)
    yhi = np.minimum(bounds[-1][1], thi)
    if np.any(ylo > yhi):
        return None
    bnd = list(bounds[:-1]) + [(ylo, yhi)]
    B = MilpBuilder()
    enc = encode_network(B, network, bnd, box=(lo, hi), encode_output=False, fixed=fixed)
    if away is not None and not add_away(B, enc, away, lo, hi):
        return None
    return B, enc


def add_away(B, enc, away, lo, hi):
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


def mip_binaries(network, bounds):
    """Binaries the MIP of ``network`` (output not encoded) would need."""
    from ..bounds import stable_masks
    n = 0
    for L, (l, h) in zip(network.layers[:-1], bounds[:-1]):
        a, i = stable_masks(L.activation, l, h)
        n += int((~(a | i)).sum())
    return n
