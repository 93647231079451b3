"""Network definition: layers as data, no optimisation (OMLT's split between
``NetworkDefinition`` and its formulations).

A network is ``N(z) = act_L(W_L ... act_1(W_1 z + b_1) ... + b_L)``.
Activations are :class:`solver.activations.Activation` values (``relu``,
``identity``, ``leaky_relu:<slope>``, ``sigmoid``, ``tanh``).

This module reads no file: :mod:`solver.network_io` loads networks from
``.npz`` and ``.onnx`` (:func:`load_network`, also ``solver.load_network``).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..activations import RELU, Activation, parse_activation
from ..errors import InputError
from ..io import DENSE_MAX_ENTRIES, issparse, validate_layer

__all__ = ["DenseLayer", "Network", "make_network"]


@dataclass(frozen=True)
class DenseLayer:
    """One layer ``x -> act(W x + b)``. ``W`` is a float64 array, or a
    ``scipy.sparse.csr_matrix`` for large convolution layers (see
    :func:`make_network`); ``is_sparse`` tells which."""
    W: np.ndarray
    b: np.ndarray
    activation: Activation = RELU

    @property
    def shape(self):
        return self.W.shape

    @property
    def is_sparse(self) -> bool:
        return issparse(self.W)

    def forward(self, x):
        """Reference forward pass in floating point (no solver)."""
        return self.activation.forward(self.W @ np.asarray(x, dtype=float) + self.b)

    def forward_exact(self, x):
        """Exact forward pass on a list of Fractions."""
        from ..exact import layer_preactivations
        return self.activation.exact(layer_preactivations(self.W, self.b, x))


@dataclass(frozen=True)
class Network:
    layers: tuple

    @property
    def n_in(self) -> int:
        return self.layers[0].W.shape[1]

    @property
    def n_out(self) -> int:
        return self.layers[-1].W.shape[0]

    @property
    def widths(self):
        return [self.n_in] + [L.W.shape[0] for L in self.layers]

    def forward(self, z):
        x = np.asarray(z, dtype=float)
        for L in self.layers:
            x = L.forward(x)
        return x

    def forward_exact(self, z):
        x = [Fraction(v) for v in z]
        for L in self.layers:
            x = L.forward_exact(x)
        return x

    def check_witness(self, z1, z2):
        """Exact check of ``z1 != z2`` and ``N(z1) == N(z2)``: ``(ok, reason)``.

        Both inputs are pushed through the layers in rational arithmetic.
        Equal values at any layer give equal outputs from there on (the
        rest of the network is a function of them), so the check stops
        there. A sigmoid or tanh layer is strictly increasing: its outputs
        are equal iff its pre-activations are, which is what is compared;
        if they differ and later layers remain, the values past it are
        irrational and the pair is refused as not checkable (never
        accepted).
        """
        from ..exact import layer_preactivations
        z1 = [Fraction(v) for v in z1]
        z2 = [Fraction(v) for v in z2]
        if len(z1) != self.n_in or len(z2) != self.n_in:
            return False, "wrong input length"
        if z1 == z2:
            return False, "z1 == z2"
        h1, h2 = z1, z2
        last = len(self.layers) - 1
        for k, L in enumerate(self.layers):
            if h1 == h2:
                return True, "valid"
            p1, p2 = layer_preactivations(L.W, L.b, h1), layer_preactivations(L.W, L.b, h2)
            if not L.activation.piecewise_linear:
                if p1 == p2:
                    return True, "valid"
                i = next(i for i, (a, c) in enumerate(zip(p1, p2)) if a != c)
                if k == last:
                    return False, (f"outputs differ at unit {i} (pre-activations differ and "
                                   f"{L.activation} is strictly increasing)")
                return False, (f"not checkable exactly: layer {k} ({L.activation}) has different "
                               f"pre-activations (unit {i}), so its outputs differ and are "
                               "irrational")
            h1, h2 = L.activation.exact(p1), L.activation.exact(p2)
        for i, (a, c) in enumerate(zip(h1, h2)):
            if a != c:
                return False, f"outputs differ at unit {i}"
        return True, "valid"


def make_network(weights, biases=None, activations=None) -> Network:
    """Validate and build a :class:`Network` from lists of arrays.

    Weights may be dense arrays or ``scipy.sparse`` matrices (convolutions);
    a sparse matrix with at most :data:`solver.io.DENSE_MAX_ENTRIES` entries
    is stored dense, a larger one stays sparse (``csr_matrix``): methods
    that need a dense matrix refuse such a layer by name.
    """
    if len(weights) == 0:
        raise InputError("network has no layers")
    biases = list(biases) if biases is not None else [None] * len(weights)
    if activations is None:
        activations = [RELU] * len(weights)
    activations = [parse_activation(a) for a in activations]
    if len(activations) != len(weights):
        raise InputError(f"activations has {len(activations)} entries for {len(weights)} layers")
    layers = []
    for k, (W, b, a) in enumerate(zip(weights, biases, activations)):
        W, b = validate_layer(W, b, name=f"W{k}")
        if issparse(W) and W.shape[0] * W.shape[1] <= DENSE_MAX_ENTRIES:
            W = np.ascontiguousarray(W.toarray())
        if layers and W.shape[1] != layers[-1].W.shape[0]:
            raise InputError(f"W{k} has {W.shape[1]} columns but layer {k - 1} has "
                             f"{layers[-1].W.shape[0]} outputs")
        layers.append(DenseLayer(W, b, a))
    return Network(tuple(layers))
