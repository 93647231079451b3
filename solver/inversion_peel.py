"""Old import path, kept as a re-export only: see :mod:`solver.inversion.peel` and
:mod:`solver.inversion.enclosure`."""
from .inversion.peel import (UNIT_ROUNDOFF, USEFUL_RATIO, MAX_PEEL_INPUTS, kind_slope,
                             stable_slopes, activation_derivative, preimage_box, target_box,
                             out_of_range, range_lower_bound, gamma_n, CertifiedBox,
                             certified_box, LayerPeel, Peel, forward_bounds,
                             peel)  # noqa: F401
from .inversion.enclosure import (AffineEnclosure, affine_enclosure, latent_rows,
                                  refine_latent_box, ReducedModel, reduced_affine,
                                  latent_certified_box, reduced_model)  # noqa: F401

__all__ = ["UNIT_ROUNDOFF", "USEFUL_RATIO", "MAX_PEEL_INPUTS", "kind_slope", "stable_slopes",
           "activation_derivative", "preimage_box", "target_box", "out_of_range",
           "range_lower_bound", "gamma_n", "CertifiedBox", "certified_box", "LayerPeel",
           "Peel", "forward_bounds", "peel", "AffineEnclosure", "affine_enclosure",
           "latent_rows", "refine_latent_box", "ReducedModel", "reduced_affine",
           "latent_certified_box", "reduced_model"]
