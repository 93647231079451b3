"""Reading networks from files: ``.npz`` and ``.onnx``.

Files: ``.npz`` with ``W0, b0, W1, b1, ...`` (biases optional) and an
optional string array ``activations`` (default relu for every layer), or a
single layer ``W, b``; or ``.onnx`` (see :mod:`solver.onnx_io`). The network
definition itself (:mod:`solver.network`) reads no file.
"""
from __future__ import annotations

import os
import re

from .activations import RELU
from .errors import InputError
from .io import layer_arrays, read_npz
from .network import Network, make_network

__all__ = ["load_network", "is_network_file"]


def load_network(path) -> Network:
    """Load a network from ``.npz`` (``W0, b0, W1, ...``; or a single layer
    ``W, b``) or ``.onnx``."""
    p = os.fspath(path)
    if p.lower().endswith(".onnx"):
        from .onnx_io import load_onnx      # (scipy.sparse: not in every command's start-up)
        return load_onnx(p)
    data = read_npz(p)
    keys = set(data)
    if "W" in keys:
        W, b = layer_arrays(data, p)            # (refuses W mixed with W0, W1, ...)
        return make_network([W], [b], [RELU])
    ws, bs = [], []
    k = 0
    while f"W{k}" in keys:
        ws.append(data[f"W{k}"])
        bs.append(data.get(f"b{k}"))
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
        acts = [a.decode(errors="replace") if isinstance(a, bytes) else str(a)
                for a in data["activations"].reshape(-1).tolist()]
    return make_network(ws, bs, acts)


def is_network_file(path) -> bool:
    """True when the file holds more than a single layer, or is ONNX."""
    p = os.fspath(path)
    if p.lower().endswith(".onnx"):
        return True
    keys = set(read_npz(p))
    # any W1, W2, ...: a network (whose reader rejects gaps such as W0, W2)
    return "W0" in keys and (any(re.fullmatch(r"W[1-9]\d*", k) for k in keys)
                             or "activations" in keys)
