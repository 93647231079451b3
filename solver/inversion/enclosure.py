"""Refinement on a small latent box, where the network is affine except at
the units near their kink: the affine enclosure (symbolic intervals), the
LP-refined latent box ``Z`` that contains the preimage set, and the reduced
MIP of the units that still meet their kink on ``Z``. Fact 3 of
:mod:`solver.inversion.peel`; what is proved is stated there.

References
----------
S. Wang, K. Pei, J. Whitehouse, J. Yang, S. Jana, "Formal security analysis
of neural networks using symbolic intervals", USENIX Security 2018.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..deadline import Deadline
from ..io import sign_parts
from .peel import certified_box, gamma_n, kind_slope, stable_slopes

__all__ = ["AffineEnclosure", "affine_enclosure", "latent_rows", "refine_latent_box",
           "ReducedModel", "reduced_affine", "latent_certified_box", "reduced_model"]


@dataclass(frozen=True)
class AffineEnclosure:
    """Per layer, pre-activations ``y_k(z)`` in ``A_k z + c_k + [elo_k, ehi_k]``
    for every ``z`` in the box ``[lo, hi]``; ``bounds[k]`` the concrete
    interval bounds; ``unstable[k]`` the units whose kink the box meets."""
    A: list
    c: list
    elo: list
    ehi: list
    bounds: list
    unstable: list

    @property
    def n_unstable(self) -> int:
        return int(sum(int(u.sum()) for u in self.unstable[:-1]))


def affine_enclosure(network, lo, hi, fwd=None):
    """Symbolic interval propagation over a latent box (Wang et al. 2018,
    "Formal security analysis of neural networks using symbolic intervals"):
    stable units are linear, a unit whose kink the box meets contributes the
    interval of its output (``[0, max y]`` for a ReLU), sigmoid/tanh units the
    interval of theirs. Floating-point product errors are added to the
    intervals (``gamma_n |W| |A|`` bounds), so the enclosure is rigorous.

    Returns
    -------
    :class:`AffineEnclosure`.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    n = len(lo)
    mid = 0.5 * (lo + hi)
    rad = np.maximum(hi - mid, mid - lo)
    zabs = np.maximum(np.abs(lo), np.abs(hi))
    # u_{k-1} = Au z + cu + [eu_lo, eu_hi]
    Au, cu = np.eye(n), np.zeros(n)
    eul, euh = np.zeros(n), np.zeros(n)
    As, cs, els, ehs, bds, uns = [], [], [], [], [], []
    K = len(network.layers)
    for k, L in enumerate(network.layers):
        W = L.W
        absW = abs(W)                      # (a dense array or scipy.sparse: both have abs)
        A = np.asarray(W @ Au)
        c = np.asarray(W @ cu) + L.b
        g = gamma_n(W.shape[1] + n + 2)
        rnd = g * (np.asarray(absW @ np.abs(Au)) @ zabs + np.asarray(absW @ np.abs(cu))
                   + np.abs(L.b))
        Wp, Wn = sign_parts(W)
        el = np.asarray(Wp @ eul + Wn @ euh) - rnd
        eh = np.asarray(Wp @ euh + Wn @ eul) + rnd
        # concrete bounds of A z + c over the box
        Ac = A @ mid + c
        Ar = np.abs(A) @ rad
        ylo = Ac - Ar + el
        yhi = Ac + Ar + eh
        ylo = ylo - 4 * g * (np.abs(Ac) + Ar)
        yhi = yhi + 4 * g * (np.abs(Ac) + Ar)
        if fwd is not None:
            ylo = np.maximum(ylo, fwd[k][0])
            yhi = np.minimum(yhi, fwd[k][1])
        As.append(A)
        cs.append(c)
        els.append(el)
        ehs.append(eh)
        bds.append((ylo, yhi))
        kind, a = kind_slope(L.activation)
        if k == K - 1:
            uns.append(np.zeros(len(c), bool))
            break
        if kind == "identity":
            unst = np.zeros(len(c), bool)
            Au, cu, eul, euh = A, c, el, eh
        elif kind in ("relu", "leaky_relu"):
            act, ina, unst, d = stable_slopes(ylo, yhi, a)
            Au = d[:, None] * A
            cu = d * c
            eul = np.where(act, el, np.where(ina, a * np.where(a >= 0, el, eh), 0.0))
            euh = np.where(act, eh, np.where(ina, a * np.where(a >= 0, eh, el), 0.0))
            # unstable: output in [act(ylo), act(yhi)] as a pure interval
            eul = np.where(unst, np.minimum(a * ylo, 0.0), eul)
            euh = np.where(unst, np.maximum(yhi, 0.0), euh)
        else:  # sigmoid / tanh in the middle: an interval
            unst = np.ones(len(c), bool)
            Au = np.zeros_like(A)
            cu = np.zeros(len(c))
            eul, euh = L.activation.bounds(ylo, yhi)
        uns.append(unst)
    return AffineEnclosure(As, cs, els, ehs, bds, uns)


def latent_rows(enc, boxes):
    """The peeled boxes as rows ``rl <= M z <= ru`` through an enclosure."""
    rows, rl, ru = [], [], []
    for k, (tlo, thi) in boxes.items():
        # rows whose box contains the unit's whole range on the box are implied
        fin = (tlo > enc.bounds[k][0]) | (thi < enc.bounds[k][1])
        if not fin.any():
            continue
        rows.append(enc.A[k][fin])
        rl.append(tlo[fin] - enc.c[k][fin] - enc.ehi[k][fin])
        ru.append(thi[fin] - enc.c[k][fin] - enc.elo[k][fin])
    if not rows:
        return None
    return np.vstack(rows), np.concatenate(rl), np.concatenate(ru)


def refine_latent_box(network, boxes, lo, hi, *, fwd=None, rounds=4, deadline=None,
                      shrink=0.9, max_unstable=2000):
    """Shrink an enclosure ``[lo, hi]`` of the preimage set: on the box the
    network is affine up to the units whose kink it meets
    (:func:`affine_enclosure`), so every peeled layer's box becomes linear
    rows in ``z``; their LP hull is the next box. Where units are near their
    kink (at most ``max_unstable``), the boxes are first peeled into ``z``
    and those units' outputs together (:func:`latent_certified_box`). Stops after a round whose
    enclosure had no such unit (the rows were exact: another round would only
    trim rounding) or that shrank the widest side by less than ``shrink``.

    Returns ``(lo, hi, enclosure, status)`` with status ``"ok"``, ``"empty"``
    (no latent point meets the boxes: a proof, to LP tolerance) or
    ``"partial"`` (time limit; the box is still an enclosure).
    """
    import scipy.sparse as sp
    from ..bounds import LP_PAD
    from ..lp import PersistentLP
    lo = np.array(lo, float)
    hi = np.array(hi, float)
    enc = affine_enclosure(network, lo, hi, fwd)
    status = "ok"
    for _ in range(rounds):
        if 0 < enc.n_unstable <= max_unstable:
            # units near their kink: peel the boxes into (z, their outputs)
            cb = latent_certified_box(network, boxes, lo, hi, enc.bounds)
            if cb is not None and np.max(cb[1] - cb[0]) < np.max(hi - lo):
                if np.any(cb[0] > cb[1]):
                    return lo, hi, enc, "empty"
                lo, hi = cb
                enc = affine_enclosure(network, lo, hi, fwd)
        rows = latent_rows(enc, boxes)
        if rows is None:
            break
        M, rl, ru = rows
        if np.any(rl > ru):
            return lo, hi, enc, "empty"
        lp = PersistentLP(sp.csr_matrix(M), rl, ru, lo, hi)
        nlo, nhi = lo.copy(), hi.copy()
        for j in range(len(lo)):
            for sense in (+1, -1):
                left = Deadline(deadline).remaining()
                if left is not None and left <= 0:
                    return lo, hi, enc, "partial"
                v, st = lp.extreme(j, sense, left)
                if st == "infeasible":
                    return lo, hi, enc, "empty"
                if v is None:
                    status = "partial"
                    continue
                pad = LP_PAD * (1 + abs(v))
                if sense > 0:
                    nlo[j] = max(nlo[j], v - pad)
                else:
                    nhi[j] = min(nhi[j], v + pad)
        nhi = np.maximum(nhi, nlo)
        old = float(np.max(hi - lo))
        exact_rows = enc.n_unstable == 0
        lo, hi = nlo, nhi
        enc = affine_enclosure(network, lo, hi, fwd)
        if exact_rows or float(np.max(hi - lo)) > shrink * old:
            break
    return lo, hi, enc, status


# ---------------------------------------------------------------------------
# the remaining problem on a small latent box: stable units substituted away
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReducedModel:
    """A MILP of ``{z in [lo, hi] : y_k(z) in boxes[k]}`` in which the units
    that are stable on the box are substituted away: only ``z`` and the
    unstable units are variables (with the big-M encoding of
    :func:`solver.netmilp.encode_activation`)."""
    builder: Any
    z: np.ndarray
    binaries: int


def reduced_affine(network, lo, hi, bounds):
    """Pre-activations as affine maps of ``V = (z, outputs of the unstable
    units)`` on a latent box: per layer ``(M_k, c_k, err_k)`` with
    ``y_k = M_k V + c_k + e``, ``|e| <= err_k`` (floating-point rounding of the
    products, ``gamma_n |W| |P|`` bounds), and the list of unstable units
    ``(layer, index)`` in the order of their columns, with ``|V| <= vmax``.

    Exact in real arithmetic: a unit that is stable on the box is linear
    there; every unstable unit is a column of ``V``.
    """
    n = len(lo)
    Pm, pc = np.eye(n), np.zeros(n)
    perr = np.zeros(n)
    vmax = list(np.maximum(np.abs(lo), np.abs(hi)))
    K = len(network.layers)
    maps, cols = [], []
    for k, L in enumerate(network.layers):
        W = L.W
        absW = abs(W)
        M = np.asarray(W @ Pm)
        c = np.asarray(W @ pc).reshape(-1) + L.b
        vm = np.asarray(vmax)
        g = gamma_n(W.shape[1] + 2)
        err = g * (np.asarray(absW @ np.abs(Pm)) @ vm + np.asarray(absW @ np.abs(pc))
                   + np.abs(L.b)) + np.asarray(absW @ perr)
        maps.append((M, c, err))
        if k == K - 1:
            break
        ylo, yhi = np.asarray(bounds[k][0], float), np.asarray(bounds[k][1], float)
        kind, a = kind_slope(L.activation)
        if kind == "identity":
            Pm, pc, perr = M, c, err
            continue
        _, _, unst, d = stable_slopes(ylo, yhi, a)
        Pm = d[:, None] * M
        pc = d * c
        perr = np.abs(d) * err
        ui = np.flatnonzero(unst)
        if len(ui):
            ext = np.zeros((len(c), len(ui)))
            ext[ui, np.arange(len(ui))] = 1.0
            Pm = np.hstack([Pm, ext])
            vlo, vhi = L.activation.bounds(ylo[ui], yhi[ui])
            vmax += list(np.maximum(np.abs(vlo), np.abs(vhi)))
            cols += [(k, int(j)) for j in ui]
    return maps, cols, np.asarray(vmax)


def latent_certified_box(network, boxes, lo, hi, bounds):
    """Peel every box at once into ``V = (z, unstable outputs)`` on a latent
    box (:func:`reduced_affine`, :func:`certified_box`): when the boxes'
    two-sided rows have full column rank in ``V``, ``z`` lies in the
    returned box. Returns ``(zlo, zhi)`` or None."""
    maps, cols, vmax = reduced_affine(network, lo, hi, bounds)
    Ms, tl, th = [], [], []
    for k, (tlo, thi) in boxes.items():
        M, c, err = maps[k]
        two = np.isfinite(tlo) & np.isfinite(thi)
        if two.any():
            Ms.append(M[two])
            tl.append(tlo[two] - c[two] - err[two])
            th.append(thi[two] - c[two] + err[two])
    if not Ms:
        return None
    nv = len(vmax)
    M = np.vstack([np.hstack([A, np.zeros((A.shape[0], nv - A.shape[1]))]) for A in Ms])
    cb = certified_box(M, np.zeros(M.shape[0]), np.concatenate(tl), np.concatenate(th), vmax)
    if cb is None or not cb.certified_rank or not np.all(np.isfinite(cb.radius)):
        return None
    n = len(lo)
    zlo = np.maximum(lo, cb.center[:n] - cb.radius[:n])
    zhi = np.minimum(hi, cb.center[:n] + cb.radius[:n])
    return zlo, zhi


def reduced_model(network, lo, hi, bounds, boxes):
    """Build a :class:`ReducedModel`.

    Parameters
    ----------
    network : the network (the last layer's activation is not encoded: the
        boxes are on pre-activations).
    lo, hi : the latent box.
    bounds : pre-activation bounds over the box, per layer (finite), e.g.
        :attr:`AffineEnclosure.bounds`.
    boxes : dict layer -> ``(tlo, thi)`` pre-activation boxes to impose.

    Notes
    -----
    The affine maps are those of :func:`reduced_affine` (every pre-activation
    as a function of ``z`` and of the unstable units' outputs); they are dense
    (rows x ``n + #unstable``), so this is meant for boxes on which few units
    are unstable. Exact in real arithmetic; the maps are formed in floating
    point (relative error ~1e-13, far below the MILP tolerances).
    """
    from ..netmilp import MilpBuilder, encode_activation
    maps, cols, _ = reduced_affine(network, lo, hi, bounds)
    B = MilpBuilder()
    n = len(lo)
    z = B.add_vars(n, lo, hi, names=[f"z{j}" for j in range(n)])
    V = list(z)
    nb = 0
    for k, (L, (M, c, _)) in enumerate(zip(network.layers, maps)):
        if k in boxes:
            tlo, thi = boxes[k]
            # rows whose box contains the unit's whole range on the latent box
            # are implied: dropped
            fin = (tlo > bounds[k][0]) | (thi < bounds[k][1])
            if fin.any():
                B.add_matrix_rows(M[fin], V[:M.shape[1]], lo=tlo[fin] - c[fin],
                                  hi=thi[fin] - c[fin])
        ui = np.array([j for kk, j in cols if kk == k], dtype=int)
        if len(ui):
            ylo, yhi = np.asarray(bounds[k][0], float)[ui], np.asarray(bounds[k][1], float)[ui]
            y = B.add_vars(len(ui), ylo, yhi)
            B.add_matrix_rows(M[ui], V[:M.shape[1]], extra=[(-1.0, y)], lo=-c[ui], hi=-c[ui])
            vlo, vhi = L.activation.bounds(ylo, yhi)
            u = B.add_vars(len(ui), vlo, vhi)
            bins, _ = encode_activation(B, y, u, ylo, yhi, L.activation)
            nb += int((bins >= 0).sum())
            V += list(u)
    return ReducedModel(B, np.asarray(z), nb)
