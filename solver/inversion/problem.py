"""The inversion problem and its small shared pieces: the target, the latent
box, the norms and tolerance, the result type, and the LP of one activation
region, and the small network transforms the methods share.

Every other module of :mod:`solver.inversion` (the MIP methods and the
baselines: enumeration, gradient descent, layer-wise LP) builds on this one.

References
----------
R. Balestriero, R. Baraniuk, "A spline theory of deep learning", ICML 2018
(Prop. 4: a ReLU network is affine on each activation region).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..regionmap import region_maps

__all__ = ["DEFAULT_LATENT_BOX", "DEFAULT_TOL", "DEFAULT_DELTA", "NORMS", "NORM_NAMES",
           "MIP_GAP", "InversionResult", "validate_target", "latent_box_arrays", "check_norm",
           "residual_norm", "tolerance", "make_result", "activation_pattern", "region_affine",
           "region_constraints", "region_lp", "pre_activation_network", "truncated_network",
           "require_dense_piecewise_linear",
           "output_residual", "validate_inputs"]

#: default half-width of the latent box ``[-R, R]^n``
DEFAULT_LATENT_BOX = 5.0
#: default relative tolerance: exact means ``||G(z) - x||_inf <= tol * max(1, ||x||_inf)``
DEFAULT_TOL = 1e-6
#: default separation for the uniqueness MIP (latent units, L-infinity)
DEFAULT_DELTA = 1e-3
NORMS = ("linf", "l1")
#: printable names of the norms
NORM_NAMES = {"linf": "L-inf", "l1": "L1"}
#: relative optimality gap: ``optimal`` means no point of the box is better
#: than ``objective * (1 - MIP_GAP)`` (pywraplp's default relative MIP gap)
MIP_GAP = 1e-4


# ---------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class InversionResult:
    """Outcome of :func:`invert` (or of a baseline).

    Attributes
    ----------
    status : ``"exact"`` (``G(z)`` reproduces ``x`` to ``tol``, re-checked in
        floating point), ``"nearest"`` (best point found; ``optimal`` says
        whether no point of the box is closer), ``"unknown"`` (no point
        certified by the method; ``z`` is the best heuristic point, if any).
    z : tuple of floats or None.
    residual : float, ``||G(z) - x||_inf`` in the output space, floating point
        (JSON ``residual_norm: "linf"``, ``residual_space: "output"``).
    optimal : bool, the objective (``norm`` in ``space``) is proved minimal
        over the box, to the relative gap :data:`MIP_GAP` (for ``exact``:
        True).
    unique : True / False / None (see :func:`invert`).
    second_preimage : tuple of floats or None, ``z'`` with residual ``<= eps``
        and ``||z' - z||_inf >= delta``.
    seconds : float, wall time.
    method : str.
    latent_box : ``(lo, hi)`` tuples of floats.
    norm : ``"linf"`` or ``"l1"``.
    objective : float, the residual in ``norm`` in ``space``.
    bound : float or None, proved lower bound on the minimal ``objective``
        (same norm and space) over the box.
    gap, relative_gap : properties (and JSON fields): ``objective - bound``
        and that divided by ``objective``: how far the returned point may be
        from the optimum; None without a bound (0 for a proved optimum).
    space : ``"output"`` (``G(z) - x``) or ``"pre-activation"`` (the last
        layer's pre-activations against ``act^{-1}(x)``, used for an L1
        nearest point of a sigmoid/tanh head); ``output_objective`` is then the
        residual in ``norm`` in the output space.
    peel : what the target's structure fixed (:meth:`Peel.to_json`): peeled
        layers, units fixed, where and why peeling stopped.
    binaries : largest number of binaries of the MIPs that ran (None: no MIP).
    warnings : tuple of str (targets outside the activation's range, ...).
    uniqueness_method : how ``unique`` was decided.
    witness : :class:`solver.result.Witness` or None, an exact non-injectivity
        witness ``(z1, z2)`` (``G(z1) = G(z2)`` in rational arithmetic).
    message : str.
    stats : mapping of counters.
    """
    status: str
    z: tuple | None
    residual: float
    optimal: bool
    unique: bool | None
    second_preimage: tuple | None
    seconds: float
    method: str
    latent_box: tuple
    norm: str = "linf"
    objective: float = float("nan")
    bound: float | None = None
    witness: Any = None
    message: str = ""
    delta: float | None = None
    target_norm: float = 0.0
    stats: Mapping[str, Any] = field(default_factory=dict)
    space: str = "output"
    output_objective: float | None = None
    peel: Mapping[str, Any] | None = None
    binaries: int | None = None
    warnings: tuple = ()
    uniqueness_method: str | None = None

    @property
    def gap(self) -> float | None:
        """``objective - bound`` (None without a finite bound)."""
        if self.bound is None or not (math.isfinite(self.bound) and math.isfinite(self.objective)):
            return None
        return float(self.objective - self.bound)

    @property
    def relative_gap(self) -> float | None:
        """:attr:`gap` over ``objective`` (None without a bound or for objective 0)."""
        g = self.gap
        return None if g is None or self.objective <= 0 else g / float(self.objective)

    @property
    def relative_residual(self) -> float:
        return self.residual / max(self.target_norm, 1e-300) if self.target_norm > 0 \
            else self.residual

    def box_json(self):
        lo, hi = self.latent_box
        if len(set(hi)) == 1 and all(a == -b for a, b in zip(lo, hi)):
            return hi[0]
        return {"lo": list(lo), "hi": list(hi)}

    def to_json(self) -> dict:
        def num(v):
            return None if v is None or not math.isfinite(v) else float(v)
        return {
            "status": self.status,
            "z": None if self.z is None else [float(v) for v in self.z],
            "residual": num(self.residual),
            "relative_residual": num(self.relative_residual),
            "optimal": bool(self.optimal),
            "unique": self.unique,
            "second_preimage": None if self.second_preimage is None
            else [float(v) for v in self.second_preimage],
            "second_preimage_exact": None if self.second_preimage is None
            else self.witness is not None,
            "witness": None if self.witness is None else self.witness.to_json(),
            "seconds": round(self.seconds, 6),
            "method": self.method,
            "latent_box": self.box_json(),
            "norm": self.norm,
            "objective": num(self.objective),
            "bound": num(self.bound),
            "gap": num(self.gap),
            "relative_gap": num(self.relative_gap),
            "delta": self.delta,
            "message": self.message,
            "residual_norm": "linf",
            "residual_space": "output",
            "space": self.space,
            "output_objective": num(self.output_objective if self.output_objective is not None
                                    else self.objective),
            "peel": None if self.peel is None else dict(self.peel),
            "units_fixed": None if self.peel is None else self.peel.get("units_fixed"),
            "binaries_left": self.binaries,
            "uniqueness_method": self.uniqueness_method,
            "warnings": list(self.warnings),
            "stats": dict(self.stats),
        }


# ---------------------------------------------------------------------------
# validation and small helpers
# ---------------------------------------------------------------------------

def validate_target(network, x):
    """``x`` as a float array of length ``network.n_out``, or :class:`InputError`."""
    try:
        x = np.asarray(x, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(f"target is not numeric: {exc}") from None
    if x.shape[0] != network.n_out:
        raise InputError(f"target has length {x.shape[0]}, the generator has "
                         f"{network.n_out} outputs")
    if not np.all(np.isfinite(x)):
        raise InputError("target contains NaN or inf")
    return x


def latent_box_arrays(network, latent_box):
    """The latent box as two float arrays ``(lo, hi)``.

    ``latent_box`` is a number ``R > 0`` (box ``[-R, R]^n``), a list/array of
    per-coordinate half-widths, or a *tuple* ``(lo, hi)`` of scalars/arrays.
    """
    from ..bounds import box_arrays
    if latent_box is None:
        latent_box = DEFAULT_LATENT_BOX
    if isinstance(latent_box, tuple) and len(latent_box) == 2:
        lo, hi = latent_box
    else:
        try:
            R = np.asarray(latent_box, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"latent box must be a number; got {latent_box!r}") from None
        if np.any(~np.isfinite(R)) or np.any(R <= 0):
            raise InputError(f"latent box half-width must be finite and > 0; got {latent_box!r}")
        lo, hi = -R, R
    return box_arrays(network, lo, hi)


def check_norm(norm):
    """``norm`` if it is one of :data:`NORMS`, else :class:`InputError`."""
    if norm not in NORMS:
        raise InputError(f"norm must be one of {', '.join(NORMS)}; got {norm!r}")
    return norm


def residual_norm(r, norm):
    r = np.abs(np.asarray(r, float))
    return float(r.max()) if norm == "linf" else float(r.sum())


def tolerance(x, tol=DEFAULT_TOL):
    """Absolute tolerance ``tol * max(1, ||x||_inf)``."""
    return float(tol) * max(1.0, float(np.max(np.abs(x))) if len(x) else 1.0)


def make_result(status, z, network, x, norm, lo, hi, start, method, *, optimal=False, unique=None,
                second=None, bound=None, witness=None, message="", delta=None, stats=None):
    """The :class:`InversionResult` of point ``z`` (or None) for target ``x``: the
    residual and objective are recomputed from ``z`` by a forward pass."""
    if z is not None:
        z = np.asarray(z, float)
        r = network.forward(z) - x
        residual = float(np.max(np.abs(r))) if len(r) else 0.0
        obj = residual_norm(r, norm)
    else:
        residual = obj = float("inf")
    return InversionResult(
        status=status, z=None if z is None else tuple(float(v) for v in z),
        residual=residual, optimal=bool(optimal), unique=unique,
        second_preimage=None if second is None else tuple(float(v) for v in second),
        seconds=time.monotonic() - start, method=method,
        latent_box=(tuple(float(v) for v in lo), tuple(float(v) for v in hi)),
        norm=norm, objective=obj, bound=bound, witness=witness, message=message,
        delta=delta, target_norm=float(np.max(np.abs(x))) if len(x) else 0.0,
        stats=dict(stats or {}))


# ---------------------------------------------------------------------------
# activation regions (Prop. 4: G is affine on each)
# ---------------------------------------------------------------------------

def activation_pattern(network, z):
    """Per layer a bool array, True where the pre-activation is ``>= 0``
    (identity layers: all True)."""
    h = np.asarray(z, float)
    pat = []
    for L in network.layers:
        y = L.W @ h + L.b
        pat.append(np.ones(len(y), bool) if L.activation.is_identity else y >= 0)
        a = L.activation.slope
        h = np.where(y > 0, y, a * y)
    return pat


def region_affine(network, pattern):
    """Affine maps of an activation region: ``(pres, A, c)`` with
    ``pres[k] = (P_k, p_k)`` the pre-activations of layer ``k`` and
    ``G(z) = A z + c`` on the region (floating point;
    :func:`solver.regionmap.region_maps`, the one implementation)."""
    return region_maps(network, pattern)


def region_constraints(network, pattern, pres=None):
    """Rows ``(M, m)`` with ``M z <= m`` describing the closed region of
    ``pattern`` (sign constraints of every non-identity unit)."""
    if pres is None:
        pres, _, _ = region_affine(network, pattern)
    Ms, ms = [], []
    for L, s, (P, p) in zip(network.layers, pattern, pres):
        if L.activation.is_identity:
            continue
        sg = np.where(s, -1.0, 1.0)  # active: -(Pz+p) <= 0; inactive: Pz+p <= 0
        Ms.append(sg[:, None] * P)
        ms.append(-sg * p)
    if not Ms:
        return np.zeros((0, network.n_in)), np.zeros(0)
    return np.vstack(Ms), np.concatenate(ms)


def region_lp(network, pattern, x, lo, hi, norm="linf", *, extra=None, deadline=None):
    """Minimise ``||A z + c - x||`` over the closed region of ``pattern``
    intersected with the box (one LP, HiGHS).

    Returns ``(z, value)`` or ``(None, None)`` if the region misses the box.
    ``extra``: optional ``(M, m)`` rows ``M z <= m`` added to the LP.
    ``deadline``: HiGHS stops there (a ``time.monotonic()`` value; then
    ``(None, None)`` too).
    """
    pres, A, c = region_affine(network, pattern)
    M, m = region_constraints(network, pattern, pres)
    if extra is not None:
        M = np.vstack([M, extra[0]])
        m = np.concatenate([m, extra[1]])
    n = network.n_in
    k = A.shape[0]
    d = x - c
    if norm == "linf":
        # vars (z, t): A z - t <= d ; -A z - t <= -d
        Aub = np.vstack([np.hstack([A, -np.ones((k, 1))]), np.hstack([-A, -np.ones((k, 1))]),
                         np.hstack([M, np.zeros((M.shape[0], 1))])])
        bub = np.concatenate([d, -d, m])
        cost = np.zeros(n + 1)
        cost[-1] = 1.0
        bounds = [(lo[j], hi[j]) for j in range(n)] + [(0, None)]
    else:
        I = np.eye(k)
        Aub = np.vstack([np.hstack([A, -I]), np.hstack([-A, -I]),
                         np.hstack([M, np.zeros((M.shape[0], k))])])
        bub = np.concatenate([d, -d, m])
        cost = np.concatenate([np.zeros(n), np.ones(k)])
        bounds = [(lo[j], hi[j]) for j in range(n)] + [(0, None)] * k
    from ..lp import linprog_highs      # scipy.optimize: loaded on first use (CLI start-up)
    res = linprog_highs(cost, A_ub=Aub, b_ub=bub, bounds=bounds, deadline=deadline)
    if res.status != 0 or res.x is None:
        return None, None
    return np.clip(res.x[:n], lo, hi), float(res.fun)


def pre_activation_network(network):
    """The network with its last activation replaced by the identity: its
    output is the last layer's pre-activation."""
    from ..network import DenseLayer, Network
    L = network.layers[-1]
    from ..activations import IDENTITY
    return Network(network.layers[:-1] + (DenseLayer(L.W, L.b, IDENTITY),))


def truncated_network(network, k):
    """Layers ``0..k`` with layer ``k``'s activation dropped (its output is
    its pre-activation): the remaining problem when peeling stops at ``k``."""
    from ..network import Network
    return pre_activation_network(Network(network.layers[:k + 1]))


def require_dense_piecewise_linear(network, what):
    """Refuse, before any work, a generator that the method ``what`` cannot
    read: a sigmoid/tanh layer (:class:`solver.activations.NotPiecewiseLinear`)
    or a sparse (convolution) layer (:class:`solver.errors.InputError`); both
    are one line on stderr and exit status 2 at the command line."""
    for L in network.layers:
        L.activation.require_piecewise_linear(what)
        if L.is_sparse:
            raise InputError(f"{what} needs dense layers; this generator has sparse "
                             "(convolution) layers: use the default method (mip, peel)")


def output_residual(network, z, x):
    """``||G(z) - x||_inf`` by the floating-point forward pass."""
    r = network.forward(np.asarray(z, float)) - x
    return float(np.max(np.abs(r))) if len(r) else 0.0


def validate_inputs(network, x, norm, latent_box, delta, tol):
    """``(norm, x, lo, hi)`` for the arguments of :func:`solver.inversion.invert`,
    or InputError."""
    norm = check_norm(norm)
    x = validate_target(network, x)
    lo, hi = latent_box_arrays(network, latent_box)
    if delta is not None and (not np.isfinite(delta) or delta <= 0):
        raise InputError(f"delta must be > 0; got {delta!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"tol must be > 0; got {tol!r}")
    return norm, x, lo, hi
