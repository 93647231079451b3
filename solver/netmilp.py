"""MILP encodings of ReLU / leaky-ReLU / identity networks over a latent box.

One encoder, :func:`encode_network`, that adds one copy of a network to a
:class:`solver.milpbuilder.MilpBuilder` (the one model builder, re-exported
here). Call it twice on the same builder for two copies (for example
``N(z1) = N(z2)`` with ``z1 != z2`` for end-to-end injectivity), or once and
add your own output constraints (the inversion MIP of
:mod:`solver.inversion` encodes the last layer's pre-activations only and
writes the residual itself).

Encoding of one unit ``u = act(y)``, ``y = w . u_prev + b``, with bounds
``l <= y <= h`` from :func:`solver.bounds.propagate_bounds` and negative-side
slope ``a`` (0 for relu, 1 for identity):

* ``l >= 0`` (stable active): ``u = y``, no binary.
* ``h <= 0`` (stable inactive): ``u = a y``, no binary.
* identity layers: ``u = y``, no binary.
* otherwise one binary ``d`` (1 = active) and the big-M rows

  - ``u - y`` in ``[L1, U1] (1 - d)``, ``[L1, U1]`` the range of
    ``(a - 1) y`` over ``y in [l, 0]``;
  - ``u - a y`` in ``[L2, U2] d``, ``[L2, U2]`` the range of ``(1 - a) y``
    over ``y in [0, h]``;
  - ``l (1 - d) <= y <= h d``.

  For ``a = 0`` this is the usual ``u >= y, u >= 0, u <= y - l (1 - d),
  u <= h d`` (Tjeng et al. 2019), whose LP relaxation is the triangle.

Every constant comes from the bounds; there is no default big-M. A unit with a
missing (infinite) bound raises :class:`InputError`.

Not the same encoding as the layer witness search of
:mod:`solver.formulations`: there a row has no output variable (only its sign
matters), it is scaled to unit l1 norm, and an inactive row must lie a margin
``mu_i`` below zero so that a tolerance-level binary still decodes to a
superset of the true active set; here ``u = act(y)`` is encoded exactly (no
margin: the value ``u`` is what the network computes, and the inversion MIP's
objective depends on it). Both build their rows with the same
:class:`~solver.milpbuilder.MilpBuilder`.

References
----------
Tjeng, Xiao, Tedrake, "Evaluating robustness of neural networks with mixed
integer programming", ICLR 2019. Balestriero et al., "Max-affine spline
insights into deep generative networks", Prop. 4 (inversion as an integer
program over activation regions).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .activations import parse_activation
from .milpbuilder import MilpBuilder

__all__ = ["MilpBuilder", "NetworkEncoding", "encode_activation", "encode_network",
           "solve_model", "not_started", "MIP_MIN_SECONDS", "ENGINE_OVERRUN"]


@dataclass(frozen=True)
class NetworkEncoding:
    """Variable indices of one encoded copy of a network.

    Attributes
    ----------
    z : int array, the latent (input) variables.
    pre : list of int arrays, pre-activation variables ``y`` per layer.
    post : list of int arrays (or ``None`` for a last layer encoded with
        ``encode_output=False``), post-activation variables per layer.
    binaries : list of int arrays, per layer and unit the binary variable
        (1 = active) or ``-1`` for a unit whose sign is fixed.
    signs : list of int8 arrays, per layer and unit ``+1`` (stable active,
        or identity), ``-1`` (stable inactive) or ``0`` (has a binary).
    """
    z: np.ndarray
    pre: list
    post: list
    binaries: list
    signs: list

    @property
    def n_binaries(self) -> int:
        return int(sum((b >= 0).sum() for b in self.binaries))

    def decode_pattern(self, x, tol=0.5):
        """Activation pattern of a MILP solution: per layer a bool array
        (True = active), read from the binaries and the fixed signs."""
        out = []
        for b, s in zip(self.binaries, self.signs):
            pat = s > 0
            free = b >= 0
            pat = pat.copy()
            pat[free] = np.asarray(x)[b[free]] > tol
            out.append(pat)
        return out


def _check_bounds(k, lo, hi):
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError(f"layer {k}: missing (infinite/NaN) pre-activation bound; "
                         "compute bounds with solver.bounds.propagate_bounds")
    if np.any(lo > hi):
        raise InputError(f"layer {k}: pre-activation bound with lo > hi")
    return lo, hi


def encode_activation(builder, y, u, lo, hi, activation, *, fixed=None):
    """Encode ``u = act(y)`` unit-wise for variable index arrays ``y, u``.

    Parameters
    ----------
    builder : MilpBuilder
    y, u : int arrays of variable indices (same length).
    lo, hi : bounds on ``y`` (finite).
    activation : a piecewise linear :class:`solver.activations.Activation`
        (``relu``, ``identity`` or ``leaky_relu:<slope>``) or its text form.
    fixed : optional int array of ``+1`` / ``-1`` / ``0``: force a unit
        active / inactive (adds the sign constraint on ``y``, no binary), or
        leave it to the bounds.

    Returns
    -------
    ``(binaries, signs)`` as in :class:`NetworkEncoding` for this layer.
    """
    y = np.asarray(y, int)
    u = np.asarray(u, int)
    m = len(y)
    activation = parse_activation(activation).require_piecewise_linear("the MILP encoding")
    a = activation.slope
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    binv = np.full(m, -1, dtype=int)
    signs = np.zeros(m, dtype=np.int8)
    if activation.is_identity:
        builder.add_rows([(1.0, u), (-1.0, y)], 0.0, 0.0)
        signs[:] = 1
        return binv, signs
    act = lo >= 0
    ina = (hi <= 0) & ~act
    if fixed is not None:
        fixed = np.asarray(fixed)
        fa = (fixed > 0) & ~act
        fi = (fixed < 0) & ~ina
        # a sign forced against the bounds leaves only y = 0, which the sign
        # row together with the variable bounds expresses
        if fa.any():
            builder.add_rows([(1.0, y[fa])], 0.0, np.inf)
        if fi.any():
            builder.add_rows([(1.0, y[fi])], -np.inf, 0.0)
        act = act | fa
        ina = (ina | fi) & ~fa
    unst = ~(act | ina)
    if act.any():
        builder.add_rows([(1.0, u[act]), (-1.0, y[act])], 0.0, 0.0)
        signs[act] = 1
    if ina.any():
        builder.add_rows([(1.0, u[ina]), (-a, y[ina])], 0.0, 0.0)
        signs[ina] = -1
    ui = np.flatnonzero(unst)
    if len(ui):
        l, h = lo[ui], hi[ui]
        yy, uu = y[ui], u[ui]
        d = builder.add_binaries(len(ui))
        binv[ui] = d
        e1 = (a - 1.0) * l
        L1, U1 = np.minimum(e1, 0.0), np.maximum(e1, 0.0)
        e2 = (1.0 - a) * h
        L2, U2 = np.minimum(e2, 0.0), np.maximum(e2, 0.0)
        # u - y + U1 d <= U1 ;  u - y + L1 d >= L1
        builder.add_rows([(1.0, uu), (-1.0, yy), (U1, d)], -np.inf, U1)
        builder.add_rows([(1.0, uu), (-1.0, yy), (L1, d)], L1, np.inf)
        # u - a y - U2 d <= 0 ; u - a y - L2 d >= 0
        builder.add_rows([(1.0, uu), (-a, yy), (-U2, d)], -np.inf, 0.0)
        builder.add_rows([(1.0, uu), (-a, yy), (-L2, d)], 0.0, np.inf)
        # y - h d <= 0 ; y + l d >= l
        builder.add_rows([(1.0, yy), (-h, d)], -np.inf, 0.0)
        builder.add_rows([(1.0, yy), (l, d)], l, np.inf)
    return binv, signs


def encode_network(builder, network, bounds, z_vars=None, *, box=None, encode_output=True,
                   fixed=None, prefix=""):
    """Add one copy of ``network`` to ``builder``.

    Parameters
    ----------
    builder : MilpBuilder
    network : :class:`solver.network.Network`
    bounds : list of ``(pre_lo, pre_hi)`` per layer, valid for every latent
        point the model allows (from :func:`solver.bounds.propagate_bounds`
        over the same box). Must be finite.
    z_vars : int array or None
        Existing latent variables (e.g. shared between two copies). If None,
        new ones are created with bounds ``box``.
    box : ``(lo, hi)`` arrays, required when ``z_vars`` is None (the latent
        box the bounds were computed for).
    encode_output : bool
        If False, the last layer's activation is not encoded: only its
        pre-activation variables exist (``post[-1] is None``, no binaries
        there). Used when the caller constrains the output itself.
    fixed : optional list (per layer) of int arrays (+1/-1/0) or None,
        forced activation signs (see :func:`encode_activation`).
    prefix : str, prefix for variable names (``z``, ``y<k>``, ``u<k>``).

    Returns
    -------
    :class:`NetworkEncoding`.

    Notes
    -----
    Variables: ``y_k`` (pre-activation, bounds from ``bounds``), ``u_k``
    (post-activation, bounds = activation of the pre-activation bounds),
    equality rows ``W_k u_{k-1} - y_k = -b_k``. Stable units are linear and
    get no binary; the count of binaries is ``enc.n_binaries``.
    """
    from .bounds import activation_bounds
    L = len(network.layers)
    if len(bounds) != L:
        raise InputError(f"bounds has {len(bounds)} layers, network has {L}")
    if z_vars is None:
        if box is None:
            raise InputError("encode_network needs z_vars or a latent box")
        blo, bhi = box
        blo = np.broadcast_to(np.asarray(blo, float), (network.n_in,))
        bhi = np.broadcast_to(np.asarray(bhi, float), (network.n_in,))
        if not (np.all(np.isfinite(blo)) and np.all(np.isfinite(bhi))):
            raise InputError("latent box must be finite")
        z_vars = builder.add_vars(network.n_in, blo, bhi,
                                  names=[f"{prefix}z{j}" for j in range(network.n_in)])
    z_vars = np.asarray(z_vars, int)
    if len(z_vars) != network.n_in:
        raise InputError(f"z_vars has {len(z_vars)} entries, network input has {network.n_in}")
    prev = z_vars
    pre, post, bins, signs = [], [], [], []
    for k, layer in enumerate(network.layers):
        lo, hi = _check_bounds(k, *bounds[k])
        m = layer.W.shape[0]
        if len(lo) != m:
            raise InputError(f"bounds of layer {k} have length {len(lo)}, layer has {m} units")
        y = builder.add_vars(m, lo, hi, names=[f"{prefix}y{k}_{i}" for i in range(m)])
        builder.add_matrix_rows(layer.W, prev, extra=[(-1.0, y)], lo=-layer.b, hi=-layer.b)
        pre.append(y)
        if k == L - 1 and not encode_output:
            post.append(None)
            bins.append(np.full(m, -1, dtype=int))
            signs.append(np.zeros(m, dtype=np.int8))
            break
        ulo, uhi = activation_bounds(layer.activation, lo, hi)
        u = builder.add_vars(m, ulo, uhi, names=[f"{prefix}u{k}_{i}" for i in range(m)])
        fx = None if fixed is None else fixed[k]
        b, s = encode_activation(builder, y, u, lo, hi, layer.activation, fixed=fx)
        post.append(u)
        bins.append(b)
        signs.append(s)
        prev = u
    return NetworkEncoding(z_vars, pre, post, bins, signs)


#: no MIP is started with less time than this left (seconds): an engine needs
#: about this long to take a model and answer, and a time limit is never
#: raised to a floor (a chain of MIPs each given a floor overran its limit)
MIP_MIN_SECONDS = 0.1

#: how far past its own time limit an engine answers: a share of the limit and
#: a latency (seconds). Measured on the shared 2-core machine (market split,
#: 40 binaries, and a two-copy network MILP, 810 columns; limits 0.3, 1, 3 s;
#: wall / limit): ortools HiGHS 1.00-1.26, SCIP 1.00-1.14, CBC 1.08-1.37,
#: PuLP's CBC 1.02-1.78, scipy's HiGHS 1.00-1.18, the worst at 0.3 s.
ENGINE_OVERRUN = (0.10, 0.05)


def not_started(name, seconds=0.0):
    """The answer of a MIP that was not started for lack of time: a
    ``TIME_LIMIT`` without a point (``name``: the backend's)."""
    from .backends import MilpSolution, MilpStatus
    return MilpSolution(MilpStatus.TIME_LIMIT, None, None, None, seconds, name,
                        "not started: the time limit is reached")


def solve_model(model, backend=None, *, time_limit=None, threads=1, verbose=False):
    """Solve with a named backend (default :data:`solver.backends.DEFAULT_BACKEND`)
    and return within about ``time_limit`` seconds: the engine is given what
    is left once its usual overrun (:data:`ENGINE_OVERRUN`) is set aside, and
    with less than :data:`MIP_MIN_SECONDS` (the deadline passed) no engine is
    started (:func:`not_started`). Every MIP of ``reluinj check`` and
    ``invert`` is solved here.

    ``backend`` may be a name or a backend object. Returns ``(solution, backend_name)``.

    Examples
    --------
    >>> from solver.backends import MilpModel
    >>> m = MilpModel(c=[-1.0], A=[[1.0]], row_lb=[0.0], row_ub=[2.5], lb=0, ub=9,
    ...               integrality=[True])
    >>> sol, name = solve_model(m, "scipy-highs", time_limit=5)
    >>> sol.status.value, sol.objective
    ('optimal', -2.0)
    >>> solve_model(m, "scipy-highs", time_limit=0.0)[0].status.value
    'time_limit'
    """
    import time
    from .backends import DEFAULT_BACKEND, get_backend
    start = time.monotonic()
    # (a first use imports the engine: a few tenths of a second, on the clock)
    be = backend if hasattr(backend, "solve") else get_backend(backend or DEFAULT_BACKEND)
    name = getattr(be, "name", str(backend))
    if time_limit is not None:
        time_limit -= time.monotonic() - start
        if time_limit < MIP_MIN_SECONDS:
            return not_started(name), name
        share, latency = ENGINE_OVERRUN
        time_limit = max(MIP_MIN_SECONDS, time_limit - latency) / (1 + share)
    sol = be.solve(model, time_limit=time_limit, threads=threads, verbose=verbose)
    return sol, name
