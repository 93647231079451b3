"""PuLP backends: ``"pulp-cbc"`` (the CBC binary bundled with PuLP, run as a
subprocess) and ``"pulp-highs"`` (PuLP's in-process HiGHS, i.e. highspy).

Facts measured with PuLP 3.3 (they shape the status tables below):

* PuLP reports a pair ``(status, sol_status)``. For CBC, an infeasible MILP
  comes back as ``(-1, 0)`` ("Integer infeasible": status Infeasible,
  solution status NoSolutionFound), easy to misread as a timeout; a time limit
  *with* an incumbent comes back as ``(1, 2)``: status "Optimal"(!) with
  solution status IntegerFeasible; a time limit without incumbent is
  ``(0, 0)``. Only the pair is meaningful, so the CBC table is keyed on it.
* ``PULP_CBC_CMD`` warns that it is deprecated (PuLP 4.0); we run the same
  bundled binary through ``COIN_CMD(path=...)``, or a ``cbc`` on ``PATH``.
* PuLP's HiGHS interface needs highspy, which PuLP imports *when PuLP itself is
  imported*, inside a bare ``try``. highspy and ortools both ship libhighs and
  cannot be loaded in one process: after ortools is loaded, PuLP reports HiGHS
  as "Not Available" (and ``available()`` here says False), and if highspy was
  loaded first, ortools is the one that breaks. If highspy is not installed,
  ``"pulp-highs"`` is simply unavailable (checked without importing anything).
  Measured both ways with highspy 1.x installed next to ortools 9.15: the
  second import fails with ``ImportError: undefined symbol`` (no crash).
  So that ``"pulp-cbc"`` never silently disables the default ortools engines,
  it loads ortools before PuLP when highspy is installed and not yet loaded
  ("ortools wins"); only an explicit first use of ``"pulp-highs"`` in a
  process gives libhighs to highspy.
* PuLP's own HiGHS status mapping folds time limits into "Optimal" and
  "unbounded or infeasible" into "Infeasible", so ``"pulp-highs"`` reads the
  HiGHS model status from the highspy object PuLP keeps (``lp.solverModel``).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import warnings

import numpy as np

from .base import (INFEASIBLE_OR_UNBOUNDED, UNBOUNDED_UNVERIFIED, MilpModel, MilpStatus,
                   RawResult, TemplateBackend, time_left)

__all__ = ["PulpCbcBackend", "PulpHighsBackend"]

#: pseudo-status in the tables: a limit stopped the engine; FEASIBLE if it
#: kept an incumbent, else TIME_LIMIT.
_LIMIT = "limit"

#: THE status table of ``"pulp-cbc"``: PuLP's (status, sol_status) -> MilpStatus.
#: status: 1 Optimal, 0 Not Solved, -1 Infeasible, -2 Unbounded, -3 Undefined;
#: sol_status: 1 Optimal, 2 IntegerFeasible, 0 NoSolutionFound, -1 Infeasible,
#: -2 Unbounded. CBC's own first line of its solution file is in the message.
PULP_CBC_STATUS = {
    (1, 1): MilpStatus.OPTIMAL,              # "Optimal - objective value ..."
    (1, 2): MilpStatus.FEASIBLE,             # "Stopped on time - objective value ...": incumbent
    (0, 0): MilpStatus.TIME_LIMIT,           # "Stopped on ..." without an integer solution
    (-1, 0): INFEASIBLE_OR_UNBOUNDED,        # "Integer infeasible ...": a MILP proved infeasible
    (-1, -1): INFEASIBLE_OR_UNBOUNDED,       # "Infeasible ...": the relaxation is infeasible
    (-2, -2): UNBOUNDED_UNVERIFIED,          # "Unbounded ...": of the LP relaxation, maybe
    (-3, 0): MilpStatus.ERROR,               # Undefined: unrecognised first line
}
# CBC can call a continuous-unbounded relaxation "infeasible" (see ortools'
# cbc_interface), hence INFEASIBLE_OR_UNBOUNDED, resolved by the base class
# at no cost when every variable is bounded. Conversely CBC calls a MILP
# "unbounded" as soon as its LP relaxation is, integer points or not
# (measured: 3x - 3y = 1, x, y free integers), hence UNBOUNDED_UNVERIFIED,
# confirmed by a feasibility solve.

#: THE status table of ``"pulp-highs"``: HiGHS model status name -> MilpStatus.
HIGHS_MODEL_STATUS = {
    "kOptimal": MilpStatus.OPTIMAL,
    "kInfeasible": MilpStatus.INFEASIBLE,
    "kUnboundedOrInfeasible": INFEASIBLE_OR_UNBOUNDED,
    "kUnbounded": MilpStatus.UNBOUNDED,
    "kTimeLimit": _LIMIT,
    "kIterationLimit": _LIMIT,
    "kSolutionLimit": _LIMIT,
    "kInterrupt": _LIMIT,
    "kMemoryLimit": _LIMIT,
    "kObjectiveBound": _LIMIT,
    "kObjectiveTarget": _LIMIT,
    "kModelEmpty": MilpStatus.OPTIMAL,
    "kNotset": MilpStatus.ERROR,
    "kLoadError": MilpStatus.ERROR,
    "kModelError": MilpStatus.ERROR,
    "kPresolveError": MilpStatus.ERROR,
    "kSolveError": MilpStatus.ERROR,
    "kPostsolveError": MilpStatus.ERROR,
    "kUnknown": MilpStatus.ERROR,
}


def _orphan_value(lo: float, hi: float, integer: bool) -> float:
    """A point of ``[lo, hi]`` (integral if asked), as close to 0 as possible."""
    v = min(max(0.0, lo), hi)
    if integer:  # an integer lies in [lo, hi] (checked up front), so one of these does
        v = float(np.ceil(v)) if np.ceil(v) <= hi else float(np.floor(v))
    return v


def _build_problem(model: MilpModel):
    """The model as a ``pulp.LpProblem``; returns (problem, variables), with
    ``None`` in place of the *orphan* variables (no row, zero cost).

    Measured: PuLP writes MPS bounds for variables that appear in no row and
    not in the objective, and CBC rejects the file ("No match for column");
    so orphans are left out and get a value of their own (see ``_values``).
    """
    import pulp

    def bound(v):
        return float(v) if np.isfinite(v) else None

    prob = pulp.LpProblem("milp", pulp.LpMinimize)
    make = getattr(prob, "add_variable", None) or pulp.LpVariable  # PuLP >= 3.3 / older
    orphan = (np.diff(model.A.tocsc().indptr) == 0) & (model.c == 0)
    with warnings.catch_warnings():
        # PuLP 3.3 flags its pre-4.0 API; the replacement does not attach
        # variables yet
        warnings.simplefilter("ignore", DeprecationWarning)
        xs = [None if orphan[j] else
              make(f"x{j}", bound(model.lb[j]), bound(model.ub[j]),
                   pulp.LpInteger if model.integrality[j] else pulp.LpContinuous)
              for j in range(model.num_vars)]
        prob.addVariables([v for v in xs if v is not None])
        pad = make("pad", 0.0, 1.0, pulp.LpContinuous)
    nz = np.flatnonzero(model.c)
    prob.setObjective(pulp.LpAffineExpression([(xs[j], float(model.c[j])) for j in nz]))
    A = model.A
    n_rows = 0
    for i in range(model.num_rows):
        lo, hi = model.row_lb[i], model.row_ub[i]
        cols, vals = A.indices[A.indptr[i]:A.indptr[i + 1]], A.data[A.indptr[i]:A.indptr[i + 1]]
        if cols.size == 0 or (np.isneginf(lo) and np.isposinf(hi)):
            continue  # empty rows were checked by TemplateBackend.trivially_infeasible
        terms = [(xs[j], float(a)) for j, a in zip(cols.tolist(), vals.tolist())]
        n_rows += 1
        if lo == hi:
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms),
                                                 pulp.LpConstraintEQ, f"r{i}", float(lo)))
            continue
        if np.isfinite(lo):
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms),
                                                 pulp.LpConstraintGE, f"r{i}l", float(lo)))
        if np.isfinite(hi):
            prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression(terms),
                                                 pulp.LpConstraintLE, f"r{i}u", float(hi)))
    if n_rows == 0:
        # measured: CBC (through PuLP) also fails on a model with no row and a
        # zero objective; one redundant row on a private variable avoids it
        prob.addConstraint(pulp.LpConstraint(pulp.LpAffineExpression([(pad, 1.0)]),
                                             pulp.LpConstraintLE, "pad", 1.0))
    return prob, xs


def _values(model: MilpModel, xs) -> np.ndarray | None:
    out = np.empty(model.num_vars)
    for j, v in enumerate(xs):
        if v is None:
            out[j] = _orphan_value(model.lb[j], model.ub[j], bool(model.integrality[j]))
        elif v.varValue is None:
            return None
        else:
            out[j] = v.varValue
    return out


def _import_pulp_for_cbc():
    """Import PuLP for the CBC backend without letting it claim libhighs:
    if highspy is installed and not loaded, load ortools first, so PuLP's
    optional ``import highspy`` fails cleanly instead of breaking ortools."""
    if ("pulp" not in sys.modules and "highspy" not in sys.modules
            and importlib.util.find_spec("highspy") is not None):
        try:
            import ortools.linear_solver.pywraplp  # noqa: F401
        except Exception:
            pass
    import pulp
    return pulp


def _cbc_path() -> str | None:
    """A CBC executable: ``cbc`` on PATH, else the binary bundled with PuLP."""
    found = shutil.which("cbc")
    if found:
        return found
    try:
        from pulp.apis import coin_api
        path = os.path.normpath(getattr(coin_api, "pulp_cbc_path", ""))
    except Exception:
        return None
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


class PulpCbcBackend(TemplateBackend):
    """CBC through PuLP (a subprocess reading an MPS file).

    The time limit is passed as ``-sec`` with ``timeMode elapsed`` (wall clock).
    """

    name = "pulp-cbc"
    _available: bool | None = None

    def available(self) -> bool:
        cls = type(self)
        if cls._available is None:
            try:
                _import_pulp_for_cbc()
                cls._available = _cbc_path() is not None
            except Exception:
                cls._available = False
        return cls._available

    def _solve_raw(self, model, deadline, threads, verbose) -> RawResult:
        pulp = _import_pulp_for_cbc()
        from pulp.apis import coin_api

        path = _cbc_path()
        if path is None:
            return RawResult(MilpStatus.ERROR, message="no CBC executable")
        raw_line = []

        class _Cbc(pulp.COIN_CMD):  # records CBC's own status line
            def get_status(self, filename):
                try:
                    with open(filename) as f:
                        raw_line.append(f.readline().strip())
                except OSError:
                    pass
                return coin_api.COIN_CMD.get_status(self, filename)

        prob, xs = _build_problem(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cmd = _Cbc(path=path, msg=bool(verbose), timeLimit=time_left(deadline),
                       timeMode="elapsed",
                       threads=int(threads) if threads > 1 else None)
            prob.solve(cmd)
        key = (int(prob.status), int(prob.sol_status))
        status = PULP_CBC_STATUS.get(key, MilpStatus.ERROR)
        x = _values(model, xs) if status in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE) else None
        cbc_line = raw_line[0] if raw_line else "?"
        return RawResult(status, x, None, f"PuLP status {key}; CBC: {cbc_line}")


class PulpHighsBackend(TemplateBackend):
    """HiGHS through PuLP (highspy, in process). Unavailable when highspy is
    not installed, or when ortools already holds its own libhighs."""

    name = "pulp-highs"

    def available(self) -> bool:
        # answered afresh: it depends on what this process has loaded so far
        try:
            if importlib.util.find_spec("highspy") is None:
                return False
            import pulp
            return bool(pulp.HiGHS(msg=False).available())
        except Exception:
            return False

    def _solve_raw(self, model, deadline, threads, verbose) -> RawResult:
        import pulp
        if not self.available():
            return RawResult(MilpStatus.ERROR, message="PuLP HiGHS (highspy) not available")
        prob, xs = _build_problem(model)
        kw = dict(msg=bool(verbose), timeLimit=time_left(deadline))
        if threads > 1:
            kw["threads"] = int(threads)
        prob.solve(pulp.HiGHS(**kw))
        h = prob.solverModel
        name = getattr(h.getModelStatus(), "name", str(h.getModelStatus()))
        status = HIGHS_MODEL_STATUS.get(name, MilpStatus.ERROR)
        has_point = False
        try:
            has_point = int(h.getInfo().primal_solution_status) == 2  # kSolutionStatusFeasible
        except Exception:
            pass
        if status == _LIMIT:
            status = MilpStatus.FEASIBLE if has_point else MilpStatus.TIME_LIMIT
        x = _values(model, xs) if status in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE) else None
        bound = None
        if model.integrality.any():  # mip_dual_bound is meaningless for an LP
            try:
                bound = float(h.getInfo().mip_dual_bound)
            except Exception:
                pass
        return RawResult(status, x, bound, f"HiGHS model status {name}")
