"""Reading and validating layers (and, through :mod:`solver.network`, networks).

A layer file is ``.npz`` with ``W`` (m x n) and optionally ``b`` (m,).
Validation happens up front, in one place, before any solving (the
``scipy.optimize._milp._milp_iv`` pattern).
"""
from __future__ import annotations

import os
import re
import sys
import zipfile

import numpy as np

from .errors import InputError

__all__ = ["DENSE_MAX_ENTRIES", "issparse", "as_dense", "sign_parts", "validate_layer",
           "validate_box", "existing_file", "writable_file", "read_npz", "layer_arrays",
           "load_layer"]


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


def issparse(W):
    """``scipy.sparse.issparse(W)`` without importing scipy.sparse (about
    0.4 s of every command's start-up): a sparse matrix exists only once
    scipy.sparse has been imported by whoever made it."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(W)


def as_dense(W):
    """``W`` as a dense float64 array (``toarray()`` of a sparse matrix)."""
    return W.toarray() if issparse(W) else np.asarray(W, dtype=np.float64)


def sign_parts(W):
    """``(max(W, 0), min(W, 0))`` entrywise, for a dense array or a
    scipy.sparse matrix (which stays sparse): the split of interval
    arithmetic, ``W u`` over a box."""
    if issparse(W):
        return W.maximum(0), W.minimum(0)
    return np.maximum(W, 0.0), np.minimum(W, 0.0)


def validate_layer(W, b=None, *, name: str = "W"):
    """Return ``(W, b)`` as float64 arrays, or raise :class:`InputError`.

    ``b`` defaults to zeros. Rejects non-2-D ``W``, empty matrices, NaN/inf,
    complex, object or string data, and a ``b`` whose length differs from
    the number of rows of ``W``. A ``scipy.sparse`` ``W`` is returned as a
    float64 ``csr_matrix`` (its stored entries validated).
    """
    if issparse(W):
        W = sys.modules["scipy.sparse"].csr_matrix(W)
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
    if not np.all(np.isfinite(W.data if issparse(W) else W)):
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
    if issparse(W):
        return W, np.ascontiguousarray(b)
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


def writable_file(path, *, what="output file"):
    """``os.fspath(path)`` when a file can be written there (its directory
    exists and is writable, and it is not a directory), else InputError with
    one line: checked before the work whose result it would hold.

    Examples
    --------
    >>> writable_file("/nonexistent/c.json", what="certificate")
    Traceback (most recent call last):
    ...
    solver.errors.InputError: cannot write certificate /nonexistent/c.json: no such directory /nonexistent
    """
    p = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(p))
    if os.path.isdir(p):
        raise InputError(f"cannot write {what} {p}: it is a directory")
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {what} {p}: no such directory {parent}")
    if not os.access(p if os.path.exists(p) else parent, os.W_OK):
        raise InputError(f"cannot write {what} {p}: permission denied")
    return p


def existing_file(path, *, what="model file", missing="no such file"):
    """``os.fspath(path)`` when it names an existing file that is not a
    directory, else InputError with one line (``"{missing}: {path}"`` or
    ``"{path} is a directory, not a {what}"``): the one check every reader
    of a user's file makes first.

    Examples
    --------
    >>> existing_file("/nonexistent/w.npz")
    Traceback (most recent call last):
    ...
    solver.errors.InputError: no such file: /nonexistent/w.npz
    >>> existing_file("/", what="target file")
    Traceback (most recent call last):
    ...
    solver.errors.InputError: / is a directory, not a target file
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputError(f"{missing}: {p}")
    if os.path.isdir(p):
        raise InputError(f"{p} is a directory, not a {what}")
    return p


def read_npz(path) -> dict:
    """Read every array of an ``.npz`` file, turning every failure into one
    :class:`InputError` line.

    All arrays are read here, eagerly: NumPy reads the members of an archive
    lazily, so a corrupted byte (bad CRC-32) or an object array would
    otherwise surface later, at first access, as an internal error. Pickled
    (object) arrays are refused, never unpickled.

    Returns
    -------
    dict name -> ndarray.

    Raises
    ------
    InputError : missing file, directory, not a zip archive (e.g. a text file
        named ``.npz``, or a single ``.npy`` array), corrupted archive, object
        arrays.
    """
    path = existing_file(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(b"\x93NUMPY"):
        raise InputError(f"{path} is a single .npy array, expected an .npz archive")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not an .npz file (not a zip archive)")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                try:
                    arr = np.asarray(data[name])
                    if arr.dtype.kind == "U" and arr.size:
                        # NumPy builds str objects from any 32-bit values;
                        # code points outside Unicode break str methods later
                        codes = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
                        codes = codes.view(np.uint32)
                        if np.any((codes > 0x10FFFF) | ((codes >= 0xD800) & (codes <= 0xDFFF))):
                            raise InputError(f"{path}: array {name!r} holds invalid text")
                    out[name] = arr
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise InputError(f"{path}: array {name!r} holds Python objects "
                                         "(pickled data is refused); store numbers") from None
                    raise
    except InputError:
        raise
    except Exception as exc:  # zipfile/zlib/npy-format errors of a corrupted archive
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"cannot read {path} as .npz: {type(exc).__name__}"
                         + (f": {msg}" if msg else "")) from None
    return out


def load_layer(path):
    """Load ``(W, b)`` from a layer ``.npz`` file and validate it.

    A network file with a single layer (``W0``/``b0``) is accepted as a layer.
    """
    return validate_layer(*layer_arrays(read_npz(path), path))


def layer_arrays(data, path):
    """The raw ``(W, b)`` of a layer file's arrays ``data`` (``W``/``b``, or
    ``W0``/``b0`` alone); a mix such as ``W`` with ``W0``, or ``W0`` with
    ``W2``/``b1``, is refused rather than read in part."""
    keys = set(data)
    indexed = sorted(k for k in keys if re.fullmatch(r"[Wb]\d+", k))
    if "W" in keys:
        if indexed:
            raise InputError(f"{path}: both a layer 'W' and network arrays {indexed}: "
                             "which one is meant?")
        return data["W"], data.get("b")
    if "W0" in keys:
        stray = [k for k in indexed if k not in ("W0", "b0")]
        if stray:
            raise InputError(f"{path}: arrays {stray} do not follow W0 (expected W0, b0, "
                             "W1, b1, ... without gaps)")
        return data["W0"], data.get("b0")
    raise InputError(
        f"{path}: no array 'W' in file (found: {', '.join(sorted(keys)) or 'nothing'})")
