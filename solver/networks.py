"""Old import path, kept as a re-export only: the network decision now lives
in the package :mod:`solver.network` (``check``, ``result``, ``layerwise``,
``orthant``, ``regions``, ``pairs``, ``pairmilp``, ``rational``). New code
imports from there."""
from .network.check import (DEFAULT_BOX, DOMAINS, MILP_MAX_UNITS, WITNESS_ONLY_SECONDS,
                            check_network)
from .network.layerwise import decide_bijective_layer, decide_large_layer
from .network.orthant import NONNEG_FORMAT, check_layer_nonneg, check_nonneg_certificate
from .network.pairmilp import DEFAULT_DELTA_FRACTION, MILP_MAX_BOUND, search_pair_milp
from .network.pairs import PairDecider
from .network.regions import MAX_REGIONS, decide_by_regions, region_of_pattern
from .network.result import NetworkResult

__all__ = ["check_network", "NetworkResult", "decide_bijective_layer", "decide_large_layer",
           "check_layer_nonneg", "check_nonneg_certificate", "NONNEG_FORMAT",
           "decide_by_regions", "region_of_pattern", "PairDecider", "search_pair_milp",
           "DOMAINS", "DEFAULT_BOX", "DEFAULT_DELTA_FRACTION", "MAX_REGIONS",
           "MILP_MAX_UNITS", "MILP_MAX_BOUND", "WITNESS_ONLY_SECONDS"]
