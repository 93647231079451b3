"""One entry point for every proof document ``reluinj check`` writes:
:func:`verify_document` chooses the checker by the document's ``format``
from one table, :data:`CHECKERS`.

Part of the trusted base: the standard library and NumPy only, no solver.
The model is given as plain data, a list of ``(W, b, activation_text)`` per
layer (the CLI reads the file; a single-layer ``.npz`` with ``W, b`` is one
``relu`` layer).

==============================  ===============================================
format                          checker
==============================  ===============================================
``reluinj.certificate``         relu layer injective on R^n (:mod:`.checker`)
``reluinj.witness``             relu layer not injective (:mod:`.checker`)
``reluinj.certificate.nonneg``  relu layer injective on x >= 0 (:mod:`.nonneg`)
``reluinj.certificate.rank``    strictly increasing layer, full rank (:mod:`.rank`)
``reluinj.network_proof``       a network's verdict, layer by layer (:mod:`.network`)
``reluinj.depth``               active rows at every point, a lower bound (:mod:`.depth`)
==============================  ===============================================

Examples
--------
>>> import numpy as np
>>> W = np.array([[1.0], [-1.0]])
>>> doc = {"format": "reluinj.witness", "version": 1, "claim": "not_injective",
...        "m": 2, "n": 1, "x1": ["1"], "x2": ["2"]}
>>> verify_document([(W, np.zeros(2), "relu")], doc)
(False, 'outputs differ at row 0: 1 != 2')
>>> verify_document([(W, np.zeros(2), "relu")], {"format": "x"})[1]
"unknown document format 'x'; known: reluinj.certificate, reluinj.witness, reluinj.certificate.nonneg, reluinj.certificate.rank, reluinj.network_proof, reluinj.depth"
"""
from __future__ import annotations

from .checker import FORMAT
from .depth import DEPTH_FORMAT, check_depth_document
from .network import (NETWORK_FORMAT, WITNESS_FORMAT, check_network_proof,
                      check_single_layer_document)
from .nonneg import NONNEG_FORMAT
from .rank import RANK_FORMAT

#: document format -> checker(layers, doc, executor=None) -> (ok, reason)
CHECKERS = {
    FORMAT: check_single_layer_document,
    WITNESS_FORMAT: check_single_layer_document,
    NONNEG_FORMAT: check_single_layer_document,
    RANK_FORMAT: check_single_layer_document,
    NETWORK_FORMAT: check_network_proof,
    DEPTH_FORMAT: check_depth_document,
}

__all__ = ["CHECKERS", "verify_document"]


def verify_document(layers, doc, executor=None):
    """Check ``doc`` against the model ``layers`` with the checker its
    ``format`` names. Returns ``(ok, reason)``; never raises on a malformed
    document. ``executor``: optional one-process pool in which a long circuit
    table is checked while the tree is walked
    (:func:`solver.certificates.checker.check_certificate`)."""
    if not isinstance(doc, dict):
        return False, "the document is not a JSON object"
    fmt = doc.get("format")
    checker = CHECKERS.get(fmt) if isinstance(fmt, str) else None
    if checker is None:
        return False, f"unknown document format {fmt!r}; known: {', '.join(CHECKERS)}"
    if not layers:
        return False, "the model has no layers"
    return checker(layers, doc, executor=executor)
