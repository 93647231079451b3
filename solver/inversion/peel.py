"""Peeling: the structure of a generator's top layers, used before any MIP.

Inverting ``G = L_K o ... o L_1``, ``L_k(u) = act_k(W_k u + b_k)``, by a MIP
over all hidden units ignores what the target already says. Two facts do most
of the work on real generators (issue 15):

1. *A strictly monotone activation is a bijection onto its range*, so
   ``|act(y_i) - x_i| <= t`` is exactly an interval of ``y_i``
   (:func:`target_box`): ``[x - t, x + t]`` for the identity,
   ``[logit(x - t), logit(x + t)]`` for the sigmoid (an end at or beyond 0 or 1
   becomes infinite), ``[atanh(x - t), atanh(x + t)]`` for tanh, the two pieces'
   preimages for a leaky ReLU. For a ReLU, ``x_i > t`` gives the interval
   ``[x - t, x + t]`` (the unit is active: **the target fixes its sign**) and
   ``x_i <= t`` only ``y_i <= x_i + t``.
2. *A layer whose rows with a two-sided interval have full column rank is
   injective on its input*: from ``W_R u + b_R`` in a box, ``u`` lies in a
   box around a weighted least-squares solution (:func:`certified_box`, a
   rigorous floating-point bound), which is the target of the layer below.

3. *On a small latent box the network is affine except at the units whose
   kink the box meets* (:func:`affine_enclosure`, symbolic intervals): every
   peeled box becomes linear rows in ``z``, and, with those units' outputs
   as extra unknowns, the boxes pin ``z`` again (:func:`latent_certified_box`);
   LP hulls shrink the box (:func:`refine_latent_box`).

:func:`peel` applies 1 and 2 from the top layer down as long as they hold;
when it reaches the latent space, :func:`refine_latent_box` encloses the
preimage set of the target in a box ``Z``, usually a tiny one on which every
unit's sign is fixed: uniqueness is then a statement about ``Z`` and no
second MIP is needed. Where peeling stops (a layer whose two-sided rows do
not have full column rank, such as a transposed convolution with more inputs
than outputs), the caller hands a MIP the layers below with the boxes found
so far; where ``Z`` still meets kinks, :func:`reduced_model` is the MIP of
just those units on ``Z``.

What is proved
--------------
With ``S_t = {z in box : ||G(z) - x||_inf <= t}`` (real arithmetic; ``G``
the network with its exact binary64 weights), every box this module returns
contains the image of ``S_t`` at its layer, and ``Z`` contains ``S_t``
(for a sigmoid/tanh head, :func:`solver.inversion.invert` applies this to the
pre-activation problem, whose ``G`` is the network without its head). The
bounds are computed in floating point with the a priori error bounds of
floating-point dot products (``|fl(A B) - A B| <= gamma_n |A| |B|``, Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., Sec. 3.5), and
padded, so that rounding only loosens them; logit/atanh ends are rounded
outward. The LP hull in the latent space is exact up to the LP solver's
feasibility tolerance, padded by :data:`solver.bounds.LP_PAD`, like every other
bound of :mod:`solver.bounds`.

References
----------
Puthawala et al., "Globally injective ReLU networks", Sec. 2 (a ReLU layer is
injective at ``x`` iff the rows active at ``x`` span the input space) and
Corollary 1 (injective layers compose). Lei, Jalal, Dhillon, Dimakis,
"Inverting deep generative models, one layer at a time", NeurIPS 2019
(layer-wise inversion of expansive layers, here made rigorous).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..io import as_dense, issparse

__all__ = ["UNIT_ROUNDOFF", "USEFUL_RATIO", "MAX_PEEL_INPUTS", "kind_slope", "stable_slopes",
           "activation_derivative", "preimage_box", "target_box", "out_of_range",
           "range_lower_bound", "gamma_n", "CertifiedBox", "certified_box", "LayerPeel",
           "Peel", "forward_bounds", "peel"]

#: unit roundoff of binary64
UNIT_ROUNDOFF = 2.0 ** -53

#: a layer is peeled when the certified box of some input unit is this much
#: narrower than its forward bounds (else peeling stops: no input is pinned)
USEFUL_RATIO = 0.5
#: layers with more inputs are not peeled (the bound forms dense n x n matrices)
MAX_PEEL_INPUTS = 5000


# ---------------------------------------------------------------------------
# activations: interval preimages (the rest is :class:`solver.activations.Activation`)
# ---------------------------------------------------------------------------

def kind_slope(act):
    """``(kind, negative-side slope or None)`` of an Activation."""
    return act.kind, (act.slope if act.piecewise_linear else None)


def stable_slopes(ylo, yhi, a):
    """A (leaky) ReLU layer with negative-side slope ``a`` on pre-activation
    bounds ``[ylo, yhi]``: masks ``(active, inactive, unstable)`` (active wins
    where ``ylo >= 0``) and ``d``, each unit's slope where it is stable (1
    active, ``a`` inactive; 0 for unstable units, which callers treat apart)."""
    act = ylo >= 0
    ina = (yhi <= 0) & ~act
    unst = ~(act | ina)
    return act, ina, unst, np.where(act, 1.0, np.where(ina, a, 0.0))


def activation_derivative(act, y, out):
    """Elementwise derivative of ``act`` at ``y`` (``out = act(y)``); at the
    kink of a piecewise-linear kind, the negative side's slope."""
    if act.kind == "sigmoid":
        return out * (1.0 - out)
    if act.kind == "tanh":
        return 1.0 - out * out
    return np.where(y > 0, 1.0, act.slope)


def _widen(lo, hi, rel=1e-12):
    """Outward padding of computed interval ends (finite ends only)."""
    lo = np.where(np.isfinite(lo), lo - rel * (1.0 + np.abs(lo)), lo)
    hi = np.where(np.isfinite(hi), hi + rel * (1.0 + np.abs(hi)), hi)
    return lo, hi


def preimage_box(act, vlo, vhi):
    """Box of pre-activations ``y`` with ``act(y)`` in ``[vlo, vhi]``
    (elementwise, real arithmetic), rounded outward.

    ``act`` is monotone non-decreasing, so the preimage of an interval is an
    interval: for an injective ``act`` its inverse at the ends
    (:meth:`Activation.inverse`, infinite outside the range), for ReLU
    ``[vlo, vhi]`` when ``vlo > 0`` (the unit is active) and ``(-inf, vhi]``
    otherwise. The ends are rounded outward (logit/atanh/division are
    accurate to a few ulps; the padding is 1e-12 relative). An empty preimage
    is returned as ``lo = +inf > hi = -inf``.

    Examples
    --------
    >>> from solver.activations import RELU, SIGMOID
    >>> lo, hi = preimage_box(RELU, np.array([-0.5, 1.0]), np.array([0.25, 2.0]))
    >>> bool(lo[0] == -np.inf), bool(0.2499 < hi[0] < 0.2501), bool(0.9999 < lo[1] < 1.0)
    (True, True, True)
    >>> lo, hi = preimage_box(SIGMOID, np.array([0.5]), np.array([1.5]))
    >>> bool(abs(lo[0]) < 1e-9), bool(hi[0] == np.inf)
    (True, True)
    """
    vlo = np.nextafter(np.asarray(vlo, float), -np.inf)
    vhi = np.nextafter(np.asarray(vhi, float), np.inf)
    rlo, rhi = act.range
    with np.errstate(divide="ignore", invalid="ignore"):
        if act.is_relu:
            lo = np.where(vlo > 0, vlo, -np.inf)
            hi = vhi.copy()
        else:
            lo = np.where(vlo <= rlo, -np.inf, act.inverse(np.maximum(vlo, rlo)))
            hi = np.where(vhi >= rhi, np.inf, act.inverse(np.minimum(vhi, rhi)))
    lo, hi = _widen(np.asarray(lo, float), np.asarray(hi, float))
    if act.range_open:
        empty = (vhi <= rlo) | (vlo >= rhi)
    else:
        empty = (vhi < rlo) | (vlo > rhi)
    lo = np.where(empty, np.inf, lo)
    hi = np.where(empty, -np.inf, hi)
    return lo, hi


def target_box(act, x, t):
    """Pre-activation box ``{y : |act(y) - x| <= t}`` (elementwise), outward
    rounded; see :func:`preimage_box`."""
    x = np.asarray(x, float)
    return preimage_box(act, x - t, x + t)


def out_of_range(act, x):
    """Mask of target values at or beyond the activation's range (sigmoid:
    ``x <= 0`` or ``x >= 1``; tanh: ``|x| >= 1``; ReLU: ``x < 0``)."""
    x = np.asarray(x, float)
    rlo, rhi = act.range
    if act.range_open:
        return (x <= rlo) | (x >= rhi)
    return (x < rlo) | (x > rhi)


def range_lower_bound(act, x, ylo, yhi):
    """Per-unit lower bound on ``|act(y_i) - x_i|`` over ``y_i`` in
    ``[ylo_i, yhi_i]`` (the reachable pre-activations): the distance from
    ``x_i`` to ``[act(ylo_i), act(yhi_i)]``, rounded down.

    For a sigmoid head a target pixel ``x_i < 0`` costs at least
    ``sigmoid(ylo_i) - x_i``: no latent point does better, whatever the other
    pixels. This is the first lower bound of the nearest phase.
    """
    vlo, vhi = act.bounds(np.asarray(ylo, float), np.asarray(yhi, float))
    x = np.asarray(x, float)
    d = np.maximum(0.0, np.maximum(vlo - x, x - vhi))
    # the subtraction rounds: round the distance down
    return np.maximum(0.0, d * (1 - 1e-12) - 4 * np.spacing(np.abs(x) + 1))


# ---------------------------------------------------------------------------
# certified left inverse
# ---------------------------------------------------------------------------

def gamma_n(n):
    nu = n * UNIT_ROUNDOFF
    return nu / (1 - nu)


@dataclass(frozen=True)
class CertifiedBox:
    """A box ``[center - radius, center + radius]`` that contains every
    ``u`` with ``|u| <= umax`` and ``W_R u + b_R`` in the row box.

    ``certified_rank`` is True when the bound proves ``W_R`` has full column
    rank (``||I - P W_R||_inf < 1`` including rounding)."""
    center: np.ndarray
    radius: np.ndarray
    rows: int
    certified_rank: bool
    seconds: float


def certified_box(W, b, tlo, thi, umax):
    """Enclose the inputs ``u`` of an affine layer given a box on its output.

    Parameters
    ----------
    W, b : the layer (``m x n``); only the rows with both ends of
        ``[tlo, thi]`` finite are used.
    tlo, thi : the box on ``W u + b``.
    umax : array, ``|u_j| <= umax_j`` for every admissible input (forward
        bounds; only multiplies the tiny term ``|I - P W_R|``).

    Returns
    -------
    :class:`CertifiedBox`, or None when fewer than ``n`` rows are two-sided.

    Notes
    -----
    With ``P`` a (weighted) least-squares left inverse in floating point,
    ``u = P (y - b) + (I - P W) u`` holds exactly for any matrix ``P``; the
    radius is ``|P| r + |E| umax`` plus the a priori rounding bounds
    ``gamma_n |P| |W|`` of the products (Higham, Sec. 3.5), where ``r`` is
    the radius of the row box and ``E`` the computed ``I - P W``. Rows are
    weighted by ``1 / r_i`` (the ellipsoid-free choice that makes every row's
    uncertainty count once).
    """
    t0 = time.monotonic()
    tlo = np.asarray(tlo, float)
    thi = np.asarray(thi, float)
    R = np.isfinite(tlo) & np.isfinite(thi)
    m, n = W.shape
    if R.sum() < n:
        return None
    WR = as_dense(W.tocsr()[np.flatnonzero(R)] if issparse(W) else W[R])
    bR = np.asarray(b, float)[R]
    c = 0.5 * tlo[R] + 0.5 * thi[R]
    rad = np.maximum(thi[R] - c, c - tlo[R])
    rad = rad * (1 + 4 * UNIT_ROUNDOFF) + 1e-300
    w = 1.0 / np.maximum(rad, 1e-300)
    # weighted least-squares left inverse P = ((D W)^T D W)^-1 (D W)^T D by
    # Cholesky of the normal equations: several times faster than QR/SVD, and
    # its loss of accuracy (condition squared) is measured by E below, which
    # makes the bound rigorous whatever P is
    # (QR when the normal equations are too ill-conditioned to factor or to
    # give a certified P)
    from scipy.linalg import cho_factor, cho_solve
    DW = w[:, None] * WR
    k = WR.shape[0]
    g = gamma_n(k + 2)
    absW = np.abs(WR)
    E = P = None
    for how in ("cholesky", "qr"):
        try:
            if how == "cholesky":
                P = cho_solve(cho_factor(DW.T @ DW), DW.T) * w[None, :]
            else:
                Q, Rt = np.linalg.qr(DW)
                P = np.linalg.solve(Rt, Q.T) * w[None, :]
        except (np.linalg.LinAlgError, ValueError):
            continue
        if not np.all(np.isfinite(P)):
            continue
        absP = np.abs(P)
        E = np.abs(np.eye(n) - P @ WR) + g * (absP @ absW) + UNIT_ROUNDOFF * np.eye(n)
        if np.max(E.sum(axis=1)) < 0.5:
            break
    if E is None:
        return CertifiedBox(np.zeros(n), np.full(n, np.inf), int(R.sum()), False,
                            time.monotonic() - t0)
    cb = c - bR
    center = P @ cb
    err_center = g * (absP @ (np.abs(c) + np.abs(bR)))
    radius = absP @ rad + E @ np.asarray(umax, float) + err_center
    radius = radius * (1 + 1e-10) + 1e-300
    cert = bool(np.max(E.sum(axis=1)) * (1 + 1e-10) < 1.0)
    return CertifiedBox(center, radius, k, cert, time.monotonic() - t0)


# ---------------------------------------------------------------------------
# the peel
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerPeel:
    """What the target says about one layer's input.

    Attributes
    ----------
    layer : index of the peeled layer (its input is pinned to a box).
    rows : rows with a two-sided target interval (used for the bound).
    certified_rank : the bound proves those rows have full column rank.
    width : largest width of the box on the layer's input.
    fixed_active, fixed_inactive, near_zero : units of the layer below (for
        ``layer > 0``) whose sign the box fixes: output bounded away from the
        kink on the active side, entirely on the inactive side, or within the
        box's radius of the kink (their pre-activation is only bounded above).
    pinned : input units whose box is narrower than half their forward bounds.
    seconds : float.
    """
    layer: int
    rows: int
    certified_rank: bool
    width: float
    fixed_active: int = 0
    fixed_inactive: int = 0
    near_zero: int = 0
    seconds: float = 0.0
    pinned: int = 0

    def to_json(self):
        return {"layer": self.layer, "rows": self.rows, "certified_rank": self.certified_rank,
                "width": self.width, "pinned": self.pinned, "fixed_active": self.fixed_active,
                "fixed_inactive": self.fixed_inactive, "near_zero": self.near_zero,
                "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class Peel:
    """Result of :func:`peel`.

    Attributes
    ----------
    layers : tuple of :class:`LayerPeel`, top layer first.
    boxes : dict layer index -> ``(lo, hi)``, an enclosure of the layer's
        pre-activations over the preimage set (the top layer's is the target
        box).
    stopped_at : index of the layer whose input is not pinned (None when the
        peel reached the latent space).
    reason : why it stopped (or "reached the latent space").
    empty : True when some box is empty: no latent point in the box has
        residual ``<= t`` (a proof, see the module docstring).
    z_box : ``(lo, hi)`` enclosure of the preimage set in the latent space
        (the latent box when the peel stopped above layer 0).
    """
    layers: tuple
    boxes: dict
    stopped_at: int | None
    reason: str
    empty: bool = False
    z_box: tuple | None = None
    stats: dict = field(default_factory=dict)

    @property
    def reached_latent(self) -> bool:
        return self.stopped_at is None and not self.empty

    def fixed_units(self) -> int:
        return int(sum(p.fixed_active + p.fixed_inactive for p in self.layers))

    def to_json(self):
        return {"peeled_layers": [p.layer for p in self.layers],
                "layers": [p.to_json() for p in self.layers],
                "stopped_at": self.stopped_at, "reason": self.reason,
                "empty": self.empty, "units_fixed": self.fixed_units(),
                **({"z_box_width": float(np.max(self.z_box[1] - self.z_box[0]))}
                   if self.z_box is not None and not self.empty else {}),
                **self.stats}


def forward_bounds(network, lo, hi):
    """Interval bounds ``[(pre_lo, pre_hi)]`` per layer over the latent box,
    for any monotone activation (sigmoid/tanh included)."""
    from ..bounds import affine_interval
    ulo, uhi = np.asarray(lo, float), np.asarray(hi, float)
    out = []
    for L in network.layers:
        plo, phi = affine_interval(L.W, L.b, ulo, uhi)
        out.append((plo, phi))
        ulo, uhi = L.activation.bounds(plo, phi)
    return out


def peel(network, tlo, thi, lo, hi, *, fwd=None):
    """Peel the layers of ``network`` from the top, given an enclosure
    ``[tlo, thi]`` of the last layer's pre-activations.

    Parameters
    ----------
    network : :class:`solver.network.Network`.
    tlo, thi : arrays (infinite ends allowed), e.g. from :func:`target_box`.
    lo, hi : the latent box.
    fwd : forward interval bounds (:func:`forward_bounds`), computed if None.

    Returns
    -------
    :class:`Peel`.

    Notes
    -----
    Layer ``k`` (top first) is peeled when the rows of its box with both ends
    finite have full column rank, certified by :func:`certified_box`, and the
    box it gives for the layer's input is narrower than the forward bounds
    for some unit. The box on the input ``u = act_{k-1}(y_{k-1})`` becomes a
    box on ``y_{k-1}`` by :func:`preimage_box`: for a ReLU layer the units
    with a positive lower end are active (both ends finite), the others only
    bounded above. Layer 0's box gives a latent box by :func:`certified_box`
    when its two-sided rows span the latent space (else the latent box
    itself); :func:`refine_latent_box` takes it from there.
    """
    t0 = time.monotonic()
    layers = network.layers
    K = len(layers)
    if fwd is None:
        fwd = forward_bounds(network, lo, hi)
    tlo = np.maximum(np.asarray(tlo, float), fwd[-1][0])
    thi = np.minimum(np.asarray(thi, float), fwd[-1][1])
    boxes = {K - 1: (tlo, thi)}
    out = []
    if np.any(tlo > thi):
        return Peel((), boxes, K - 1, "the target box is empty on the reachable outputs",
                    empty=True, stats={"peel_seconds": round(time.monotonic() - t0, 4)})
    stopped, reason = None, "reached the latent space"
    for k in range(K - 1, 0, -1):
        L = layers[k]
        below = layers[k - 1]
        ulo_f, uhi_f = below.activation.bounds(*fwd[k - 1])
        umax = np.maximum(np.abs(ulo_f), np.abs(uhi_f))
        n_in = L.W.shape[1]
        cb = None if n_in > MAX_PEEL_INPUTS else certified_box(L.W, L.b, tlo, thi, umax)
        if cb is None:
            nrows = int((np.isfinite(tlo) & np.isfinite(thi)).sum())
            stopped = k
            reason = (f"layer {k}: {nrows} rows have a two-sided target, fewer than its "
                      f"{n_in} inputs (not injective on its input)" if nrows < n_in else
                      f"layer {k}: {n_in} inputs, more than this module peels densely "
                      f"({MAX_PEEL_INPUTS})")
            break
        ulo = np.maximum(cb.center - cb.radius, ulo_f)
        uhi = np.minimum(cb.center + cb.radius, uhi_f)
        width = float(np.max(uhi - ulo)) if len(ulo) else 0.0
        narrowed = (uhi - ulo) < USEFUL_RATIO * (uhi_f - ulo_f)
        if not cb.certified_rank or not np.all(np.isfinite(cb.radius)) or \
                (not narrowed.any() and not np.any(ulo > uhi)):
            stopped = k
            reason = (f"layer {k}: the {cb.rows} rows with a two-sided target do not pin its "
                      f"input (" + ("full column rank not certified" if not cb.certified_rank
                                    else "no unit's box is narrower than its forward "
                                    "bounds") + ")")
            break
        if np.any(ulo > uhi):
            out.append(LayerPeel(k, cb.rows, cb.certified_rank, width, seconds=cb.seconds))
            return Peel(tuple(out), boxes, k, f"layer {k}: the box on its input is empty",
                        empty=True, stats={"peel_seconds": round(time.monotonic() - t0, 4)})
        tlo, thi = preimage_box(below.activation, ulo, uhi)
        tlo = np.maximum(tlo, fwd[k - 1][0])
        thi = np.minimum(thi, fwd[k - 1][1])
        kind, _ = kind_slope(below.activation)
        if kind in ("relu",) or (kind == "leaky_relu"):
            fa = int((tlo > 0).sum())
            fi = int((thi <= 0).sum())
            nz = int(len(tlo) - fa - fi)
        else:
            fa, fi, nz = 0, 0, 0
        out.append(LayerPeel(k, cb.rows, cb.certified_rank, width, fa, fi, nz, cb.seconds,
                             int(narrowed.sum())))
        boxes[k - 1] = (tlo, thi)
        if np.any(tlo > thi):
            return Peel(tuple(out), boxes, k - 1, f"layer {k - 1}: empty box", empty=True,
                        stats={"peel_seconds": round(time.monotonic() - t0, 4)})
    st = {}
    if stopped is None:
        L0 = layers[0]
        zlo, zhi = np.array(lo, float), np.array(hi, float)
        cb = certified_box(L0.W, L0.b, tlo, thi, np.maximum(np.abs(zlo), np.abs(zhi)))
        if cb is not None and cb.certified_rank and np.all(np.isfinite(cb.radius)):
            zlo = np.maximum(zlo, cb.center - cb.radius)
            zhi = np.minimum(zhi, cb.center + cb.radius)
            if np.any(zlo > zhi):
                return Peel(tuple(out), boxes, 0, "layer 0: the box on the latent space is "
                            "empty", empty=True,
                            stats={"peel_seconds": round(time.monotonic() - t0, 4)})
        st["peel_seconds"] = round(time.monotonic() - t0, 4)
        return Peel(tuple(out), boxes, None, reason, z_box=(zlo, zhi), stats=st)
    st["peel_seconds"] = round(time.monotonic() - t0, 4)
    return Peel(tuple(out), boxes, stopped, reason,
                z_box=(np.array(lo, float), np.array(hi, float)), stats=st)
