"""Certificates and their independent checkers (the trusted base: standard
library and NumPy only, nothing else from this package).

* :mod:`.checker`: a ReLU layer injective on R^n (sign tree) or not
  (witness), with :mod:`.exactlayer` (the layer's rows as exact integers,
  rationals, ranks) and :mod:`.tree` (the walk of certificate versions 2
  and 3);
* :mod:`.nonneg`: a ReLU layer injective on the non-negative orthant;
* :mod:`.rank`: full column rank (layers with a strictly increasing
  activation);
* :mod:`.network`: a network's verdict, layer by layer;
* :mod:`.verify`: one table from a document's ``format`` to its checker
  (``reluinj verify``).
"""
from .checker import (FORMAT, VERSION, check_certificate, check_document, check_file,
                      check_witness, layer_fingerprint)
from .verify import CHECKERS, verify_document

__all__ = ["FORMAT", "VERSION", "check_certificate", "check_document", "check_file",
           "check_witness", "layer_fingerprint", "CHECKERS", "verify_document"]
