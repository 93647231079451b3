"""Old import path, kept as a re-export only: see :mod:`solver.inversion.problem`."""
from .inversion.problem import (DEFAULT_LATENT_BOX, DEFAULT_TOL, DEFAULT_DELTA, NORMS,
                                NORM_NAMES, MIP_GAP, InversionResult, validate_target,
                                latent_box_arrays, check_norm, residual_norm, tolerance,
                                make_result, activation_pattern, region_affine,
                                region_constraints, region_lp, pre_activation_network,
                                truncated_network, output_residual,
                                validate_inputs)  # noqa: F401

__all__ = ["DEFAULT_LATENT_BOX", "DEFAULT_TOL", "DEFAULT_DELTA", "NORMS", "NORM_NAMES",
           "MIP_GAP", "InversionResult", "validate_target", "latent_box_arrays", "check_norm",
           "residual_norm", "tolerance", "make_result", "activation_pattern", "region_affine",
           "region_constraints", "region_lp", "pre_activation_network", "truncated_network",
           "output_residual", "validate_inputs"]
