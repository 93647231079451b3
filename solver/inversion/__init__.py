"""Inverting generators: the target's structure first, then mixed-integer
programming.

Given a generator ``G`` (a :class:`solver.network.Network`) and a target
``x``, :func:`invert` finds a latent ``z`` in a box with ``G(z) = x``, proves
that no ``z`` in the box is closer when ``x`` is off the range (the nearest
point in the L-infinity or L1 norm), and says whether the preimage is unique.

Two algorithms share this module. The default (:func:`invert`, issue 15)
first *peels* the layers whose rows the target pins
(:mod:`solver.inversion.peel`: certified boxes, ReLU signs fixed by the
target, LP refinement in the latent space) and hands a MIP only what remains;
its steps are in :func:`invert`'s Notes. ``invert(peel=False)`` runs the
whole-network MIP described below (:func:`~solver.inversion.wholemip.invert_whole_mip`), kept for comparison
and used by the default path for the nearest point of piecewise-linear heads.

Why an integer program: ``G`` is affine on each activation region
(Balestriero et al., Prop. 4), so ``min_z ||G(z) - x||`` is a minimum over
regions of LPs; one binary per *unstable* unit selects the region, with
big-M constants from bounds propagated over the box (:mod:`solver.bounds`,
:mod:`solver.netmilp`). The baselines of :mod:`solver.inversion.baselines`
(region enumeration, gradient descent, layer-by-layer LP) solve the same
problem for comparison.

The output layer is not encoded as ``u = act(y)``; its residual is encoded
directly. For an output unit with negative slope ``a`` and target ``x_i``,
``|act(y_i) - x_i| <= r_i`` is, for ReLU (``a = 0``),

* ``y_i <= x_i + r_i`` and ``r_i >= -x_i`` (always; convex);
* nothing more if ``x_i <= 0``;
* ``y_i >= x_i - r_i`` (the unit is active) if ``x_i > r_ub``, where
  ``r_ub`` is an upper bound on the optimal residual: **the target fixes the
  unit's sign, no binary**;
* otherwise (``0 < x_i <= r_ub``) the disjunction ``y_i >= x_i - r_i`` or
  ``r_i >= x_i``, one binary.

(Leaky and identity outputs are handled the same way, see
:func:`~solver.inversion.mipmodel.encode_residual`.) With ``x = G(z0)`` and ``r_ub`` tiny, every output
with ``x_i > 0`` pins its pre-activation and the remaining binaries are those
of the unstable hidden units only.

Algorithm of the whole-network MIP (:func:`~solver.inversion.wholemip.invert_whole_mip`, ``invert(peel=False)``):

1. Bounds: interval arithmetic, then LP tightening of the hidden layers;
   output units are LP-tightened only where a binary needs a big-M.
2. *Sign fixing under the target* (:func:`~solver.inversion.mipmodel.target_tighten`): LPs over the
   relaxation of the MIP with ``r <= r_ub`` fix hidden units whose
   post-activation must be positive (or pre-activation negative); with
   ``x = G(z0)`` the positive outputs pin the hidden layer and usually every
   binary disappears.
3. *Exact phase*: the MIP with ``r <= tol_abs``. A solution is polished by
   the LP of its activation region and a Gauss-Newton step, and re-checked by
   a floating-point forward pass: status ``exact``. If the MIP (or already its
   LP relaxation) is infeasible, no ``z`` in the box reproduces ``x`` to the
   tolerance.
4. *Nearest phase*: heuristic points (layer-wise LP, gradient descent from
   it and from a few random starts, the box centre, all polished) give
   ``r_ub``; ``r <= r_ub`` cannot cut off a minimiser. For L-infinity the
   residual range is cut at the target values ``|x_i|``: inside one interval
   no output needs a binary (``wholemip._interval_search``); LP screening, the
   incumbent's interval, then bisection below it. For L1, MIPs with growing
   levels ``rho`` (``wholemip._level_search``). Status ``nearest``; ``optimal``
   is the MIP's optimality proof (to the backend's tolerances; pywraplp's
   default relative gap is 1e-4) together with the infeasibility proofs of
   the lower intervals; ``bound`` is the proved lower bound.
5. *Uniqueness*: a feasibility MIP for ``z'`` with residual ``<= eps`` and
   ``||z' - z||_inf >= delta`` (two binaries per latent coordinate). Found:
   ``unique = False`` and, for exact targets, an attempt to turn
   ``(z, z')`` into an exact non-injectivity witness (rational arithmetic,
   :meth:`Network.check_witness`). Proved infeasible: ``unique = True``,
   which means *no second preimage farther than delta within the box, to
   solver tolerance*. Otherwise ``None``. For a ``nearest`` answer the
   question is whether another point is equally near (L-infinity nearest
   points are often not unique: the residual is set by one coordinate).

The default latent box is ``[-5, 5]^n`` (:data:`DEFAULT_LATENT_BOX`): for
``N(0, I)`` latents a coordinate leaves it with probability 5.7e-7. It is
always reported.

References
----------
R. Balestriero, S. Paris, R. Baraniuk, "Max-affine spline insights into deep
generative networks", Proposition 4 (inversion is a search over regions,
i.e. an integer program).
Q. Lei, A. Jalal, I. Dhillon, A. Dimakis, "Inverting deep generative models,
one layer at a time", NeurIPS 2019 (layer-wise LP baseline).
A. Bora, A. Jalal, E. Price, A. Dimakis, "Compressed sensing using
generative models", ICML 2017 (gradient descent baseline).
V. Tjeng, K. Xiao, R. Tedrake, "Evaluating robustness of neural networks with
mixed integer programming", ICLR 2019 (big-M encoding, bounds).

Layout
------
One module per step; this package's top level only re-exports (lazily, so
that the command line can read :mod:`solver.inversion.cli` without loading
the solvers):

* :mod:`~solver.inversion.api` -- :func:`invert`, the entry point;
* :mod:`~solver.inversion.problem` -- the target, latent box, norms,
  tolerance, :class:`InversionResult`, the LP of one activation region;
* :mod:`~solver.inversion.peel` and :mod:`~solver.inversion.enclosure` -- the
  target's structure (certified boxes, fixed signs, the refined latent box);
* :mod:`~solver.inversion.exactphase` -- the exact phase of the default path;
* :mod:`~solver.inversion.peeled` -- the default path (issue 15);
* :mod:`~solver.inversion.wholemip` -- the whole-network MIP (steps 1-5 above);
* :mod:`~solver.inversion.mipmodel` -- the MIP models and one solve;
* :mod:`~solver.inversion.candidates` -- polishing floating-point candidates;
* :mod:`~solver.inversion.exactpair` -- exact witnesses from a floating pair;
* :mod:`~solver.inversion.baselines` -- enumeration, gradient descent,
  layer-wise LP (for comparison);
* :mod:`~solver.inversion.cli` -- ``reluinj invert``.

The old flat modules ``solver.inversion_problem``, ``inversion_peel``,
``inversion_baselines`` and ``inversion_cli`` are kept as re-exports.
"""
_LAZY = {
    "invert": "api", "InversionResult": "problem", "DEFAULT_DELTA": "problem",
    "DEFAULT_LATENT_BOX": "problem", "DEFAULT_TOL": "problem", "MIP_GAP": "problem",
    "NORM_NAMES": "problem", "NORMS": "problem", "check_norm": "problem",
    "make_result": "problem", "activation_pattern": "problem", "latent_box_arrays": "problem",
    "region_affine": "problem", "region_constraints": "problem", "region_lp": "problem",
    "residual_norm": "problem", "tolerance": "problem", "validate_target": "problem",
    "pre_activation_network": "problem", "truncated_network": "problem", "output_residual": "problem",
    "polish": "candidates", "polish_box": "candidates", "descend": "candidates",
    "ambiguous_outputs": "mipmodel", "encode_residual": "mipmodel", "inversion_model": "mipmodel",
    "target_tighten": "mipmodel", "box_model": "mipmodel", "MAX_MIP_BINARIES": "mipmodel",
    "exact_pair": "exactpair",
}


def __getattr__(name):  # lazy: the solvers load on first use
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f".{mod}", __name__), name)


__all__ = sorted(_LAZY)
