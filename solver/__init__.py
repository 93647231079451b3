"""reluinj: exact decision of global injectivity of ReLU layers and networks.

Public API
----------
check_layer(W, b=None, ...)       -> LayerResult (verdict, exact witness, certificate)
check_certificate(W, b, cert)     -> (ok, reason), independent checker
check_witness(W, b, witness)      -> (ok, reason)
load_layer(path)                  -> (W, b)
check_layer_snapped(W, b, rtol)   -> (Snap, LayerResult): rows coincident up to rounding made exact
stability(W, b) / stability(model) -> StabilityResult: Theorem 4's sigma* (certified), C(W),
                                     an upper bound from point pairs, collapse if not injective

BLAS threads: numpy's BLAS runs single-threaded in a process that imports
this package before numpy (the ``reluinj`` command, ``python -m solver``, and
the worker processes it starts), unless ``OPENBLAS_NUM_THREADS`` /
``MKL_NUM_THREADS`` are set. The package's matrices are small (batches of at
most a few dozen rows through a 784 x 400 layer) and its parallelism is by
processes; measured on the 2-core machine, the default two OpenBLAS threads
made projected gradient descent on the 20-400-784 VAE 4-8x slower in CPU
time and 3-7x in wall time, and the peeled in-range inversion 2-3x (spinning
threads, and a second process competing for the cores). An environment
variable read when OpenBLAS loads is the one means that needs no extra
dependency (``threadpoolctl`` is not one of ours); a process that imported
numpy first keeps its BLAS threads.
"""
import os as _os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")
del _var

from .certificates import check_certificate, check_witness  # noqa: E402
from .errors import InputError
from .result import LayerResult, Verdict, Witness


_LAZY = {
    "check_layer": "layer", "load_layer": "io", "validate_layer": "io",
    "enumerate_cells": "enumeration", "decide_by_enumeration": "enumeration",
    "check_network": "network.check", "check_layer_nonneg": "network.orthant",
    "check_conv": "conv", "load_network": "network_io", "Network": "network",
    "invert": "inversion.api",
    "snap_coincident_rows": "snap", "check_layer_snapped": "layer",
    "stability": "stability", "StabilityResult": "stability",
}


def __getattr__(name):  # lazy: heavier modules load on first use
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(name)
    import importlib
    return getattr(importlib.import_module(f".{mod}", __name__), name)


__all__ = ["check_layer", "check_certificate", "check_witness", "load_layer",
           "validate_layer", "LayerResult", "Verdict", "Witness", "InputError",
           "enumerate_cells", "decide_by_enumeration", "check_network", "check_layer_nonneg",
           "check_conv", "load_network", "Network", "invert", "snap_coincident_rows",
           "check_layer_snapped", "stability", "StabilityResult"]
__version__ = "0.1.0"
