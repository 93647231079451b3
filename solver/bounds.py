"""Pre-activation bounds of a network over a latent box.

Every big-M constant of the MILP encodings (:mod:`solver.netmilp`) comes from
here; nothing is guessed. Two stages:

1. **Interval arithmetic** (:func:`interval_bounds`): ``W u + b`` over a box
   of ``u`` is bounded row by row by ``W+ u_lo + W- u_hi + b`` and
   ``W+ u_hi + W- u_lo + b``; activations are monotone, so post-activation
   bounds are the activation of the pre-activation bounds. Exact for the first
   layer, loose (but valid) after that.
2. **LP tightening** (:func:`propagate_bounds` with ``tighten=True``): layer
   by layer, each unstable unit's pre-activation is minimised and maximised
   over the LP relaxation of the layers before it: stable units are linear,
   unstable ReLU units get the triangle relaxation ``u >= 0, u >= y,
   u <= h (y - l) / (h - l)``, leaky units (slope ``a``) the analogous convex
   hull of the two pieces on ``[l, h]``. The LPs are solved by HiGHS
   (:func:`scipy.optimize.linprog`) and the results are padded outward by a
   small tolerance, so a floating-point LP answer can only make a bound
   looser, never wrong. A bound that an LP fails to improve (limit hit, solver
   error) keeps its interval value, which is always valid.

Notes
-----
The optimisation-based bound tightening of MIP verification (Tjeng, Xiao and
Tedrake 2019, "Evaluating robustness of neural networks with mixed integer
programming"); the triangle relaxation is Ehlers 2017.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from .deadline import Deadline
from .errors import InputError
from .io import sign_parts
from .activations import parse_activation
from .lp import PersistentLP, linprog_highs  # noqa: F401 (PersistentLP lives in lp.py)

__all__ = ["LP_PAD", "box_arrays", "activation_bounds", "affine_interval", "interval_bounds",
           "stable_masks", "tighten_units", "propagate_bounds"]

#: relative/absolute padding applied to LP bounds (HiGHS feasibility
#: tolerance is 1e-7; the pad makes the bounds safe against it)
LP_PAD = 1e-6


def box_arrays(network, lo, hi):
    """Validate and broadcast a latent box to two float arrays of length ``n_in``.

    ``lo``/``hi`` may be scalars or arrays. Raises :class:`InputError` for
    NaN/inf, a wrong length, or ``lo > hi``.
    """
    n = network.n_in
    try:
        lo = np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy()
    except ValueError:
        raise InputError(f"latent box must be a scalar or have length {n}") from None
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("latent box contains NaN or inf (a finite box is required)")
    if np.any(lo > hi):
        raise InputError("latent box has lo > hi")
    return lo, hi


def activation_bounds(activation, lo, hi):
    """Post-activation bounds from pre-activation bounds (every activation is
    non-decreasing; :meth:`solver.activations.Activation.bounds`)."""
    return parse_activation(activation).bounds(lo, hi)


def affine_interval(W, b, ulo, uhi):
    """Bounds of ``W u + b`` for ``u`` in the box ``[ulo, uhi]`` (``W`` dense
    or scipy.sparse, as convolutions are stored)."""
    Wp, Wn = sign_parts(W)
    return Wp @ ulo + Wn @ uhi + b, Wp @ uhi + Wn @ ulo + b


def interval_bounds(network, lo, hi):
    """Interval-arithmetic pre-activation bounds, layer by layer.

    Parameters
    ----------
    network : :class:`solver.network.Network`
    lo, hi : scalar or array of length ``network.n_in``; the latent box.

    Returns
    -------
    list of ``(pre_lo, pre_hi)`` float arrays, one pair per layer.
    """
    ulo, uhi = box_arrays(network, lo, hi)
    out = []
    for L in network.layers:
        plo, phi = affine_interval(L.W, L.b, ulo, uhi)
        out.append((plo, phi))
        ulo, uhi = activation_bounds(L.activation, plo, phi)
    return out


def stable_masks(activation, lo, hi):
    """``(active, inactive)`` boolean masks: units whose pre-activation sign is
    fixed by the bounds (``lo >= 0`` resp. ``hi <= 0``). Identity layers are
    linear everywhere: every unit counts as active.

    Raises
    ------
    NotPiecewiseLinear for sigmoid and tanh (no sign structure)."""
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    activation = parse_activation(activation).require_piecewise_linear("bound propagation")
    if activation.is_identity:
        return np.ones(lo.shape, bool), np.zeros(lo.shape, bool)
    return lo >= 0, hi <= 0


class _Relaxation:
    """LP relaxation of the first ``k`` layers, grown one layer at a time.

    Variables: ``z`` (the latent box), then per layer ``y`` (pre-activation)
    and ``u`` (post-activation). Rows are kept as COO triplets and assembled
    on demand.
    """

    def __init__(self, zlo, zhi):
        self.nvar = len(zlo)
        self.lb = [np.asarray(zlo, float)]
        self.ub = [np.asarray(zhi, float)]
        self.eq = ([], [], [], [])    # rows, cols, vals, rhs
        self.ineq = ([], [], [], [])  # A x <= rhs
        self.last = np.arange(len(zlo))  # variable indices of the current layer input

    def _new(self, lo, hi):
        idx = np.arange(self.nvar, self.nvar + len(lo))
        self.nvar += len(lo)
        self.lb.append(np.asarray(lo, float))
        self.ub.append(np.asarray(hi, float))
        return idx

    @staticmethod
    def _add(store, terms, rhs):
        """Add ``k`` rows: ``terms`` is a list of ``(coef array (k,), var index array (k,))``."""
        rows, cols, vals, rh = store
        base = sum(len(r) for r in rh)
        k = len(rhs)
        for coef, var in terms:
            rows.append(base + np.arange(k))
            cols.append(np.asarray(var))
            vals.append(np.broadcast_to(np.asarray(coef, float), (k,)))
        rh.append(np.asarray(rhs, float))

    def add_layer(self, layer, plo, phi):
        """Append ``y = W u_prev + b`` and the relaxation of ``u = act(y)``."""
        W, b = layer.W, layer.b
        m = W.shape[0]
        y = self._new(plo, phi)
        # W u_prev - y = -b
        Wc = sp.coo_matrix(W)
        rows, cols, vals, rh = self.eq
        base = sum(len(r) for r in rh)
        rows += [base + Wc.row, base + np.arange(m)]
        cols += [self.last[Wc.col], y]
        vals += [Wc.data, -np.ones(m)]
        rh.append(-np.asarray(b, float))
        ulo, uhi = activation_bounds(layer.activation, plo, phi)
        u = self._new(ulo, uhi)
        a = layer.activation.require_piecewise_linear("the LP relaxation").slope
        act, ina = stable_masks(layer.activation, plo, phi)
        unst = ~(act | ina)
        # stable: u = y (active) or u = a y (inactive)
        ia, ii = np.flatnonzero(act), np.flatnonzero(ina)
        if len(ia):
            self._add(self.eq, [(1.0, u[ia]), (-1.0, y[ia])], np.zeros(len(ia)))
        if len(ii):
            self._add(self.eq, [(1.0, u[ii]), (-a, y[ii])], np.zeros(len(ii)))
        # unstable: convex hull of the two pieces on [l, h]
        ui = np.flatnonzero(unst)
        if len(ui):
            l, h = plo[ui], phi[ui]
            k = len(ui)
            # chord through (l, a l) and (h, h): u = s (y - l) + a l
            s = (h - a * l) / (h - l)
            if a <= 1:  # convex: u >= y, u >= a y, u <= chord
                self._add(self.ineq, [(1.0, y[ui]), (-1.0, u[ui])], np.zeros(k))
                self._add(self.ineq, [(a, y[ui]), (-1.0, u[ui])], np.zeros(k))
                self._add(self.ineq, [(1.0, u[ui]), (-s, y[ui])], a * l - s * l)
            else:  # concave: u <= y, u <= a y, u >= chord
                self._add(self.ineq, [(1.0, u[ui]), (-1.0, y[ui])], np.zeros(k))
                self._add(self.ineq, [(1.0, u[ui]), (-a, y[ui])], np.zeros(k))
                self._add(self.ineq, [(-1.0, u[ui]), (s, y[ui])], -(a * l - s * l))
        self.last = u
        return y, u

    def _assemble(self, store):
        rows, cols, vals, rh = store
        if not rh:
            return None, None
        nrow = sum(len(r) for r in rh)
        A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(nrow, self.nvar))
        return A, np.concatenate(rh)

    def matrices(self):
        """``(A_eq, b_eq, A_ub, b_ub, bounds)`` over all current variables."""
        Aeq, beq = self._assemble(self.eq)
        Aub, bub = self._assemble(self.ineq)
        bounds = np.column_stack([np.concatenate(self.lb), np.concatenate(self.ub)])
        return Aeq, beq, Aub, bub, bounds


def _lp_extreme(c_prev, const, rel_mats, prev_idx, nvar, sense, time_left):
    """min (sense=+1) or max (sense=-1) of ``c_prev . u_prev + const`` over the
    relaxation. Returns the value or None if the LP did not solve."""
    Aeq, beq, Aub, bub, bounds = rel_mats
    c = np.zeros(nvar)
    c[prev_idx] = sense * c_prev
    opts = {"presolve": True}
    if time_left is not None:
        opts["time_limit"] = max(0.01, time_left)
    try:
        res = linprog_highs(c, A_ub=Aub, b_ub=bub, A_eq=Aeq, b_eq=beq, bounds=bounds,
                            options=opts)
    except ValueError:
        return None
    if res.status != 0 or res.x is None:
        return None
    return sense * res.fun + const


def _tighten(L, plo, phi, cand, rel, deadline, st):
    """LP-tighten units ``cand`` of layer ``L`` in place over relaxation ``rel``."""
    mats = rel.matrices()
    prev = rel.last
    for i in cand:
        left = Deadline(deadline).remaining()
        if left is not None and left <= 0:
            st["complete"] = False
            break
        t0 = time.monotonic()
        vmin = _lp_extreme(L.W[i], L.b[i], mats, prev, rel.nvar, +1, left)
        vmax = None
        if vmin is None or vmin < 0:  # the max only matters while not yet stable
            vmax = _lp_extreme(L.W[i], L.b[i], mats, prev, rel.nvar, -1, left)
        st["lps"] += 2 if (vmin is None or vmin < 0) else 1
        st["lp_seconds"] += time.monotonic() - t0
        changed = False
        if vmin is not None:
            v = vmin - LP_PAD * (1 + abs(vmin))
            if v > plo[i]:
                plo[i] = v
                changed = True
        if vmax is not None:
            v = vmax + LP_PAD * (1 + abs(vmax))
            if v < phi[i]:
                phi[i] = v
                changed = True
        st["tightened"] += int(changed)


def _as_index(units, m):
    sel = np.asarray(units)
    if sel.dtype == bool:
        if sel.shape != (m,):
            raise ValueError("unit mask has the wrong length")
        return np.flatnonzero(sel)
    return sel.astype(int).reshape(-1)


def tighten_units(network, lo, hi, bounds, layer, units, *, time_limit=None, stats=None):
    """LP-tighten chosen units of one layer, given valid bounds of all layers.

    Parameters
    ----------
    network, lo, hi : as in :func:`propagate_bounds`.
    bounds : list of ``(pre_lo, pre_hi)`` (e.g. from :func:`propagate_bounds`
        with ``output_units=[]``); layers before ``layer`` define the relaxation.
    layer : int, the layer whose units are tightened.
    units : int indices or bool mask of units of that layer.
    time_limit : seconds or None; untouched units keep their bounds.

    Returns
    -------
    A new bounds list (the input is not modified). Only unstable units
    (``lo < 0 < hi``, non-identity layer) are tightened.
    """
    zlo, zhi = box_arrays(network, lo, hi)
    out = [(np.array(a, float), np.array(b, float)) for a, b in bounds]
    st = {"lps": 0, "tightened": 0, "lp_seconds": 0.0, "complete": True}
    L = network.layers[layer]
    plo, phi = out[layer]
    if layer > 0 and not L.activation.is_identity:
        cand = _as_index(units, len(plo))
        cand = cand[(plo[cand] < 0) & (phi[cand] > 0)]
        if len(cand):
            rel = _Relaxation(zlo, zhi)
            for k in range(layer):
                rel.add_layer(network.layers[k], *out[k])
            deadline = Deadline.after(time_limit).at
            _tighten(L, plo, phi, cand, rel, deadline, st)
    if stats is not None:
        stats.update(st)
    return out


def propagate_bounds(network, lo, hi, *, tighten=True, time_limit=None, output_units=None,
                     stats=None):
    """Pre-activation bounds of every layer over the latent box ``[lo, hi]``.

    Parameters
    ----------
    network : :class:`solver.network.Network`
    lo, hi : scalar or array of length ``network.n_in``
        The latent box (finite; an unbounded latent space has no finite
        big-M constants, so it is refused with :class:`InputError`).
    tighten : bool
        After interval arithmetic, tighten each *unstable* unit (bounds of
        both signs; non-identity layers) by two LPs over the relaxation of
        the previous layers. Layer 0 is exact by interval arithmetic already.
    time_limit : float or None
        Seconds for the LP stage; when it runs out the remaining units keep
        their interval bounds (still valid).
    output_units : array-like of int, bool mask, or None
        Units of the *last* layer to tighten (default: all unstable ones).
        The inversion MIP only needs big-M constants for the output units the
        target leaves ambiguous, so it passes those.
    stats : dict or None
        If given, filled with counters (``lps``, ``lp_seconds``,
        ``tightened``, ``unstable_interval``, ``unstable``).

    Returns
    -------
    list of ``(pre_lo, pre_hi)`` pairs of float arrays, one per layer; every
    pre-activation of every ``z`` in the box lies inside them.

    Notes
    -----
    The LP values are padded outward by ``LP_PAD * (1 + |value|)`` and
    intersected with the interval bounds; a failed LP leaves the interval
    bound. So the bounds are sound up to HiGHS' primal feasibility tolerance
    (1e-7), which the pad covers.

    References
    ----------
    Tjeng, Xiao, Tedrake, "Evaluating robustness of neural networks with mixed
    integer programming", ICLR 2019 (bounds for big-M). Ehlers, "Formal
    verification of piece-wise linear feed-forward neural networks", 2017
    (triangle relaxation).
    """
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    zlo, zhi = box_arrays(network, lo, hi)
    st = {"lps": 0, "tightened": 0, "unstable_interval": 0, "unstable": 0, "lp_seconds": 0.0,
          "complete": True}
    rel = _Relaxation(zlo, zhi)
    ulo, uhi = zlo, zhi
    out = []
    nlayers = len(network.layers)
    for k, L in enumerate(network.layers):
        plo, phi = affine_interval(L.W, L.b, ulo, uhi)
        act, ina = stable_masks(L.activation, plo, phi)
        unst = ~(act | ina)
        st["unstable_interval"] += int(unst.sum())
        if tighten and k > 0 and not L.activation.is_identity and unst.any():
            cand = np.flatnonzero(unst)
            if k == nlayers - 1 and output_units is not None:
                cand = np.intersect1d(cand, _as_index(output_units, len(plo)))
            if len(cand):
                _tighten(L, plo, phi, cand, rel, deadline, st)
        if np.any(plo > phi):  # cannot happen for a nonempty box; guard anyway
            raise RuntimeError(f"bound propagation produced lo > hi in layer {k}")
        act, ina = stable_masks(L.activation, plo, phi)
        st["unstable"] += int((~(act | ina)).sum())
        out.append((plo, phi))
        if k < nlayers - 1:
            rel.add_layer(L, plo, phi)
        ulo, uhi = activation_bounds(L.activation, plo, phi)
    st["seconds"] = time.monotonic() - start
    if stats is not None:
        stats.update(st)
    return out
