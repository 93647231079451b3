"""Read a PyTorch ``nn.Sequential`` as a :class:`solver.network.Network`.

Supported modules: ``Linear``, ``ReLU``, ``LeakyReLU`` (``negative_slope``),
``Sigmoid``, ``Tanh``, ``Identity``, ``Flatten`` (no-op on one flat sample) and nested
``Sequential``. Consecutive ``Linear`` modules are composed into one layer; an
activation directly after another one gives an identity weight matrix; a
trailing ``Linear`` becomes a last layer with the ``identity`` activation.

torch is imported lazily (optional extra ``reluinj[torch]``); the weights are
read as binary64 (exact for float32/float16/bfloat16 parameters).
"""
from __future__ import annotations

import numpy as np

from .activations import IDENTITY, from_torch
from .errors import InputError
from .network import make_network


def _import_torch():
    try:
        import torch
    except ImportError:
        raise InputError("network_from_torch needs PyTorch, which is not installed "
                         "(pip install 'reluinj[torch]')") from None
    return torch


def _flatten(module, nn, prefix=""):
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out.extend(_flatten(child, nn, f"{prefix}{name}."))
        return out
    return [(prefix.rstrip("."), module)]


def network_from_torch(module):
    """Convert ``module`` (an ``nn.Sequential`` of Linear / ReLU / LeakyReLU /
    Sigmoid / Tanh / Identity / Flatten) to a :class:`~solver.network.Network`.

    Raises
    ------
    InputError : torch missing, not a Sequential, an unsupported module (the
        message names it and its position), shape mismatch, NaN/inf weights.
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise InputError(f"network_from_torch expects an nn.Sequential, got {type(module).__name__}")
    mods = _flatten(module, nn)
    weights, biases, acts = [], [], []
    A = c = None
    size = None

    def close(act):
        nonlocal A, c
        if A is None:
            if size is None:
                raise InputError(f"activation {act} before any Linear layer: input size unknown")
            A, c = np.eye(size), np.zeros(size)
        weights.append(A)
        biases.append(c)
        acts.append(act)
        A = c = None

    for pos, (name, m) in enumerate(mods):
        where = f"module {pos} ({name!r})"
        if isinstance(m, nn.Linear):
            W = m.weight.detach().cpu().to(torch.float64).numpy()
            b = (m.bias.detach().cpu().to(torch.float64).numpy() if m.bias is not None
                 else np.zeros(W.shape[0]))
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise InputError(f"Linear at {where} has NaN or inf weights")
            if size is not None and W.shape[1] != size:
                raise InputError(f"Linear at {where} has {W.shape[1]} inputs but the previous "
                                 f"layer has {size} outputs")
            if A is None:
                A, c = W, b
            else:
                A, c = W @ A, W @ c + b
            size = W.shape[0]
        elif from_torch(m, nn, where) is not None:
            close(from_torch(m, nn, where))
        elif isinstance(m, (nn.Identity, nn.Flatten)):
            continue
        else:
            raise InputError(f"unsupported torch module {type(m).__name__} at {where}; supported: "
                             "Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Flatten")
    if A is not None:
        close(IDENTITY)
    if not weights:
        raise InputError("the Sequential has no Linear layer")
    return make_network(weights, biases, acts)
