"""The affine map of an activation region, in one place.

On the closed region of an activation pattern (per layer, True where a unit
is active), every layer of a piecewise linear network is affine: the
pre-activations of layer ``k`` are ``P_k z + p_k`` and the network is
``G(z) = A z + c``, with ``P_k = W_k A_{k-1}``, ``p_k = W_k c_{k-1} + b_k``
and ``A_k = D_k P_k``, ``c_k = D_k p_k``, ``D_k`` diagonal: 1 on the active
units, the activation's negative-side slope on the others (0 for ReLU, ``a``
for a leaky ReLU; identity layers are 1 everywhere, whatever the pattern).

Two arithmetics of the same composition: :func:`region_maps` in floating
point (guides, LPs, polishing), :func:`exact_region_maps` in exact rational
arithmetic with python-flint matrices on the exact binary64 weights (proofs
and witnesses; C speed: the 784 x 60 decoder layer takes ~0.1 s instead of
~10 s with Fractions). The region enumerations (:mod:`solver.network.regions`,
:func:`solver.inversion.baselines.enumerate_regions`) compose the same maps
unit by unit along their search tree instead, reusing each partial map
across the branches below it.

References
----------
R. Balestriero, R. Baraniuk, "A spline theory of deep learning", ICML 2018,
Proposition 4 / Eq. 5 (a piecewise linear network is affine on each region).

Examples
--------
>>> import numpy as np
>>> from solver.network import make_network
>>> net = make_network([np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([[1.0, 2.0]])])
>>> pat = [np.array([True, False]), np.array([True])]
>>> pres, A, c = region_maps(net, pat)
>>> A.tolist(), c.tolist()
([[1.0, -1.0]], [0.0])
>>> pres_q, Aq, cq = exact_region_maps(net, pat)
>>> [str(Aq[0, j]) for j in range(2)]
['1', '-1']
"""
from __future__ import annotations

import flint
import numpy as np

from . import exact
from .exact import to_fmpq
from .io import as_dense

__all__ = ["region_maps", "exact_region_maps"]


def _slopes(L, s):
    """The diagonal of ``D`` for layer ``L`` under pattern entry ``s``."""
    m = L.W.shape[0]
    if L.activation.is_identity:
        return np.ones(m)
    return np.where(s, 1.0, L.activation.slope)


def region_maps(network, pattern):
    """Affine maps of an activation region, in floating point.

    Returns ``(pres, A, c)``: ``pres[k] = (P_k, p_k)`` with the pre-activations
    of layer ``k`` equal to ``P_k z + p_k`` on the region, and
    ``G(z) = A z + c`` there (Balestriero et al., Eq. 5).
    """
    n = network.n_in
    A = np.eye(n)
    c = np.zeros(n)
    pres = []
    for L, s in zip(network.layers, pattern):
        P = L.W @ A
        p = L.W @ c + L.b
        pres.append((P, p))
        D = _slopes(L, s)
        A = D[:, None] * P
        c = D * p
    return pres, A, c


def exact_region_maps(network, pattern):
    """The maps of :func:`region_maps` in exact rational arithmetic on the
    exact binary64 weights: ``(pres, A, c)`` as python-flint ``fmpq_mat``
    (``p_k`` and ``c`` are columns). Sparse layers are densified."""
    n = network.n_in
    A = flint.fmpq_mat(n, n)
    for j in range(n):
        A[j, j] = 1
    c = flint.fmpq_mat(n, 1)
    pres = []
    for L, s in zip(network.layers, pattern):
        Wd = as_dense(L.W)
        G, scales = exact.integer_rows(Wd, L.b)
        m = len(G)
        Gm = flint.fmpq_mat([g[:-1] for g in G])
        inv = flint.fmpq_mat(m, m)
        for i, sc in enumerate(scales):
            inv[i, i] = flint.fmpq(1, sc)
        bq = flint.fmpq_mat([[flint.fmpq(g[-1], sc)] for g, sc in zip(G, scales)])
        P = inv * (Gm * A)
        p = inv * (Gm * c) + bq
        pres.append((P, p))
        if L.activation.is_identity:
            A, c = P, p
            continue
        slope = to_fmpq(L.activation.slope)
        D = flint.fmpq_mat(m, m)
        for i in range(m):
            D[i, i] = 1 if bool(s[i]) else slope
        A, c = D * P, D * p
    return pres, A, c
