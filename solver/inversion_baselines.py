"""Old import path, kept as a re-export only: see :mod:`solver.inversion.baselines`."""
from .inversion.baselines import (enumerate_regions, invert_by_enumeration, gradient_descent,
                                  layerwise_lp)  # noqa: F401

__all__ = ["enumerate_regions", "invert_by_enumeration", "gradient_descent", "layerwise_lp"]
