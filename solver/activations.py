"""Elementwise activations as a typed value (:class:`Activation`).

Every method of the package that depends on the activation asks this type
(is it piecewise linear? strictly monotone? what is its range? its
negative-side slope?) instead of comparing strings.

Supported: ``relu``, ``identity``, ``leaky_relu:<slope>`` (``t`` for
``t > 0``, ``slope * t`` otherwise; slope 0 is ``relu``, slope 1 is
``identity``), ``sigmoid`` (``1 / (1 + exp(-t))``) and ``tanh``.

The first three are piecewise linear: their exact forward pass on rationals
is exact (:meth:`Activation.exact`). ``sigmoid`` and ``tanh`` are not
(their values at rationals are irrational), but they are strictly
increasing, so ``act(s) == act(t)`` iff ``s == t``: exact witness checks
through them compare pre-activations instead (:meth:`Activation.injective`).

The text form (``str(act)``, the ``activations`` array of a network
``.npz``) round-trips through :func:`parse_activation`. ONNX operators and
torch modules map to activations through :func:`from_onnx` and
:func:`from_torch`.

Examples
--------
>>> a = parse_activation("leaky_relu:0.1")
>>> a.piecewise_linear, a.injective, a.slope, str(a)
(True, True, 0.1, 'leaky_relu:0.1')
>>> parse_activation("leaky_relu:0") is RELU
True
>>> SIGMOID.forward(np.array([0.0])), SIGMOID.range
(array([0.5]), (0.0, 1.0))
>>> TANH.exact([Fraction(0)])
Traceback (most recent call last):
...
solver.activations.NotPiecewiseLinear: tanh is not piecewise linear: its exact forward pass is not rational; compare pre-activations instead
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .errors import InputError

__all__ = ["Activation", "NotPiecewiseLinear", "RELU", "IDENTITY", "SIGMOID", "TANH",
           "leaky_relu", "parse_activation", "from_onnx", "from_torch", "ONNX_ACTIVATIONS"]

_KINDS = ("relu", "identity", "leaky_relu", "sigmoid", "tanh")
_LEAKY = re.compile(r"^leaky_relu:([0-9eE+\-.]+)$")


class NotPiecewiseLinear(InputError):
    """A method that needs a piecewise linear activation met sigmoid or tanh."""


@dataclass(frozen=True, eq=False)
class Activation:
    """One elementwise activation (immutable; compare with ``==``, hash).

    Attributes
    ----------
    kind : one of ``relu``, ``identity``, ``leaky_relu``, ``sigmoid``, ``tanh``.
    negative_slope : for ``leaky_relu`` its slope on ``t < 0`` (finite, > 0,
        != 1); None otherwise. Use :attr:`slope`, which is defined for every
        piecewise linear kind.

    Build values with :func:`parse_activation`, :func:`leaky_relu` or the
    constants :data:`RELU`, :data:`IDENTITY`, :data:`SIGMOID`, :data:`TANH`.
    Comparing an Activation with a string raises ``TypeError`` on purpose
    (a leftover string comparison would otherwise be silently false).
    """
    kind: str
    negative_slope: float | None = None

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise InputError(f"unknown activation kind {self.kind!r}")
        if (self.kind == "leaky_relu") != (self.negative_slope is not None):
            raise InputError("leaky_relu needs a slope, other activations take none")
        if self.kind == "leaky_relu" and not (np.isfinite(self.negative_slope)
                                              and self.negative_slope > 0
                                              and self.negative_slope != 1):
            raise InputError(f"leaky_relu slope must be finite, > 0 and != 1; got "
                             f"{self.negative_slope!r} (0 is relu, 1 is identity)")

    # -- identity and text ------------------------------------------------
    def __str__(self):
        if self.kind == "leaky_relu":
            return f"leaky_relu:{self.negative_slope!r}"
        return self.kind

    def __repr__(self):
        return f"Activation({str(self)!r})"

    def __eq__(self, other):
        if isinstance(other, Activation):
            return (self.kind, self.negative_slope) == (other.kind, other.negative_slope)
        if isinstance(other, str):
            raise TypeError("compare an Activation with an Activation (parse_activation(s)) "
                            "or ask its properties, not with a string")
        return NotImplemented

    def __hash__(self):
        return hash((self.kind, self.negative_slope))

    def to_json(self) -> str:
        return str(self)

    # -- properties the methods branch on -----------------------------------
    @property
    def piecewise_linear(self) -> bool:
        """relu, identity and leaky ReLU: exact forward passes, MILP encodings,
        activation regions."""
        return self.kind in ("relu", "identity", "leaky_relu")

    @property
    def is_identity(self) -> bool:
        return self.kind == "identity"

    @property
    def is_relu(self) -> bool:
        return self.kind == "relu"

    @property
    def injective(self) -> bool:
        """Strictly increasing on R (every kind but relu): ``act(s) == act(t)``
        iff ``s == t``, so a layer ``act(W x + b)`` is injective on a set D
        iff ``x -> W x + b`` is."""
        return self.kind != "relu"

    @property
    def slope(self) -> float:
        """Negative-side slope of a piecewise linear activation: 0 (relu), 1
        (identity) or the leaky slope.

        Raises
        ------
        NotPiecewiseLinear for sigmoid and tanh.
        """
        if self.kind == "relu":
            return 0.0
        if self.kind == "identity":
            return 1.0
        if self.kind == "leaky_relu":
            return self.negative_slope
        raise NotPiecewiseLinear(f"{self} is not piecewise linear: this method needs relu, "
                                 "identity or leaky_relu")

    def require_piecewise_linear(self, what: str) -> "Activation":
        """Return self, or raise :class:`NotPiecewiseLinear` naming ``what``
        (the method or layer that needs a piecewise linear activation)."""
        if not self.piecewise_linear:
            raise NotPiecewiseLinear(f"{what} needs piecewise linear activations (relu, "
                                     f"identity, leaky_relu); got {self}")
        return self

    @property
    def range(self) -> tuple:
        """``(lo, hi)`` of the image (``-inf``/``inf`` when unbounded): relu
        ``[0, inf)``, sigmoid ``(0, 1)``, tanh ``(-1, 1)``, the others R.
        The bounded ends of sigmoid and tanh are never attained
        (:attr:`range_open`)."""
        return {"relu": (0.0, np.inf), "sigmoid": (0.0, 1.0),
                "tanh": (-1.0, 1.0)}.get(self.kind, (-np.inf, np.inf))

    @property
    def range_open(self) -> bool:
        """True when the finite ends of :attr:`range` are not attained."""
        return self.kind in ("sigmoid", "tanh")

    @property
    def nonneg_output(self) -> bool:
        """Outputs are >= 0 (relu, sigmoid): the next layer's inputs lie in the
        non-negative orthant (Remark 1 of Puthawala et al.)."""
        return self.range[0] >= 0

    def output_set(self, k: int) -> str:
        """The set the ``k`` outputs lie in, as text: ``R^k``, ``[0, inf)^k``,
        ``(0, 1)^k`` or ``(-1, 1)^k``."""
        lo, hi = self.range
        if lo == -np.inf:
            return f"R^{k}"
        if hi == np.inf:
            return f"[0, inf)^{k}"
        return f"({lo:g}, {hi:g})^{k}"

    # -- evaluation ---------------------------------------------------------
    def forward(self, y):
        """Float forward pass (NumPy array in, array out)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "identity":
            return y.copy()
        if self.kind == "sigmoid":
            from scipy import special   # deferred: scipy.special costs ~0.3 s to import
            return special.expit(y)   # overflow-free, unlike 1 / (1 + exp(-y))
        if self.kind == "tanh":
            return np.tanh(y)
        return np.where(y > 0, y, self.slope * y)

    def exact(self, values) -> list:
        """Exact forward pass on rationals (piecewise linear kinds; the slope
        is its exact binary64 value).

        Raises
        ------
        NotPiecewiseLinear for sigmoid and tanh (compare pre-activations).
        """
        if not self.piecewise_linear:
            raise NotPiecewiseLinear(f"{self} is not piecewise linear: its exact forward pass "
                                     "is not rational; compare pre-activations instead")
        if self.kind == "identity":
            return list(values)
        a = Fraction(self.slope)
        return [v if v > 0 else a * v for v in values]

    def inverse(self, y):
        """Float preimage of outputs ``y`` (injective kinds): ``t / slope`` on
        the negative side of a leaky ReLU, ``logit`` for sigmoid, ``atanh``
        for tanh. Values outside the open range give ``+-inf`` or NaN.

        Raises
        ------
        InputError for relu (not injective).
        """
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "relu":
            raise InputError("relu is not injective: it has no inverse")
        if self.kind == "identity":
            return y.copy()
        if self.kind == "sigmoid":
            with np.errstate(divide="ignore", invalid="ignore"):
                from scipy import special
                return special.logit(y)
        if self.kind == "tanh":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.arctanh(y)
        return np.where(y > 0, y, y / self.slope)

    def bounds(self, lo, hi):
        """Bounds of the outputs from bounds ``lo <= y <= hi`` of the inputs
        (every kind is non-decreasing). For sigmoid and tanh the float values
        are widened by one ulp each way and clipped to the range, so floating
        point rounding cannot make them too tight."""
        flo, fhi = self.forward(lo), self.forward(hi)
        if not self.piecewise_linear:
            rlo, rhi = self.range
            flo = np.maximum(np.nextafter(flo, -np.inf), rlo)
            fhi = np.minimum(np.nextafter(fhi, np.inf), rhi)
        return flo, fhi


RELU = Activation("relu")
IDENTITY = Activation("identity")
SIGMOID = Activation("sigmoid")
TANH = Activation("tanh")


def leaky_relu(slope) -> Activation:
    """The leaky ReLU with negative-side ``slope`` (>= 0, finite): ``RELU``
    for 0, ``IDENTITY`` for 1.

    Raises
    ------
    InputError for a negative, NaN or infinite slope.
    """
    try:
        s = float(slope)
    except (TypeError, ValueError):
        s = float("nan")
    if not np.isfinite(s) or s < 0:
        raise InputError(f"leaky_relu slope must be a finite number >= 0; got {slope!r}")
    if s == 0:
        return RELU
    if s == 1:
        return IDENTITY
    return Activation("leaky_relu", s)


def parse_activation(s) -> Activation:
    """An :class:`Activation` from its text form (case and surrounding blanks
    ignored): ``relu``, ``identity``, ``leaky_relu:<slope>``, ``sigmoid``,
    ``tanh``. An Activation is returned unchanged.

    Raises
    ------
    InputError naming the text for anything else.

    Examples
    --------
    >>> parse_activation(" Sigmoid ") == SIGMOID
    True
    >>> str(parse_activation("leaky_relu:1"))
    'identity'
    """
    if isinstance(s, Activation):
        return s
    t = str(s).strip().lower()
    simple = {"relu": RELU, "identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH}
    if t in simple:
        return simple[t]
    m = _LEAKY.match(t)
    if m:
        return leaky_relu(m.group(1))
    raise InputError(f"unknown activation {t!r}; expected relu, identity, leaky_relu:<slope>, "
                     "sigmoid or tanh")


#: ONNX operators that are activations (default domain)
ONNX_ACTIVATIONS = ("Relu", "LeakyRelu", "Sigmoid", "Tanh")


def from_onnx(op: str, attrs: dict, where: str) -> Activation:
    """The activation of an ONNX node ``op`` with attributes ``attrs``.

    Raises
    ------
    InputError naming the node (``where``) for a bad ``LeakyRelu`` alpha.
    """
    if op == "Relu":
        return RELU
    if op == "Sigmoid":
        return SIGMOID
    if op == "Tanh":
        return TANH
    if op == "LeakyRelu":
        alpha = float(attrs.get("alpha", 0.01))
        if not np.isfinite(alpha) or alpha < 0:
            raise InputError(f"LeakyRelu at {where}: alpha must be finite and >= 0, got {alpha}")
        return leaky_relu(alpha)
    raise InputError(f"{op} at {where} is not an activation")


def from_torch(module, nn, where: str) -> Activation | None:
    """The activation of a torch module (``nn`` is ``torch.nn``), or None if
    the module is not one of ReLU, LeakyReLU, Sigmoid, Tanh.

    Raises
    ------
    InputError naming the module (``where``) for a bad negative slope.
    """
    if isinstance(module, nn.ReLU):
        return RELU
    if isinstance(module, nn.Sigmoid):
        return SIGMOID
    if isinstance(module, nn.Tanh):
        return TANH
    if isinstance(module, nn.LeakyReLU):
        s = float(module.negative_slope)
        if not np.isfinite(s) or s < 0:
            raise InputError(f"LeakyReLU at {where}: negative_slope must be >= 0, got {s}")
        return leaky_relu(s)
    return None
