"""Read a PyTorch ``nn.Sequential`` as a :class:`solver.network.Network`.

Supported modules (nested ``Sequential`` are flattened):

* ``Linear``; ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (``groups = 1``,
  ``padding_mode = "zeros"``; sparse matrices, :mod:`solver.affine`);
  ``BatchNorm1d/2d/3d`` in eval mode (running statistics, folded into the
  preceding affine map);
* ``ReLU``, ``LeakyReLU`` (``negative_slope``), ``Sigmoid``, ``Tanh``
  (:func:`solver.activations.from_torch`): close the current layer;
* ``Identity``, ``Flatten``, ``Unflatten``, ``Dropout`` (eval mode: the
  identity): change only the shape a later convolution sees.

Consecutive affine modules are composed into one layer
(:class:`solver.affine.AffineChain`, shared with the ONNX reader); an
activation directly after another one gives an identity weight matrix; a
trailing affine module becomes a last layer with the ``identity``
activation. Modules in training mode (``BatchNorm``, ``Dropout``) are refused:
call ``.eval()`` first.

torch is imported lazily (optional extra ``reluinj[torch]``); the weights are
read as binary64 (exact for float32/float16/bfloat16 parameters).
"""
from __future__ import annotations

import numpy as np

from .activations import from_torch
from .affine import AffineChain, batchnorm_scale_shift, conv_matrix, conv_transpose_matrix
from .errors import InputError
from .network import make_network

__all__ = ["SUPPORTED", "network_from_torch"]

SUPPORTED = ("Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, BatchNorm1d/2d/3d, ReLU, LeakyReLU, "
             "Sigmoid, Tanh, Identity, Flatten, Unflatten, Dropout")


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


def _array(torch, t):
    return t.detach().cpu().to(torch.float64).numpy()


def _kinds(nn):
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    convt = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    bn = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    drop = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
    return conv, convt, bn, drop


def _input_shape(mods, nn):
    """The sample shape implied by the first shape-determining module."""
    conv, convt, bn, drop = _kinds(nn)
    for pos, (name, m) in enumerate(mods):
        where = f"module {pos} ({name!r})"
        if isinstance(m, nn.Linear):
            return (m.in_features,)
        if isinstance(m, nn.Unflatten) and m.dim in (1, -1):
            return (int(np.prod(m.unflattened_size)),)
        if isinstance(m, bn) and isinstance(m, nn.BatchNorm1d):
            return (m.num_features,)
        if isinstance(m, conv + convt + bn + (nn.Unflatten,)):
            raise InputError(f"{type(m).__name__} at {where} comes first: pass "
                             "input_shape=(channels, ...) (without the batch dimension)")
        act = from_torch(m, nn, where)
        if act is not None:
            raise InputError(f"activation {act} before any Linear layer: input size unknown")
        if not isinstance(m, (nn.Identity, nn.Flatten) + drop):
            break
    return None


def network_from_torch(module, input_shape=None):
    """Convert ``module`` (an ``nn.Sequential`` of the modules listed in the
    module docstring) to a :class:`~solver.network.Network`.

    Parameters
    ----------
    module : ``torch.nn.Sequential``.
    input_shape : the shape of one sample without the batch dimension, e.g.
        ``(1, 28, 28)``; needed only when a convolution or batch norm comes
        before any ``Linear`` / ``Unflatten`` that determines it.

    Returns
    -------
    Network; the input is the flattened sample (row-major, channels first).

    Raises
    ------
    InputError : torch missing, not a Sequential, an unsupported module or
        setting (the message names it and its position), a module in
        training mode, shape mismatch, NaN/inf weights.

    Examples
    --------
    >>> import torch                                    # doctest: +SKIP
    >>> G = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())  # doctest: +SKIP
    >>> network_from_torch(G).widths                    # doctest: +SKIP
    [2, 3]
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Sequential):
        raise InputError(f"network_from_torch expects an nn.Sequential, got {type(module).__name__}")
    mods = _flatten(module, nn)
    conv, convt, bn, drop = _kinds(nn)
    if input_shape is None:
        input_shape = _input_shape(mods, nn)
        if input_shape is None:
            raise InputError("the Sequential has no Linear layer (or pass input_shape)")
    try:
        input_shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise InputError(f"input_shape must be a tuple of positive ints; got {input_shape!r}") \
            from None
    if not input_shape or any(s <= 0 for s in input_shape):
        raise InputError(f"input_shape must be a tuple of positive ints; got {input_shape!r}")
    ch = AffineChain(input_shape)

    def finite(where, *arrays):
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise InputError(f"{where} has NaN or inf parameters")

    for pos, (name, m) in enumerate(mods):
        where = f"module {pos} ({name!r})"
        kind = type(m).__name__
        if isinstance(m, nn.Linear):
            W = _array(torch, m.weight)
            b = _array(torch, m.bias) if m.bias is not None else None
            finite(f"Linear at {where}", W, *([] if b is None else [b]))
            if len(ch.shape) != 1:
                raise InputError(f"Linear at {where}: input has shape {ch.shape}; flatten it "
                                 "first (nn.Flatten)")
            if W.shape[1] != ch.size:
                raise InputError(f"Linear at {where} has {W.shape[1]} inputs but the previous "
                                 f"layer has {ch.size} outputs")
            ch.affine(W, b, (W.shape[0],))
        elif isinstance(m, conv + convt):
            if m.groups != 1 or getattr(m, "padding_mode", "zeros") != "zeros":
                raise InputError(f"{kind} at {where}: only groups = 1 and padding_mode = "
                                 "'zeros' are supported")
            w = _array(torch, m.weight)
            finite(f"{kind} at {where}", w)
            d = w.ndim - 2
            k = w.shape[2:]
            stride, dil = list(m.stride), list(m.dilation)
            if isinstance(m.padding, str):   # Conv 'valid' / 'same' (stride 1)
                pads = [0] * (2 * d)
                if m.padding == "same":
                    for j in range(d):
                        total = dil[j] * (k[j] - 1)
                        pads[j], pads[d + j] = total // 2, total - total // 2
            else:
                pads = list(m.padding) * 2
            if isinstance(m, convt):
                M, oshape = conv_transpose_matrix(w, ch.shape, strides=stride, pads=pads,
                                                  dilations=dil,
                                                  output_padding=list(m.output_padding),
                                                  where=where)
            else:
                M, oshape = conv_matrix(w, ch.shape, strides=stride, pads=pads, dilations=dil,
                                        where=where)
            bias = None
            if m.bias is not None:
                bv = _array(torch, m.bias)
                finite(f"{kind} at {where}", bv)
                bias = np.repeat(bv, int(np.prod(oshape[1:])))
            ch.affine(M, bias, oshape)
        elif isinstance(m, bn):
            if m.training:
                raise InputError(f"{kind} at {where} is in training mode: call .eval() first")
            if m.running_mean is None or m.running_var is None:
                raise InputError(f"{kind} at {where} has no running statistics "
                                 "(track_running_stats=False)")
            C = m.num_features
            g = _array(torch, m.weight) if m.weight is not None else np.ones(C)
            b = _array(torch, m.bias) if m.bias is not None else np.zeros(C)
            if not ch.shape or ch.shape[0] != C:
                raise InputError(f"{kind} at {where}: {C} features, data shape {ch.shape}")
            s_, t_ = batchnorm_scale_shift(g, b, _array(torch, m.running_mean),
                                           _array(torch, m.running_var), m.eps, ch.shape,
                                           where=where)
            ch.scale_shift(s_, t_)
        elif from_torch(m, nn, where) is not None:
            ch.activation(from_torch(m, nn, where))
        elif isinstance(m, drop):
            if m.training:
                raise InputError(f"{kind} at {where} is in training mode: call .eval() first")
        elif isinstance(m, nn.Identity):
            continue
        elif isinstance(m, nn.Flatten):
            full = [1] + list(ch.shape)
            s0, e0 = m.start_dim % len(full), m.end_dim % len(full)
            if s0 == 0:
                raise InputError(f"Flatten at {where}: start_dim 0 would merge the batch")
            if e0 >= s0:
                full = full[:s0] + [int(np.prod(full[s0:e0 + 1]))] + full[e0 + 1:]
            ch.shape = tuple(full[1:])
        elif isinstance(m, nn.Unflatten):
            full = [1] + list(ch.shape)
            dim = m.dim % len(full)
            sizes = [int(s) for s in m.unflattened_size]
            if dim == 0 or int(np.prod(sizes)) != full[dim] or any(s <= 0 for s in sizes):
                raise InputError(f"Unflatten at {where}: cannot unflatten dimension {m.dim} "
                                 f"of shape {tuple(full)} to {tuple(sizes)}")
            ch.shape = tuple(full[1:dim] + sizes + full[dim + 1:])
        else:
            raise InputError(f"unsupported torch module {kind} at {where}; supported: "
                             f"{SUPPORTED}")
    ch.finish()
    if not ch.weights:
        raise InputError("the Sequential has no layer (no affine module, no activation)")
    return make_network(ch.weights, ch.biases, ch.acts)
