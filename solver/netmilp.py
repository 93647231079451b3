"""MILP encodings of ReLU / leaky-ReLU / identity networks over a latent box.

A small, backend-independent model builder (:class:`MilpBuilder`) and one
encoder, :func:`encode_network`, that adds one copy of a network to a
builder. Call it twice on the same builder for two copies (for example
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
import scipy.sparse as sp

from .errors import InputError
from .activations import parse_activation

__all__ = ["MilpBuilder", "NetworkEncoding", "encode_activation", "encode_network",
           "solve_model"]


class MilpBuilder:
    """Accumulates variables and rows of ``min c.x s.t. row_lb <= A x <= row_ub,
    lb <= x <= ub, x_j integer for integrality[j]``.

    Rows are stored as COO triplets; :meth:`build` assembles a
    :class:`solver.backends.MilpModel` with a sparse ``A``.

    Examples
    --------
    >>> B = MilpBuilder()
    >>> x = B.add_vars(2, lb=0, ub=1)
    >>> d = B.add_var(0, 1, integer=True, name="d")
    >>> B.add_row([x[0], x[1], d], [1, 1, -1], hi=0)   # x0 + x1 <= d
    0
    >>> B.set_cost(x, [-1, -1])
    """

    def __init__(self):
        self.lb, self.ub, self.integer, self.names, self.cost = [], [], [], [], []
        self._rows, self._cols, self._vals = [], [], []
        self.row_lb, self.row_ub = [], []
        self.nrows = 0

    @property
    def nvars(self) -> int:
        return len(self.lb)

    # -- variables ---------------------------------------------------------
    def add_var(self, lb=-np.inf, ub=np.inf, *, integer=False, name=None, cost=0.0) -> int:
        """Add one variable; returns its index."""
        return int(self.add_vars(1, lb, ub, integer=integer,
                                 names=None if name is None else [name], cost=cost)[0])

    def add_vars(self, n, lb=-np.inf, ub=np.inf, *, integer=False, names=None, cost=0.0):
        """Add ``n`` variables (bounds/costs scalars or length-n arrays);
        returns their indices as an int array."""
        n = int(n)
        lb = np.broadcast_to(np.asarray(lb, float), (n,))
        ub = np.broadcast_to(np.asarray(ub, float), (n,))
        if np.any(np.isnan(lb)) or np.any(np.isnan(ub)):
            raise InputError("variable bound is NaN")
        if np.any(lb > ub):
            raise InputError("variable with lb > ub")
        idx = np.arange(self.nvars, self.nvars + n)
        self.lb.extend(lb.tolist())
        self.ub.extend(ub.tolist())
        self.integer.extend([bool(integer)] * n)
        self.cost.extend(np.broadcast_to(np.asarray(cost, float), (n,)).tolist())
        if names is None:
            self.names.extend([None] * n)
        else:
            if len(names) != n:
                raise ValueError("names has the wrong length")
            self.names.extend(list(names))
        return idx

    def add_binaries(self, n, *, names=None):
        """``n`` binary variables."""
        return self.add_vars(n, 0.0, 1.0, integer=True, names=names)

    def set_bounds(self, var, lb=None, ub=None):
        """Change bounds of existing variable(s)."""
        var = np.atleast_1d(var)
        for k, j in enumerate(var):
            if lb is not None:
                self.lb[j] = float(np.broadcast_to(lb, var.shape)[k])
            if ub is not None:
                self.ub[j] = float(np.broadcast_to(ub, var.shape)[k])

    def set_cost(self, var, coef):
        """Set objective coefficients (minimisation) of variable(s)."""
        var = np.atleast_1d(var)
        coef = np.broadcast_to(np.asarray(coef, float), var.shape)
        for j, c in zip(var, coef):
            self.cost[j] = float(c)

    # -- rows --------------------------------------------------------------
    def add_row(self, cols, coefs, lo=-np.inf, hi=np.inf) -> int:
        """One row ``lo <= sum coefs[k] x[cols[k]] <= hi``; returns its index."""
        cols = np.asarray(cols, dtype=int).reshape(-1)
        coefs = np.broadcast_to(np.asarray(coefs, float), cols.shape)
        self._rows.append(np.full(len(cols), self.nrows))
        self._cols.append(cols)
        self._vals.append(np.array(coefs))
        self.row_lb.append(float(lo))
        self.row_ub.append(float(hi))
        self.nrows += 1
        return self.nrows - 1

    def add_rows(self, terms, lo=-np.inf, hi=np.inf):
        """``k`` rows at once: ``terms`` is a list of ``(coef, var)`` pairs of
        length-``k`` arrays (or scalars for ``coef``); row ``r`` is
        ``lo[r] <= sum_t coef_t[r] x[var_t[r]] <= hi[r]``. Returns the row indices."""
        k = None
        for coef, var in terms:
            k = len(np.atleast_1d(var))
            break
        if k is None or k == 0:
            return np.arange(0)
        rows = np.arange(self.nrows, self.nrows + k)
        for coef, var in terms:
            var = np.asarray(var, dtype=int).reshape(-1)
            if len(var) != k:
                raise ValueError("terms of different lengths")
            self._rows.append(rows)
            self._cols.append(var)
            self._vals.append(np.array(np.broadcast_to(np.asarray(coef, float), (k,))))
        self.row_lb.extend(np.broadcast_to(np.asarray(lo, float), (k,)).tolist())
        self.row_ub.extend(np.broadcast_to(np.asarray(hi, float), (k,)).tolist())
        self.nrows += k
        return rows

    def add_matrix_rows(self, M, cols, extra=(), lo=-np.inf, hi=np.inf):
        """Rows ``lo <= M @ x[cols] + sum_t coef_t x[var_t] <= hi`` for a dense
        or sparse matrix ``M`` (``extra`` as in :meth:`add_rows`)."""
        M = sp.coo_matrix(M)
        k = M.shape[0]
        rows = np.arange(self.nrows, self.nrows + k)
        cols = np.asarray(cols, dtype=int)
        keep = M.data != 0
        self._rows.append(rows[M.row[keep]])
        self._cols.append(cols[M.col[keep]])
        self._vals.append(M.data[keep].astype(float))
        for coef, var in extra:
            var = np.asarray(var, dtype=int).reshape(-1)
            self._rows.append(rows)
            self._cols.append(var)
            self._vals.append(np.array(np.broadcast_to(np.asarray(coef, float), (k,))))
        self.row_lb.extend(np.broadcast_to(np.asarray(lo, float), (k,)).tolist())
        self.row_ub.extend(np.broadcast_to(np.asarray(hi, float), (k,)).tolist())
        self.nrows += k
        return rows

    # -- output ------------------------------------------------------------
    def matrix(self):
        """The constraint matrix as ``scipy.sparse.csr_matrix`` (nrows x nvars)."""
        if not self._rows:
            return sp.csr_matrix((0, self.nvars))
        return sp.csr_matrix((np.concatenate(self._vals),
                              (np.concatenate(self._rows), np.concatenate(self._cols))),
                             shape=(self.nrows, self.nvars))

    def build(self):
        """Assemble a :class:`solver.backends.MilpModel`."""
        from .backends import MilpModel
        names = None if all(n is None for n in self.names) else \
            [n if n is not None else f"x{j}" for j, n in enumerate(self.names)]
        return MilpModel(np.array(self.cost, float), self.matrix(),
                         np.array(self.row_lb, float), np.array(self.row_ub, float),
                         np.array(self.lb, float), np.array(self.ub, float),
                         np.array(self.integer, bool), names)

    def stats(self) -> dict:
        return {"vars": self.nvars, "rows": self.nrows, "binaries": int(sum(self.integer))}


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


def solve_model(model, backend=None, *, time_limit=None, threads=1, verbose=False):
    """Solve with a named backend (default :data:`solver.backends.DEFAULT_BACKEND`).

    ``backend`` may be a name or a backend object. Returns ``(solution, backend_name)``.
    """
    from .backends import DEFAULT_BACKEND, get_backend
    be = backend if hasattr(backend, "solve") else get_backend(backend or DEFAULT_BACKEND)
    if time_limit is not None:
        time_limit = max(0.5, float(time_limit))
    sol = be.solve(model, time_limit=time_limit, threads=threads, verbose=verbose)
    return sol, getattr(be, "name", str(backend))
