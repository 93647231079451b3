"""MILP formulations of the non-injectivity witness search, as plain data
(:class:`solver.backends.base.MilpModel`); no engine is imported here.

Background (Puthawala et al., *Globally injective ReLU networks*, Thm 1, in
its affine form): ``x -> ReLU(W x + b)`` is injective on R^n iff for every
``x`` the *active* rows ``{i : w_i.x + b_i >= 0}`` span R^n. A witness of
non-injectivity is therefore a point ``x`` whose active rows have rank < n.

Both formulations are **search tools only**
-------------------------------------------
* A solution is a *candidate sign pattern*: :meth:`Formulation.decode` returns
  the rows with ``z_i = 1``, and the caller must re-check it exactly (e.g.
  :func:`solver.witness.witness_from_active_set`). Engine tolerances (1e-6 on
  rows, on integrality) against big-M constants of size ``box * ||w_i||_1``
  can yield patterns that no point realises.
* An "infeasible" answer proves **nothing**: the search is confined to the box
  ``[-box, box]^n`` and to points whose inactive rows are at least ``margin``
  below zero, while bad cells may be unbounded-but-thin, lie outside any box,
  or exist only where some inactive row is within ``margin`` of zero.

Big-M constants are never guessed: each row is scaled to unit l1 norm
(``a_i = w_i / ||w_i||_1``, ``c_i = b_i / ||w_i||_1``, same sign as
``w_i.x + b_i``); for ``x`` in the box, ``a_i.x + c_i`` lies in
``[c_i - box, c_i + box]`` (interval arithmetic, widened by a few ulps), and
``|a_i.v| <= 1`` for ``||v||_inf <= 1``.

Numerics (measured: the literal big-M model is unusable)
---------------------------------------------------------
Engines accept ``z_i`` within ~1e-6 of an integer and rows within ~1e-6.
Against a big-M of ``box * ||w_i||_1 = 1e3`` that is a leak of ~1e-3, far
above a margin of 1e-6: with the literal model CBC and HiGHS return
"solutions" for ``W = [1; -1]`` (injective) with ``x = 1e-6`` and no active
row. So the margin applies to the scaled row (``|a_i.x + c_i|`` is the
l-infinity distance from ``x`` to the row's hyperplane) and the margin of row
``i`` is ``mu_i = max(margin, rel_margin * M_i, 1e-5)``, with
``M_i = box + |c_i|`` its big-M (see :attr:`Formulation.row_margin`).
Then a tolerance-level ``z_i = 0`` row is still strictly negative at ``x``, and
a tolerance-level ``z_i = 1`` row is at worst slightly negative, so the
decoded set *contains* the true active set at ``x``: its rank deficiency
carries over. The kernel rows keep a ~1e-6 slack, harmless for rows whose
smallest singular value is far above 1e-6 (e.g. small integer rows).

Zero rows (``w_i = 0``) never contribute to a span: they get no constraint,
and their ``z_i`` is fixed to their exact sign (1 iff ``b_i >= 0``).

The models are built with :class:`solver.milpbuilder.MilpBuilder`, the
builder of the network encodings too (:mod:`solver.netmilp`); the encodings
differ on purpose: a row here has no output variable, is scaled to unit l1
norm and keeps a margin below zero when inactive (above), whereas
:func:`solver.netmilp.encode_activation` encodes ``u = act(y)`` exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .backends.base import MilpModel
from .errors import InputError
from .io import validate_layer
from .milpbuilder import MilpBuilder

__all__ = ["Formulation", "rank_deficient_milp", "few_active_milp"]

_WIDEN = 1e-12  # relative widening of interval bounds (floating-point rounding)
#: default relative margin: 10x the engines' integrality tolerance (1e-6)
REL_MARGIN = 1e-5
#: absolute floor of a row's margin: 10x the engines' row tolerance (1e-6)
ABS_MARGIN = 1e-5


@dataclass(frozen=True, eq=False)
class Formulation:
    """A witness-search MILP together with the map back to the layer.

    Attributes
    ----------
    model : the MILP (see :mod:`solver.backends.base`).
    n, m : the layer's input dimension and number of rows.
    x_index : (n,) column indices of the point ``x``.
    v_index : (n,) column indices of the kernel vector ``v`` (empty for
        :func:`few_active_milp`).
    z_index : (m,) column indices of the activity binaries ``z``.
    kind : ``"rankdef"`` or ``"fewactive"``.
    box, margin : the search parameters the model was built with.
    row_margin : (m,) effective margin of each row, on the row scaled to unit
        l1 norm (see "Numerics" in the module docstring); 0 for zero rows.
    """

    model: MilpModel
    n: int
    m: int
    x_index: np.ndarray
    v_index: np.ndarray
    z_index: np.ndarray
    kind: str
    box: float
    margin: float
    row_margin: np.ndarray

    def _vec(self, solution_x) -> np.ndarray:
        s = np.asarray(solution_x, dtype=np.float64)
        if s.shape != (self.model.num_vars,):
            raise InputError(f"solution vector must have shape ({self.model.num_vars},); "
                             f"got {s.shape}")
        return s

    def decode(self, solution_x) -> tuple[int, ...]:
        """Indices of the rows with ``z_i = 1`` (the candidate active set).

        Parameters
        ----------
        solution_x : the full MILP solution vector (``MilpSolution.x``).

        Returns
        -------
        Sorted tuple of row indices; binaries are rounded at 0.5.
        """
        z = self._vec(solution_x)[self.z_index]
        return tuple(int(i) for i in np.flatnonzero(z > 0.5))

    def x_part(self, solution_x) -> np.ndarray:
        """The point ``x`` (n,) of a MILP solution vector."""
        return self._vec(solution_x)[self.x_index].copy()

    def v_part(self, solution_x) -> np.ndarray | None:
        """The kernel direction ``v`` (n,), or None for ``"fewactive"``."""
        if self.v_index.size == 0:
            return None
        return self._vec(solution_x)[self.v_index].copy()


def _check_params(box, margin, rel_margin):
    try:
        box, margin, rel_margin = float(box), float(margin), float(rel_margin)
    except (TypeError, ValueError):
        raise InputError(f"box, margin and rel_margin must be numbers; "
                         f"got {box!r}, {margin!r}, {rel_margin!r}") from None
    if not (np.isfinite(box) and box > 0):
        raise InputError(f"box must be a finite number > 0; got {box!r}")
    if not (np.isfinite(margin) and margin >= 0):
        raise InputError(f"margin must be a finite number >= 0; got {margin!r}")
    if not (np.isfinite(rel_margin) and 0 <= rel_margin < 1):
        raise InputError(f"rel_margin must be a number in [0, 1); got {rel_margin!r}")
    return box, margin, rel_margin


def _named_vars(B, k, lb, ub, integer, prefix):
    """``k`` variables named ``prefix0, prefix1, ...`` (the names are diagnostics only)."""
    return B.add_vars(k, lb, ub, integer=integer, names=[f"{prefix}{j}" for j in range(k)])


class _Rows:
    """Rows scaled to unit l1 norm and their interval data over the box.

    For a non-zero row, ``a_i = w_i / ||w_i||_1``, ``c_i = b_i / ||w_i||_1``;
    over ``[-box, box]^n`` the value ``a_i.x + c_i`` lies in ``[L_i, U_i]`` =
    ``[c_i - box, c_i + box]`` (interval arithmetic, widened by a few ulps).
    ``mu_i`` is the row's effective margin, ``always_on`` / ``always_off``
    rows have a sign forced by the box, ``zero`` rows are ``w_i = 0``.
    """

    def __init__(self, W, b, box, margin, rel_margin):
        norm1 = np.abs(W).sum(axis=1)
        self.zero = norm1 == 0
        scale = np.where(self.zero, 1.0, norm1)
        self.a = W / scale[:, None]
        self.c = b / scale
        widen = _WIDEN * (np.abs(self.c) + box)
        self.L = self.c - box - widen
        self.U = self.c + box + widen
        self.mu = np.maximum.reduce([np.full_like(self.c, margin),
                                     rel_margin * (box + np.abs(self.c)),
                                     np.full_like(self.c, ABS_MARGIN)])
        self.mu[self.zero] = 0.0
        self.always_on = ~self.zero & (self.L >= 0)
        self.always_off = ~self.zero & (self.U <= -self.mu)
        # z_i fixed by the data: zero rows by the sign of b_i, others by the box
        self.z_lb = np.where(self.always_on | (self.zero & (b >= 0)), 1.0, 0.0)
        self.z_ub = np.where(self.always_off | (self.zero & (b < 0)), 0.0, 1.0)

    def add_rows(self, B, x_idx, z_idx, v_idx=None):
        """Every row's constraints, row after row, in one vectorised call:

        * a free row (its sign not forced by the box) gets the indicator rows
          ``z_i = 1 => a_i.x + c_i >= 0`` as ``a_i.x + L_i z_i >= L_i - c_i``
          and ``z_i = 0 => a_i.x + c_i <= -mu_i`` as
          ``a_i.x - (U_i + mu_i) z_i <= -mu_i - c_i``;
        * with ``v_idx``, every row that can be active (not zero, not
          always off) then gets the kernel rows ``-(1 - z_i) <= a_i.v <=
          1 - z_i`` (widened by ``_WIDEN``) as ``a_i.v + N z_i <= N`` and
          ``a_i.v - N z_i >= -N``.

        (Row by row with ``MilpBuilder.add_row`` this took 0.4 s on a 3000 x 30
        layer, 1.6-2.4 s on the loaded 2-core machine: too long for a step
        that cannot be interrupted before the time limit.)"""
        free = ~(self.zero | self.always_on | self.always_off)
        kernel = ~(self.zero | self.always_off) if v_idx is not None else np.zeros_like(free)
        owner_of = np.flatnonzero(free | kernel)
        per_row = 2 * free[owner_of] + 2 * kernel[owner_of]
        if not per_row.sum():
            return
        owner = np.repeat(owner_of, per_row)
        first = np.repeat(np.cumsum(per_row) - per_row, per_row)
        # kind of each model row: 0, 1 the sign rows, 2, 3 the kernel rows
        kind = np.arange(per_row.sum()) - first + 2 * ~np.repeat(free[owner_of], per_row)
        N = 1.0 + _WIDEN
        L, U, mu, c = self.L[owner], self.U[owner], self.mu[owner], self.c[owner]
        zcoef = np.choose(kind, [L, -(U + mu), np.full_like(L, N), np.full_like(L, -N)])
        lo = np.choose(kind, [L - c, np.full_like(L, -np.inf), np.full_like(L, -np.inf),
                              np.full_like(L, -N)])
        hi = np.choose(kind, [np.full_like(L, np.inf), -mu - c, np.full_like(L, N),
                              np.full_like(L, np.inf)])
        n = self.a.shape[1]
        T = len(owner)
        # the a_i part: on x (kinds 0, 1) or on v (kinds 2, 3), as a T x 2n matrix
        M = sp.csr_matrix((self.a[owner].ravel(),
                           (np.repeat(np.arange(T), n),
                            (np.arange(n)[None, :] + n * (kind >= 2)[:, None]).ravel())),
                          shape=(T, 2 * n))
        cols = np.r_[x_idx, x_idx if v_idx is None else v_idx]
        B.add_matrix_rows(M, cols, extra=[(zcoef, z_idx[owner])], lo=lo, hi=hi)


def rank_deficient_milp(W, b=None, *, box: float = 1e3, margin: float = 1e-6,
                        rel_margin: float = REL_MARGIN) -> Formulation:
    """MILP whose solutions are candidate points with rank-deficient active rows.

    Variables: ``x`` in ``[-box, box]^n``, ``v`` in ``[-1, 1]^n``, binaries
    ``p_k`` (``v_k = 1``) and ``z_i`` (row ``i`` active). Constraints::

        sum_k p_k = 1,   v_k >= -1 + 2 p_k          (so ||v||_inf = 1)
        z_i = 1  =>  w_i.x + b_i >= 0
        z_i = 0  =>  w_i.x + b_i <= -mu_i ||w_i||_1   (mu_i >= margin, see below)
        z_i = 1  =>  w_i.v = 0      (|w_i.v| <= ||w_i||_1 (1 - z_i))

    so the rows with ``z_i = 1`` are exactly the active rows at ``x`` and
    ``v != 0`` lies in their kernel: rank < n, a violation of the spanning
    condition of Puthawala et al., *Globally injective ReLU networks*, Thm 1.
    Since ``v`` and ``-v`` are both kernel vectors, the largest coordinate is
    taken to be ``+1`` (one family of binaries ``p`` instead of two), which
    halves the search without losing solutions. Objective: 0 (feasibility).

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None (zeros).
    box : half-width of the search box for ``x`` (> 0).
    margin : how far below zero an inactive row must be, on the row scaled to
        unit l1 norm (>= 0).
    rel_margin : the margin actually used for row ``i`` is
        ``max(margin, rel_margin * M_i, 1e-5)`` with ``M_i`` its big-M; see
        "Numerics" in the module docstring (the per-row values are
        ``Formulation.row_margin``).

    Returns
    -------
    Formulation (``kind="rankdef"``). Search tool only: a solution must be
    re-checked exactly, and infeasibility proves nothing (module docstring).

    Raises
    ------
    InputError for bad shapes, NaN/inf, ``box <= 0`` or ``margin < 0``.
    """
    W, b = validate_layer(W, b)
    box, margin, rel_margin = _check_params(box, margin, rel_margin)
    m, n = W.shape
    R = _Rows(W, b, box, margin, rel_margin)
    B = MilpBuilder()
    x_idx = _named_vars(B, n, -box, box, False, "x")
    v_idx = _named_vars(B, n, -1.0, 1.0, False, "v")
    p_idx = _named_vars(B, n, 0.0, 1.0, True, "p")
    z_idx = _named_vars(B, m, R.z_lb, R.z_ub, True, "z")
    B.add_row(p_idx, np.ones(n), 1.0, 1.0)
    for k in range(n):
        B.add_row([v_idx[k], p_idx[k]], [1.0, -2.0], -1.0, np.inf)
    R.add_rows(B, x_idx, z_idx, v_idx)   # sign rows, then kernel rows (||a_i||_1 = 1)
    return Formulation(B.build(), n, m, x_idx, v_idx, z_idx, "rankdef", box, margin, R.mu)


def few_active_milp(W, b=None, *, box: float = 1e3, margin: float = 1e-6,
                    rel_margin: float = REL_MARGIN, minimize_active: bool = False) -> Formulation:
    """MILP whose solutions are points with fewer than n active non-zero rows.

    Variables: ``x`` in ``[-box, box]^n`` and binaries ``z_i``::

        z_i = 1  =>  w_i.x + b_i >= 0
        z_i = 0  =>  w_i.x + b_i <= -mu_i ||w_i||_1   (mu_i >= margin)
        sum_{i : w_i != 0} z_i <= n - 1

    Fewer than n rows can never span R^n, so every exact solution is a
    witness (Puthawala et al., *Globally injective ReLU networks*, Thm 1).
    The converse holds only for rows in **general position** (every n of
    them linearly independent): then rank-deficient active sets are exactly
    the ones with fewer than n rows. Otherwise (parallel rows, rows in a
    common hyperplane) a non-injective layer may have no such point, and this
    MILP misses it; :func:`rank_deficient_milp` does not have that blind spot.

    Parameters
    ----------
    W : (m, n) array; b : (m,) array or None (zeros).
    box, margin, rel_margin : as in :func:`rank_deficient_milp`.
    minimize_active : if True the objective is ``sum z_i`` over non-zero rows
        (a maximum-feasible-subsystem flavour: the engine then also tries to
        prove the fewest-active point optimal, which costs time); by default
        the objective is 0 and the first point found ends the search.

    Returns
    -------
    Formulation (``kind="fewactive"``, empty ``v_index``). Search tool only.

    Raises
    ------
    InputError for bad shapes, NaN/inf, ``box <= 0`` or ``margin < 0``.
    """
    W, b = validate_layer(W, b)
    box, margin, rel_margin = _check_params(box, margin, rel_margin)
    m, n = W.shape
    R = _Rows(W, b, box, margin, rel_margin)
    B = MilpBuilder()
    x_idx = _named_vars(B, n, -box, box, False, "x")
    z_idx = _named_vars(B, m, R.z_lb, R.z_ub, True, "z")
    R.add_rows(B, x_idx, z_idx)
    counted = z_idx[~R.zero]
    B.add_row(counted, np.ones(counted.size), -np.inf, n - 1)
    if minimize_active:
        B.set_cost(counted, 1.0)
    return Formulation(B.build(), n, m, x_idx, np.zeros(0, dtype=np.int64), z_idx,
                       "fewactive", box, margin, R.mu)
