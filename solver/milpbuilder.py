"""One builder of MILP models (:class:`MilpBuilder`): variables and rows
accumulated as COO triplets, assembled into a
:class:`solver.backends.MilpModel` (plain data, solved by any backend).

Every MILP of the package is built with it: the network encodings of
:mod:`solver.netmilp` (the two-copy MILP of :mod:`solver.network.pairmilp`,
the collapse search, the inversion MIP) and the layer witness-search
formulations of :mod:`solver.formulations`. What differs between them is the
encoding (which rows), never the bookkeeping.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import InputError

__all__ = ["MilpBuilder"]


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
        self._add_terms(rows, terms)
        return self._close_rows(rows, lo, hi)

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
        self._add_terms(rows, extra)
        return self._close_rows(rows, lo, hi)

    def _add_terms(self, rows, terms):
        """``coef_t[r] x[var_t[r]]`` on each new row ``rows[r]``, for the
        ``(coef, var)`` pairs of ``terms`` (as in :meth:`add_rows`)."""
        k = len(rows)
        for coef, var in terms:
            var = np.asarray(var, dtype=int).reshape(-1)
            if len(var) != k:
                raise ValueError("terms of different lengths")
            self._rows.append(rows)
            self._cols.append(var)
            self._vals.append(np.array(np.broadcast_to(np.asarray(coef, float), (k,))))

    def _close_rows(self, rows, lo, hi):
        """The bounds ``lo <= . <= hi`` of the new rows ``rows``; returns them."""
        k = len(rows)
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
