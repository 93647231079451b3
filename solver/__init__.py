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
"""
from .certificates import check_certificate, check_witness
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
