"""Reading and validating layers (and, through :mod:`solver.network`, networks).

A layer file is ``.npz`` with ``W`` (m x n) and optionally ``b`` (m,).
Validation happens up front, in one place, before any solving (the
``scipy.optimize._milp._milp_iv`` pattern).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np
import scipy.sparse as sp

from .errors import InputError


#: layers with at most this many entries are stored as dense arrays; larger
#: sparse ones (convolutions) stay ``scipy.sparse.csr_matrix``
DENSE_MAX_ENTRIES = 4_000_000


def _numeric_array(a, what):
    """``a`` as a float64 array; refuses complex, object, string and
    structured data with one line naming ``what``."""
    kind = getattr(getattr(a, "dtype", None), "kind", None)
    if kind is None:
        try:
            a = np.asarray(a)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} is not a numeric array: {exc}") from None
        kind = a.dtype.kind
    if kind == "c":
        raise InputError(f"{what} is complex; real weights are required")
    if kind not in "biuf":
        raise InputError(f"{what} has dtype {a.dtype} (not real numbers)")
    try:
        return np.array(a, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{what} is not a numeric array: {exc}") from None


def validate_layer(W, b=None, *, name: str = "W"):
    """Return ``(W, b)`` as float64 arrays, or raise :class:`InputError`.

    ``b`` defaults to zeros. Rejects non-2-D ``W``, empty matrices, NaN/inf,
    complex, object or string data, and a ``b`` whose length differs from
    the number of rows of ``W``. A ``scipy.sparse`` ``W`` is returned as a
    float64 ``csr_matrix`` (its stored entries validated).
    """
    if sp.issparse(W):
        W = sp.csr_matrix(W)
        if W.ndim != 2:
            raise InputError(f"{name} must be a 2-D matrix (m x n), got shape {W.shape}")
        W.data = _numeric_array(W.data, name)
        W.eliminate_zeros()
    else:
        W = _numeric_array(W, name)
        if W.ndim != 2:
            raise InputError(f"{name} must be a 2-D matrix (m x n), got shape {W.shape}")
    m, n = W.shape
    if m == 0 or n == 0:
        raise InputError(f"{name} is empty (shape {W.shape})")
    if not np.all(np.isfinite(W.data if sp.issparse(W) else W)):
        raise InputError(f"{name} contains NaN or inf")
    if b is None:
        b = np.zeros(m)
    else:
        b = _numeric_array(b, f"bias of {name}" if name != "W" else "bias")
        if b.ndim == 2 and 1 in b.shape:
            b = b.reshape(-1)
        if b.ndim != 1 or b.shape[0] != m:
            raise InputError(
                f"bias has shape {b.shape} but {name} has {m} rows; expected ({m},)")
        if not np.all(np.isfinite(b)):
            raise InputError("bias contains NaN or inf")
    if sp.issparse(W):
        return W, np.ascontiguousarray(b)
    return np.ascontiguousarray(W), np.ascontiguousarray(b)


def open_npz(path):
    """Open an ``.npz`` file, turning every failure into :class:`InputError`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a model file")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"cannot read {path} as .npz: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"{path} is a single .npy array, expected an .npz archive")
    return data


def load_layer(path):
    """Load ``(W, b)`` from a layer ``.npz`` file and validate it.

    A network file with a single layer (``W0``/``b0``) is accepted as a layer.
    """
    data = open_npz(path)
    with data:
        keys = set(data.files)
        if "W" in keys:
            W = data["W"]
            b = data["b"] if "b" in keys else None
        elif "W0" in keys and "W1" not in keys:
            W = data["W0"]
            b = data["b0"] if "b0" in keys else None
        else:
            raise InputError(
                f"{path}: no array 'W' in file (found: {', '.join(sorted(keys)) or 'nothing'})")
        try:
            W = np.asarray(W)
            b = None if b is None else np.asarray(b)
        except ValueError as exc:  # object arrays refused by allow_pickle=False
            raise InputError(f"{path}: {exc}") from None
    return validate_layer(W, b)
