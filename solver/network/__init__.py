"""Networks: the definition, and the decision of their injectivity.

This package's top level is the network *definition* only (it reads no
file and solves nothing; :mod:`solver.network_io` loads ``.npz`` / ``.onnx``
files), so importing it is cheap. The decision lives in one module per step:

* :mod:`~solver.network.model` -- ``DenseLayer``, ``Network``, ``make_network``;
* :mod:`~solver.network.check` -- :func:`check_network`, the entry point: a
  short list of named steps (layerwise, first-layer witness, end to end);
* :mod:`~solver.network.result` -- ``NetworkResult``;
* :mod:`~solver.network.layerwise` -- layers with a strictly increasing
  activation (exact rank) and sparse layers too large to densify;
* :mod:`~solver.network.orthant` -- a ReLU layer on the non-negative orthant
  (Remark 1) and its certificate;
* :mod:`~solver.network.regions` -- exact end-to-end decision over the
  activation regions (small networks), with its proof document;
* :mod:`~solver.network.pairs` -- one pair of regions decided exactly;
* :mod:`~solver.network.pairmilp` -- the two-copy MILP witness search;
* :mod:`~solver.network.rational` -- exact rational helpers shared by them.

``solver.networks`` is the old flat path, kept as a re-export.
"""
from .model import DenseLayer, Network, make_network

__all__ = ["DenseLayer", "Network", "make_network"]
