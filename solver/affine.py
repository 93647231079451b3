"""Affine operators of network definitions as sparse matrices: convolution,
transposed convolution and inference-mode batch normalization.

The ONNX reader (:mod:`solver.onnx_io`) and the torch reader
(:mod:`solver.torch_io`) both build their layers from these functions, so a
convolution means the same matrix whichever file it came from.

Conventions (those of ONNX and PyTorch): a tensor of shape ``(C, n_1, ...,
n_d)`` (no batch dimension) is flattened row-major, channel first. Kernels are
applied as a cross-correlation. Matrices are ``scipy.sparse.csr_matrix``
with float64 entries equal to the stored weights (no rounding: float32 and
float16 values are binary64 values); structural zeros are dropped. A
convolution matrix has at most ``C_in * prod(kernel)`` entries per row, so
the third layer of a small DCGAN (10,816 x 4,608) holds 5.5 million entries
instead of 50 million.

Examples
--------
>>> w = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)          # one 2x2 kernel
>>> M, out = conv_matrix(w, (1, 3, 3), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1))
>>> out, M.shape, M.nnz
((1, 2, 2), (4, 9), 16)
>>> T, out_t = conv_transpose_matrix(w, (1, 2, 2), strides=(1, 1), pads=(0, 0, 0, 0),
...                                  dilations=(1, 1), output_padding=(0, 0))
>>> out_t, float(abs(T - M.T).max())                   # the adjoint, stride 1
((1, 3, 3), 0.0)
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import InputError

__all__ = ["AffineChain", "conv_matrix", "conv_transpose_matrix", "batchnorm_scale_shift", "MAX_NNZ"]

#: largest number of stored entries of one convolution matrix
MAX_NNZ = 100_000_000


def _check_geometry(w, in_shape, strides, pads, dilations, where, op):
    d = w.ndim - 2
    if d < 1:
        raise InputError(f"{op} at {where}: kernel of shape {w.shape} has no spatial dimension")
    if len(in_shape) != d + 1:
        raise InputError(f"{op} at {where}: data shape {tuple(in_shape)} is not "
                         f"(channels, {d} spatial dims)")
    for name, vals, k in (("strides", strides, d), ("dilations", dilations, d),
                          ("pads", pads, 2 * d)):
        if len(vals) != k:
            raise InputError(f"{op} at {where}: {name} {list(vals)} must have {k} entries")
    if any(s < 1 for s in strides) or any(t < 1 for t in dilations) or any(p < 0 for p in pads):
        raise InputError(f"{op} at {where}: strides and dilations must be >= 1 and pads >= 0")
    if not np.all(np.isfinite(w)):
        raise InputError(f"{op} at {where}: kernel contains NaN or inf")
    return d


def _assemble(rows, cols, vals, shape, where, op):
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = vals != 0
    M = sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=shape)
    M.sum_duplicates()
    return M


def conv_matrix(w, in_shape, *, strides, pads, dilations, where="-"):
    """Sparse matrix of a convolution (cross-correlation, ``group = 1``).

    Parameters
    ----------
    w : array (C_out, C_in, k_1, ..., k_d), the kernels.
    in_shape : (C_in, n_1, ..., n_d), the input shape without batch.
    strides, dilations : d ints >= 1; pads : 2d ints >= 0 (begins, then ends).
    where : text naming the node or module, for error messages.

    Returns
    -------
    ``(M, out_shape)``: ``M`` a csr_matrix (prod(out_shape) x prod(in_shape)),
    ``out_shape = (C_out, o_1, ..., o_d)`` with
    ``o_j = (n_j + pad_begin_j + pad_end_j - dilation_j (k_j - 1) - 1) // stride_j + 1``.

    Raises
    ------
    InputError for shapes that do not fit, NaN/inf kernels, an empty output
    or a matrix above :data:`MAX_NNZ` entries.
    """
    w = np.asarray(w, dtype=np.float64)
    d = _check_geometry(w, in_shape, strides, pads, dilations, where, "Conv")
    C_out, C_in = w.shape[:2]
    ks = w.shape[2:]
    if in_shape[0] != C_in:
        raise InputError(f"Conv at {where}: kernel has {C_in} input channels, data has "
                         f"{in_shape[0]}")
    ns = tuple(int(v) for v in in_shape[1:])
    outs = []
    for j in range(d):
        span = dilations[j] * (ks[j] - 1) + 1
        o = (ns[j] + pads[j] + pads[d + j] - span) // strides[j] + 1
        if o <= 0:
            raise InputError(f"Conv at {where}: kernel larger than the padded input")
        outs.append(o)
    n_in_pos, n_out_pos = int(np.prod(ns)), int(np.prod(outs))
    if C_out * n_out_pos * C_in * int(np.prod(ks)) > MAX_NNZ:
        raise InputError(f"Conv at {where}: more than {MAX_NNZ} matrix entries")
    grid = np.indices(outs).reshape(d, -1).T                 # output positions
    out_flat = np.ravel_multi_index(grid.T, outs)
    mo = np.arange(C_out)[:, None, None] * n_out_pos
    ci = np.arange(C_in)[None, :, None] * n_in_pos
    rows, cols, vals = [], [], []
    for koff in np.ndindex(*ks):
        ipos = grid * np.array(strides) + np.array(koff) * np.array(dilations) - np.array(pads[:d])
        ok = np.all((ipos >= 0) & (ipos < np.array(ns)), axis=1)
        if not ok.any():
            continue
        of, inf_ = out_flat[ok][None, None, :], np.ravel_multi_index(ipos[ok].T, ns)[None, None, :]
        shape = (C_out, C_in, len(of[0, 0]))
        rows.append(np.broadcast_to(mo + of, shape).ravel())
        cols.append(np.broadcast_to(ci + inf_, shape).ravel())
        vals.append(np.broadcast_to(w[(slice(None), slice(None)) + koff][:, :, None],
                                    shape).ravel())
    if not rows:
        return sp.csr_matrix((C_out * n_out_pos, C_in * n_in_pos)), (C_out, *outs)
    M = _assemble(rows, cols, vals, (C_out * n_out_pos, C_in * n_in_pos), where, "Conv")
    return M, (C_out, *outs)


def conv_transpose_matrix(w, in_shape, *, strides, pads, dilations, output_padding,
                          where="-"):
    """Sparse matrix of a transposed convolution (``group = 1``).

    ``y[m, p] = sum over c, q, k with p = q * stride + k * dilation - pad_begin
    of x[c, q] w[c, m, k]``: the adjoint of the convolution with the same
    kernel, stride, dilation and pads, on an output grid of size
    ``o_j = (n_j - 1) stride_j - pad_begin_j - pad_end_j + dilation_j (k_j - 1)
    + output_padding_j + 1`` (ONNX ``ConvTranspose``, torch
    ``ConvTranspose{1,2,3}d``).

    Parameters
    ----------
    w : array (C_in, C_out, k_1, ..., k_d) (the ONNX and torch layout).
    in_shape : (C_in, n_1, ..., n_d).
    strides, dilations, output_padding : d ints; pads : 2d ints.

    Returns
    -------
    ``(M, out_shape)`` as in :func:`conv_matrix`.

    Raises
    ------
    InputError as :func:`conv_matrix`; also ``output_padding`` not smaller
    than the stride or the dilation (both libraries refuse it).
    """
    w = np.asarray(w, dtype=np.float64)
    d = _check_geometry(w, in_shape, strides, pads, dilations, where, "ConvTranspose")
    C_in, C_out = w.shape[:2]
    ks = w.shape[2:]
    if in_shape[0] != C_in:
        raise InputError(f"ConvTranspose at {where}: kernel has {C_in} input channels, data "
                         f"has {in_shape[0]}")
    if len(output_padding) != d or any(not 0 <= op < max(s, t) for op, s, t in
                                       zip(output_padding, strides, dilations)):
        raise InputError(f"ConvTranspose at {where}: output_padding {list(output_padding)} "
                         "must be >= 0 and smaller than the stride or the dilation")
    ns = tuple(int(v) for v in in_shape[1:])
    outs = []
    for j in range(d):
        o = ((ns[j] - 1) * strides[j] - pads[j] - pads[d + j] + dilations[j] * (ks[j] - 1)
             + output_padding[j] + 1)
        if o <= 0:
            raise InputError(f"ConvTranspose at {where}: pads leave an empty output")
        outs.append(o)
    n_in_pos, n_out_pos = int(np.prod(ns)), int(np.prod(outs))
    if C_out * n_in_pos * C_in * int(np.prod(ks)) > MAX_NNZ:
        raise InputError(f"ConvTranspose at {where}: more than {MAX_NNZ} matrix entries")
    grid = np.indices(ns).reshape(d, -1).T                  # input positions
    in_flat = np.ravel_multi_index(grid.T, ns)
    mo = np.arange(C_out)[None, :, None] * n_out_pos
    ci = np.arange(C_in)[:, None, None] * n_in_pos
    rows, cols, vals = [], [], []
    for koff in np.ndindex(*ks):
        opos = grid * np.array(strides) + np.array(koff) * np.array(dilations) - np.array(pads[:d])
        ok = np.all((opos >= 0) & (opos < np.array(outs)), axis=1)
        if not ok.any():
            continue
        of = np.ravel_multi_index(opos[ok].T, outs)[None, None, :]
        qf = in_flat[ok][None, None, :]
        shape = (C_in, C_out, of.shape[2])
        rows.append(np.broadcast_to(mo + of, shape).ravel())
        cols.append(np.broadcast_to(ci + qf, shape).ravel())
        vals.append(np.broadcast_to(w[(slice(None), slice(None)) + koff][:, :, None],
                                    shape).ravel())
    if not rows:
        return sp.csr_matrix((C_out * n_out_pos, C_in * n_in_pos)), (C_out, *outs)
    M = _assemble(rows, cols, vals, (C_out * n_out_pos, C_in * n_in_pos), where,
                  "ConvTranspose")
    return M, (C_out, *outs)


def batchnorm_scale_shift(scale, bias, mean, var, eps, shape, *, where="-"):
    """Inference-mode batch normalization ``y = (x - mean) / sqrt(var + eps)
    * scale + bias`` per channel (axis 0 of ``shape``) as ``y = s * x + t``
    on the flattened tensor.

    Parameters
    ----------
    scale, bias, mean, var : arrays of C values (C = ``shape[0]``).
    eps : float >= 0. shape : (C, ...) the data shape without batch.

    Returns
    -------
    ``(s, t)``: float64 arrays of length ``prod(shape)``; composing them into
    the preceding affine map folds the normalization into it.

    Raises
    ------
    InputError for a channel count that does not match, NaN/inf, or
    ``var + eps <= 0``.
    """
    arrs = [np.asarray(a, dtype=np.float64).reshape(-1) for a in (scale, bias, mean, var)]
    C = int(shape[0]) if len(shape) else 1
    if any(a.size != C for a in arrs):
        raise InputError(f"BatchNormalization at {where}: parameters of sizes "
                         f"{[a.size for a in arrs]} for {C} channels")
    eps = float(eps)
    if not all(np.all(np.isfinite(a)) for a in arrs) or not np.isfinite(eps) or eps < 0:
        raise InputError(f"BatchNormalization at {where}: NaN, inf or negative epsilon")
    g, b, mu, v = arrs
    den = v + eps
    if np.any(den <= 0):
        raise InputError(f"BatchNormalization at {where}: variance + epsilon <= 0")
    s = g / np.sqrt(den)
    t = b - mu * s
    rep = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return np.repeat(s, rep), np.repeat(t, rep)


class AffineChain:
    """Accumulate a feed-forward model, operator by operator, into layers
    ``act(W x + b)`` (the ONNX and torch readers share it).

    ``shape`` is the shape of the tensor carrying the sample (without batch
    dimension); the pending affine map since the last activation is
    ``x -> A x + c`` with ``A = None`` meaning the identity and ``c = None``
    zero. Consecutive affine operators are composed into one layer; an
    activation directly after another one gives an identity weight matrix;
    :meth:`finish` turns trailing affine operators into a last layer with
    the identity activation. Matrices may be dense or sparse; products
    keep sparse ones sparse.

    Examples
    --------
    >>> from solver.activations import RELU
    >>> ch = AffineChain((2,))
    >>> ch.affine(np.array([[1.0, 2.0]]), np.array([1.0]), (1,))
    >>> ch.scale_shift(np.array([3.0]), np.array([-1.0]))
    >>> ch.activation(RELU)
    >>> ch.weights[0], ch.biases[0]
    (array([[3., 6.]]), array([2.]))
    """

    def __init__(self, shape):
        self.shape = tuple(int(s) for s in shape)
        self.A = None
        self.c = None
        self.weights, self.biases, self.acts = [], [], []

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    def affine(self, M, v, out_shape):
        """Compose ``x -> M x + v`` (``v`` None for no shift) after the pending map."""
        if not sp.issparse(M):
            M = np.asarray(M, dtype=np.float64)
        if M.shape[1] != self.size:
            raise InputError(f"affine map with {M.shape[1]} inputs applied to {self.size} values")
        if self.A is None:
            A = M
        else:
            A = M @ self.A
        c = None if self.c is None else np.asarray(M @ self.c).reshape(-1)
        if v is not None:
            v = np.asarray(v, dtype=np.float64).reshape(-1)
            c = v if c is None else c + v
        self.A, self.c = A, c
        self.shape = tuple(int(s) for s in out_shape)

    def shift(self, v):
        """Compose ``x -> x + v`` (``v`` of length ``size``)."""
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        self.c = v.copy() if self.c is None else self.c + v

    def scale_shift(self, s, t):
        """Compose ``x -> s * x + t`` elementwise (batch normalization)."""
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        if self.A is None:
            self.A = sp.diags(s, format="csr")
        elif sp.issparse(self.A):
            self.A = sp.csr_matrix(sp.diags(s) @ self.A)
        else:
            self.A = s[:, None] * self.A
        self.c = t.copy() if self.c is None else s * self.c + t

    def activation(self, act):
        """Close the current layer with activation ``act``."""
        n = self.size
        A = sp.identity(n, format="csr") if self.A is None else self.A
        c = np.zeros(n) if self.c is None else self.c
        self.weights.append(A)
        self.biases.append(c)
        self.acts.append(act)
        self.A = self.c = None

    def finish(self):
        """Close trailing affine operators with the identity activation."""
        from .activations import IDENTITY
        if self.A is not None or self.c is not None:
            self.activation(IDENTITY)
