"""Convolutional layers through Theorem 3 of Puthawala et al.

A stride-1 convolution layer ``x -> ReLU(W x + b)`` with ``q`` kernels is
injective if the small matrix ``W|_{Z_P}`` (every shift of every kernel inside
a box ``P``, Definition 4) satisfies the injectivity criterion on ``R^P``.
That is a *sufficient* condition: a small matrix that fails proves nothing
about the layer, so it is reported as ``not_proved`` (with the small-matrix
witness), never as ``not_injective``.

Conventions
-----------
``kernels`` has shape ``(q, c_in, O_1, ..., O_d)``: ``q`` output channels, each
one multi-channel kernel of width ``O`` over ``c_in`` input channels; for one
input channel ``(q, O_1, ..., O_d)`` is accepted. ``P`` has ``d`` entries with
``O <= P``. The channel axis is treated as one more spatial axis whose box
is the full ``c_in`` (the multi-channel remark after Theorem 3). Kernels are
placed as in cross-correlation (deep-learning convention); the paper's
flipped placement gives the mirror image of every vector, the same
coordinate permutation for all of them, which does not change the answer.

Biases: one per kernel, ``bias`` of shape ``(q,)``. The proof of Theorem 3
(Lemma 2, domain decomposition) goes through unchanged for the affine
criterion: a row whose support lies in a window takes the same value at x
and at the window's restriction of x, bias included, and a generic x of
R^N restricts to a generic point of R^P.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .errors import InputError
from .result import LayerResult, Verdict

__all__ = ["zero_padded_kernels", "conv_matrix", "ConvResult", "check_conv"]


def _checked_kernels(kernels, P):
    """Validate the kernels and the grid shape ``P`` (InputError naming the
    argument) and return them as ``(q, c_in, O_1..O_d)`` floats and a tuple
    of ints. Input checking only; the rows of LPs are normalised by
    :func:`solver.floatrows.unit_rows`."""
    try:
        K = np.array(kernels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"kernels are not numeric: {exc}") from None
    try:
        P = tuple(int(p) for p in (P if np.ndim(P) else [P]))
    except (TypeError, ValueError):
        raise InputError(f"P must be a tuple of positive integers; got {P!r}") from None
    d = len(P)
    if d == 0 or any(p <= 0 for p in P):
        raise InputError(f"P must be a tuple of positive integers; got {P!r}")
    if K.ndim == d + 1:
        K = K[:, None]
    if K.ndim != d + 2:
        raise InputError(f"kernels must have shape (q, c_in, O_1..O_{d}) or (q, O_1..O_{d}) "
                         f"for P with {d} entries; got shape {K.shape}")
    if K.size == 0:
        raise InputError("kernels is empty")
    if not np.all(np.isfinite(K)):
        raise InputError("kernels contain NaN or inf")
    O = K.shape[2:]
    if any(o > p for o, p in zip(O, P)):
        raise InputError(f"kernel width {O} does not fit in P = {P}")
    return K, P


def zero_padded_kernels(kernels, P):
    """The matrix ``W|_{Z_P}``: one row per kernel and per shift ``Q`` with
    ``0 <= Q <= P - O`` (Definition 4), as vectors of ``R^{c_in x P}``
    flattened row-major. Returns ``(M, index)`` with ``index[r] = (k, Q)``."""
    K, P = _checked_kernels(kernels, P)
    q, c = K.shape[:2]
    O = K.shape[2:]
    rows, index = [], []
    for k in range(q):
        for Q in np.ndindex(*[p - o + 1 for p, o in zip(P, O)]):
            box = np.zeros((c,) + P)
            sl = (slice(None),) + tuple(slice(s, s + o) for s, o in zip(Q, O))
            box[sl] = K[k]
            rows.append(box.reshape(-1))
            index.append((k, tuple(int(s) for s in Q)))
    return np.array(rows), index


def conv_matrix(kernels, input_shape, bias=None):
    """Dense matrix (and bias) of the stride-1 'valid' convolution (every
    position where the kernel fits) on inputs of spatial shape
    ``input_shape`` (``c_in`` channels). A reference for tests: Theorem 3 says
    ``ReLU(conv_matrix(...) x + b)`` is injective when ``check_conv`` proves
    it, for every ``input_shape >= P``."""
    K, N = _checked_kernels(kernels, input_shape)
    M, index = zero_padded_kernels(K, N)
    b = np.zeros(len(index)) if bias is None else \
        np.array([np.asarray(bias, dtype=np.float64).reshape(-1)[k] for k, _ in index])
    return M, b


@dataclass(frozen=True)
class ConvResult:
    """Outcome of :func:`check_conv`.

    verdict : :class:`~solver.result.Verdict`: ``injective`` (Theorem 3
        applies: the layer is injective for
        every input size >= P, stride 1, any boundary handling),
        ``not_proved`` (the small matrix is not injective: Theorem 3 does not
        apply with this P; the layer itself may still be injective), or
        ``unknown`` (the small matrix was not decided in time).
    small : LayerResult for ``W|_{Z_P}`` (certificate or witness in ``R^{c_in x P}``).
    matrix : the small matrix; P : the box; message; seconds.
    """
    verdict: Verdict
    small: LayerResult
    matrix: np.ndarray = field(repr=False)
    P: tuple = ()
    message: str = ""
    seconds: float = 0.0
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def witness(self):
        return self.small.witness

    @property
    def certificate(self):
        return self.small.certificate

    def to_json(self) -> dict:
        return {"verdict": self.verdict.value, "P": list(self.P),
                "small_matrix_shape": list(self.matrix.shape),
                "small": self.small.to_json(), "message": self.message,
                "seconds": round(self.seconds, 6)}


def check_conv(kernels, P, *, bias=None, time_limit=None, **layer_options) -> ConvResult:
    """Try to prove a stride-1 convolution layer injective by Theorem 3.

    Parameters
    ----------
    kernels : array (q, c_in, O_1..O_d) or (q, O_1..O_d) (see module notes).
    P : tuple of d ints, the box (``O <= P``).
    bias : None or (q,) per-kernel biases.
    time_limit : seconds for deciding the small matrix.
    layer_options : passed to :func:`solver.check_layer`.

    Returns
    -------
    ConvResult.

    Raises
    ------
    InputError for bad shapes, NaN/inf, O not fitting in P.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, JMLR 2022,
    Theorem 3, Example 1 and the width-3 example after it.

    Examples
    --------
    >>> k = np.array([[1., 0, -1], [1, 0, 1], [-1, 0, 1], [-1, 0, -1]])
    >>> check_conv(k, (3,)).verdict.value, check_conv(k, (4,)).verdict.value
    ('not_proved', 'injective')
    """
    from .layer import check_layer
    start = time.monotonic()
    K, P = _checked_kernels(kernels, P)
    M, index = zero_padded_kernels(K, P)
    q = K.shape[0]
    if bias is None:
        b = np.zeros(len(index))
    else:
        bb = np.asarray(bias, dtype=np.float64).reshape(-1)
        if bb.shape[0] != q:
            raise InputError(f"bias has {bb.shape[0]} entries for {q} kernels")
        if not np.all(np.isfinite(bb)):
            raise InputError("bias contains NaN or inf")
        b = np.array([bb[k] for k, _ in index])
    res = check_layer(M, b, time_limit=time_limit, **layer_options)
    m, n = M.shape
    if res.verdict is Verdict.INJECTIVE:
        verdict = Verdict.INJECTIVE
        msg = (f"W|Z_P ({m}x{n}) is injective (certificate attached): by Theorem 3 the "
               f"stride-1 convolution layer is injective for every input size >= P = {P}")
    elif res.verdict is Verdict.NOT_INJECTIVE:
        verdict = Verdict.NOT_PROVED
        msg = (f"not proved by Theorem 3 with P = {P}: W|Z_P ({m}x{n}) is not injective "
               f"(small-matrix witness attached); this says nothing about the layer itself"
               + ("; W|Z_P has fewer than 2|P| rows (Corollary 2), try a larger P"
                  if m < 2 * n else ""))
    else:
        verdict = Verdict.UNKNOWN
        msg = f"W|Z_P ({m}x{n}) was not decided: {res.message}"
    return ConvResult(verdict, res, M, P, msg, time.monotonic() - start,
                      {"rows": m, "cols": n, "kernels": q})
