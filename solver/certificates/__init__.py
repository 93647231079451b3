"""Certificates: the independent checker (:mod:`.checker`) and the JSON
builders used by the search. The checker imports nothing from the rest of
the package."""
from .checker import (FORMAT, VERSION, check_certificate, check_document, check_file,
                      check_witness, layer_fingerprint)

__all__ = ["FORMAT", "VERSION", "check_certificate", "check_document", "check_file",
           "check_witness", "layer_fingerprint"]
