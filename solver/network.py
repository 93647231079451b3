"""Network definition: layers as data, no optimisation (OMLT's split between
``NetworkDefinition`` and its formulations).

A network is ``N(z) = act_L(W_L ... act_1(W_1 z + b_1) ... + b_L)``.
Activations: ``relu``, ``identity``, ``leaky_relu:<slope>`` (0 < slope,
slope != 1 for a genuine leaky ReLU).

Files: ``.npz`` with ``W0, b0, W1, b1, ...`` (biases optional) and an
optional string array ``activations`` (default relu for every layer), or
``.onnx`` (see :mod:`solver.onnx_io`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError
from .io import open_npz, validate_layer

_LEAKY = re.compile(r"^leaky_relu:([0-9eE+\-.]+)$")


def parse_activation(s) -> str:
    """Normalise and validate an activation name."""
    s = str(s).strip().lower()
    if s in ("relu", "identity"):
        return s
    m = _LEAKY.match(s)
    if m:
        try:
            slope = float(m.group(1))
        except ValueError:
            slope = float("nan")
        if not np.isfinite(slope) or slope < 0:
            raise InputError(f"leaky_relu slope must be a finite number >= 0; got {m.group(1)!r}")
        if slope == 0:
            return "relu"
        if slope == 1:
            return "identity"
        return f"leaky_relu:{m.group(1)}"
    raise InputError(f"unknown activation {s!r}; expected relu, identity or leaky_relu:<slope>")


def activation_slope(act: str) -> float | None:
    """Negative-side slope: 0 for relu, 1 for identity, the slope for leaky."""
    if act == "relu":
        return 0.0
    if act == "identity":
        return 1.0
    return float(act.split(":", 1)[1])


@dataclass(frozen=True)
class DenseLayer:
    W: np.ndarray
    b: np.ndarray
    activation: str = "relu"

    @property
    def shape(self):
        return self.W.shape

    def forward(self, x):
        """Reference forward pass in floating point (no solver)."""
        y = self.W @ np.asarray(x, dtype=float) + self.b
        s = activation_slope(self.activation)
        return np.where(y > 0, y, s * y)

    def forward_exact(self, x):
        """Exact forward pass on a list of Fractions."""
        from .exact import apply_activation, layer_preactivations
        return apply_activation(layer_preactivations(self.W, self.b, x), self.activation)


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
        """Exact check of ``z1 != z2`` and ``N(z1) == N(z2)``: ``(ok, reason)``."""
        z1 = [Fraction(v) for v in z1]
        z2 = [Fraction(v) for v in z2]
        if len(z1) != self.n_in or len(z2) != self.n_in:
            return False, "wrong input length"
        if z1 == z2:
            return False, "z1 == z2"
        y1, y2 = self.forward_exact(z1), self.forward_exact(z2)
        for i, (a, c) in enumerate(zip(y1, y2)):
            if a != c:
                return False, f"outputs differ at unit {i}"
        return True, "valid"


def make_network(weights, biases=None, activations=None) -> Network:
    """Validate and build a :class:`Network` from lists of arrays."""
    if len(weights) == 0:
        raise InputError("network has no layers")
    biases = list(biases) if biases is not None else [None] * len(weights)
    if activations is None:
        activations = ["relu"] * len(weights)
    activations = [parse_activation(a) for a in activations]
    if len(activations) != len(weights):
        raise InputError(f"activations has {len(activations)} entries for {len(weights)} layers")
    layers = []
    for k, (W, b, a) in enumerate(zip(weights, biases, activations)):
        W, b = validate_layer(W, b, name=f"W{k}")
        if layers and W.shape[1] != layers[-1].W.shape[0]:
            raise InputError(f"W{k} has {W.shape[1]} columns but layer {k - 1} has "
                             f"{layers[-1].W.shape[0]} outputs")
        layers.append(DenseLayer(W, b, a))
    return Network(tuple(layers))


def load_network(path) -> Network:
    """Load a network from ``.npz`` (``W0, b0, W1, ...``; or a single layer
    ``W, b``) or ``.onnx``."""
    p = os.fspath(path)
    if p.lower().endswith(".onnx"):
        from .onnx_io import load_onnx
        return load_onnx(p)
    data = open_npz(p)
    with data:
        keys = set(data.files)
        if "W" in keys and "W0" not in keys:
            return make_network([data["W"]], [data["b"] if "b" in keys else None], ["relu"])
        ws, bs = [], []
        k = 0
        while f"W{k}" in keys:
            ws.append(data[f"W{k}"])
            bs.append(data[f"b{k}"] if f"b{k}" in keys else None)
            k += 1
        if not ws:
            raise InputError(f"{p}: no arrays W0, W1, ... (or W) in file "
                             f"(found: {', '.join(sorted(keys)) or 'nothing'})")
        extra = {key for key in keys if re.fullmatch(r"[Wb]\d+", key)} - \
            {f"W{i}" for i in range(k)} - {f"b{i}" for i in range(k)}
        if extra:
            raise InputError(f"{p}: arrays {sorted(extra)} do not follow W0..W{k - 1}")
        acts = None
        if "activations" in keys:
            acts = [str(a) for a in np.asarray(data["activations"]).reshape(-1)]
    return make_network(ws, bs, acts)


def is_network_file(path) -> bool:
    """True when the file holds more than a single layer, or is ONNX."""
    p = os.fspath(path)
    if p.lower().endswith(".onnx"):
        return True
    data = open_npz(p)
    with data:
        return "W0" in data.files and ("W1" in data.files or "activations" in data.files)
