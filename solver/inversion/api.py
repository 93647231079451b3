"""The entry point :func:`invert`: validate, then the peeled inversion
(:mod:`solver.inversion.peeled`, default) or the whole-network MIP
(:mod:`solver.inversion.wholemip`, ``peel=False``)."""
from __future__ import annotations

from .peeled import invert_peeled
from .problem import DEFAULT_DELTA, DEFAULT_LATENT_BOX, DEFAULT_TOL, InversionResult
from .wholemip import invert_whole_mip

__all__ = ["invert", "WORK_SHARE"]

#: the share of ``time_limit`` that the search steps may use; the rest is kept
#: for what follows them (polishing, exact checks, the result), so that the
#: call returns within 10 % of its limit (non-negotiable 4)
WORK_SHARE = 0.95


def invert(network, x, *, norm="linf", latent_box=DEFAULT_LATENT_BOX, time_limit=None,
           backend=None, uniqueness=True, delta=DEFAULT_DELTA, tol=DEFAULT_TOL,
           tighten=True, threads=1, verbose=False, seed=0, peel=True) -> InversionResult:
    """Invert a generator: ``z`` in the latent box with ``G(z) = x``, or the
    nearest point of the range; says whether the preimage is unique.

    Parameters
    ----------
    network : :class:`solver.network.Network` (relu / leaky / identity
        layers; the last layer may also be sigmoid or tanh).
    x : array of length ``network.n_out``, the target.
    norm : ``"linf"`` (default) or ``"l1"``: the residual minimised.
    latent_box : float R (box ``[-R, R]^n``; default 5.0), array of R's, or
        ``(lo, hi)``. Always reported in the result.
    time_limit : seconds for everything, or None. The search steps stop at
        :data:`WORK_SHARE` of it, which leaves time to finish.
    backend : MILP backend name (default :data:`solver.backends.DEFAULT_BACKEND`).
    uniqueness : decide uniqueness (default True).
    delta : separation for uniqueness, ``||z' - z||_inf >= delta`` (default 1e-3).
    tol : relative tolerance: ``exact`` means
        ``||G(z) - x||_inf <= tol * max(1, ||x||_inf)`` in floating point.
    tighten : LP bound tightening in the MIPs (default True).
    threads : passed to the backend.
    seed : for the gradient-descent restarts.
    peel : use the target's structure before any MIP (default True; False
        runs the whole-network MIP of the module docstring, kept for
        comparison).

    Returns
    -------
    :class:`InversionResult`.

    Notes
    -----
    With ``eps = tol * max(1, ||x||_inf)`` and ``S = {z in box :
    |G(z) - x| <= eps}`` (real arithmetic, exact weights):

    1. *Peel* (:func:`solver.inversion.peel.peel`). The head's interval
       preimage of ``[x - eps, x + eps]`` is a box on the last
       pre-activations (for sigmoid: ``[logit(x - eps), logit(x + eps)]``,
       an end infinite where ``x - eps <= 0`` or ``x + eps >= 1``); layers
       whose two-sided rows have full column rank pin their input to a
       certified box, a ReLU layer's box fixes its active units, down to the
       latent space. An empty box proves ``S`` empty.
    2. *Refine* (:func:`solver.inversion.enclosure.refine_latent_box`): on the
       small latent box the network is affine up to the units near their
       kink; LP hulls shrink the box. ``S`` lies in the final box ``Z``.
    3. *Exact*: the least-squares point of the affine enclosure, polished; it
       is ``exact`` when the floating-point forward pass reproduces ``x`` to
       ``eps``. For a sigmoid/tanh head this is the statement proved about
       the returned ``z``: the float forward pass is within ``eps`` of ``x``
       in every output; where ``x`` is within ``eps`` of 0 or 1 the output
       only bounds the pre-activation from one side.
    4. *Unique* (exact targets): ``unique = True`` when every point of ``Z``
       is within ``delta`` of ``z`` (then no point of ``S``, i.e. no latent
       point whose exact output is within ``eps`` of ``x``, is ``delta``
       away: no second MIP); otherwise a far vertex of the enclosure's LP is
       checked as a second preimage and turned into an exact witness
       (rational arithmetic) when possible; a MIP over ``Z`` (few binaries)
       decides what remains.
    5. Where the peel stops (a layer whose rows do not pin its input), the
       remaining layers and the box on their output go to a feasibility MIP
       (:func:`box_model`) after gradient-descent candidates.
    6. *Nearest* (no exact point): for piecewise-linear heads the MIP search
       of the module docstring, with the peel's proof that no point is within
       ``eps`` as its starting lower bound. For a sigmoid/tanh head and
       ``linf`` the residual is in the output space: per-pixel range bounds
       (a pixel below 0 costs at least its distance to the sigmoid's range)
       give the first lower bound; the incumbent is a region walk
       (:func:`solver.inversion.nearest.region_walk`: the exact L-inf minimum
       of each activation region, then across kinks), which often attains
       that bound; otherwise feasibility MIPs of the interval target at
       levels below the incumbent; for ``l1`` the problem is solved
       in the pre-activation space against ``act^{-1}(x)`` (targets at or
       beyond the range clipped, with a warning) and ``space`` says so.

    ``optimal`` and ``unique`` are proved to the stated tolerances (LP/MIP
    tolerances for the steps that use them, :data:`MIP_GAP` for
    optimality) or null.

    References
    ----------
    Puthawala et al., "Globally injective ReLU networks" (injectivity of a
    layer at a point: the active rows span). Balestriero et al., "Max-affine
    spline insights into deep generative networks", Prop. 4. Lei et al. 2019
    (layer-wise inversion). Tjeng et al. 2019 (big-M MIP).
    """
    from ..deadline import validate_time_limit
    if validate_time_limit(time_limit) is not None:
        time_limit = WORK_SHARE * float(time_limit)
    if not peel:
        return invert_whole_mip(network, x, norm=norm, latent_box=latent_box, time_limit=time_limit,
                                backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                                tighten=tighten, threads=threads, verbose=verbose, seed=seed)
    return invert_peeled(network, x, norm=norm, latent_box=latent_box, time_limit=time_limit,
                         backend=backend, uniqueness=uniqueness, delta=delta, tol=tol,
                         tighten=tighten, threads=threads, verbose=verbose, seed=seed)
