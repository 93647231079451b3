"""Reading and validating layers (and, through :mod:`solver.network`, networks).

A layer file is ``.npz`` with ``W`` (m x n) and optionally ``b`` (m,).
Validation happens up front, in one place, before any solving (the
``scipy.optimize._milp._milp_iv`` pattern).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from .errors import InputError


def validate_layer(W, b=None, *, name: str = "W"):
    """Return ``(W, b)`` as float64 arrays, or raise :class:`InputError`.

    ``b`` defaults to zeros. Rejects non-2-D ``W``, empty matrices, NaN/inf,
    and a ``b`` whose length differs from the number of rows of ``W``.
    """
    try:
        W = np.array(W, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric matrix: {exc}") from None
    if W.ndim != 2:
        raise InputError(f"{name} must be a 2-D matrix (m x n), got shape {W.shape}")
    m, n = W.shape
    if m == 0 or n == 0:
        raise InputError(f"{name} is empty (shape {W.shape})")
    if not np.all(np.isfinite(W)):
        raise InputError(f"{name} contains NaN or inf")
    if b is None:
        b = np.zeros(m)
    else:
        try:
            b = np.array(b, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"bias is not numeric: {exc}") from None
        if b.ndim == 2 and 1 in b.shape:
            b = b.reshape(-1)
        if b.ndim != 1 or b.shape[0] != m:
            raise InputError(
                f"bias has shape {b.shape} but {name} has {m} rows; expected ({m},)")
        if not np.all(np.isfinite(b)):
            raise InputError("bias contains NaN or inf")
    return np.ascontiguousarray(W), np.ascontiguousarray(b)


def validate_box(box, *, name="box"):
    """``box`` as a positive finite float, or raise :class:`InputError`
    naming ``name``.

    Examples
    --------
    >>> validate_box("2.5")
    2.5
    """
    try:
        box = float(box)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number; got {box!r}") from None
    if not (np.isfinite(box) and box > 0):
        raise InputError(f"{name} must be a positive finite number; got {box!r}")
    return box


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
