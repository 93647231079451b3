"""OR-Tools backends: SCIP and CBC through ``pywraplp``, HiGHS through MathOpt.

Measured with ortools 9.15 (the reasons for the split):

* ``pywraplp.Solver.CreateSolver`` accepts ``"SCIP"``, ``"CBC"``, ``"HIGHS"``
  (also ``"CLP"``, ``"GLOP"``, ``"PDLP"``, ``"CP_SAT"``); Gurobi, Xpress, CPLEX
  and GLPK are not linked in. Through pywraplp, HiGHS (i) reports a time limit
  as ``99`` (``MPSOLVER_UNKNOWN_STATUS``), not in ``pywraplp.Solver``'s enum,
  and (ii) drops the incumbent it had; its ``SolverVersion()`` even reads
  "PDLP Solver". So ``"highs"`` goes through MathOpt, whose termination reason
  separates ``FEASIBLE`` (limit, incumbent), ``NO_SOLUTION_FOUND`` (limit, no
  incumbent) and ``INFEASIBLE_OR_UNBOUNDED``.
* MathOpt refuses ``threads`` for HiGHS ("must be set using globals"), so the
  ``threads`` argument is ignored by the ``"highs"`` backend.
* pywraplp folds SCIP's "infeasible or unbounded" into ``INFEASIBLE``, so a
  pywraplp ``INFEASIBLE`` is treated as "infeasible or unbounded" and
  resolved (free of charge when every variable is bounded, as in all the
  formulations of :mod:`solver.formulations`).
* CBC calls a MILP unbounded as soon as its LP relaxation is, even when it
  has no integer point (``3x - 3y = 1``, x, y free integers), so a pywraplp
  ``UNBOUNDED`` is confirmed by a feasibility solve.
* CP-SAT is deliberately not offered: it rejects (or silently scales)
  continuous variables, and these models have them.

The ortools wheel ships its own libhighs; highspy ships another, and the two
cannot be loaded in one process. Nothing here imports highspy.

Models are handed over as protocol buffers built from numpy arrays
(``MPModelProto`` / MathOpt ``ModelProto``), one Python call per row at most.
"""
from __future__ import annotations

import datetime

import numpy as np

from .base import (INFEASIBLE_OR_UNBOUNDED, UNBOUNDED_UNVERIFIED, MilpModel, MilpStatus,
                   RawResult, TemplateBackend, time_left)

__all__ = ["OrtoolsScipBackend", "OrtoolsCbcBackend", "OrtoolsHighsBackend"]


# --------------------------------------------------------------------------
# pywraplp (SCIP, CBC)
# --------------------------------------------------------------------------

#: THE status table of the pywraplp backends: ``Solver.Solve()`` result ->
#: MilpStatus. Codes are ``MPSolverResponseStatus`` values.
PYWRAPLP_STATUS = {
    0: MilpStatus.OPTIMAL,            # OPTIMAL
    1: MilpStatus.FEASIBLE,           # FEASIBLE: stopped by a limit with an incumbent
    2: INFEASIBLE_OR_UNBOUNDED,       # INFEASIBLE: also SCIP's INFORUNBD; resolved by the base
    3: UNBOUNDED_UNVERIFIED,          # UNBOUNDED: CBC says so when the LP relaxation is
    4: MilpStatus.ERROR,              # ABNORMAL
    5: MilpStatus.ERROR,              # MODEL_INVALID
    6: MilpStatus.TIME_LIMIT,         # NOT_SOLVED: stopped by a limit, no incumbent
    7: MilpStatus.ERROR,              # SOLVER_TYPE_UNAVAILABLE
    84: MilpStatus.ERROR,             # MODEL_INVALID_SOLUTION_HINT
    85: MilpStatus.ERROR,             # MODEL_INVALID_SOLVER_PARAMETERS
    97: MilpStatus.ERROR,             # MODEL_IS_VALID (no solve happened)
    98: MilpStatus.TIME_LIMIT,        # CANCELLED_BY_USER: interrupted, no incumbent claimed
    99: MilpStatus.ERROR,             # UNKNOWN_STATUS
    113: MilpStatus.ERROR,            # INCOMPATIBLE_OPTIONS
}


def _mp_model_proto(model: MilpModel):
    from ortools.linear_solver import linear_solver_pb2 as pb
    proto = pb.MPModelProto()
    proto.maximize = False
    for j in range(model.num_vars):
        v = proto.variable.add()
        v.lower_bound = float(model.lb[j])
        v.upper_bound = float(model.ub[j])
        v.objective_coefficient = float(model.c[j])
        v.is_integer = bool(model.integrality[j])
    A = model.A
    for i in range(model.num_rows):
        lo, hi = A.indptr[i], A.indptr[i + 1]
        ct = proto.constraint.add()
        ct.lower_bound = float(model.row_lb[i])
        ct.upper_bound = float(model.row_ub[i])
        ct.var_index.extend(A.indices[lo:hi].tolist())
        ct.coefficient.extend(A.data[lo:hi].tolist())
    return proto


class _PywraplpBackend(TemplateBackend):
    """SCIP or CBC through ``ortools.linear_solver.pywraplp``."""

    engine: str = ""          # name passed to pywraplp.Solver.CreateSolver
    _available: bool | None = None

    def available(self) -> bool:
        cls = type(self)
        if cls._available is None:
            try:
                from ortools.linear_solver import pywraplp
                cls._available = pywraplp.Solver.CreateSolver(self.engine) is not None
            except Exception:
                cls._available = False
        return cls._available

    def _solve_raw(self, model, deadline, threads, verbose) -> RawResult:
        from ortools.linear_solver import linear_solver_pb2 as pb
        from ortools.linear_solver import pywraplp
        solver = pywraplp.Solver.CreateSolver(self.engine)
        if solver is None:
            return RawResult(MilpStatus.ERROR, message=f"pywraplp has no {self.engine} solver")
        err = solver.LoadModelFromProto(_mp_model_proto(model))
        if err:
            return RawResult(MilpStatus.ERROR, message=f"model rejected: {err}")
        notes = []
        time_limit = time_left(deadline)
        if time_limit is not None:
            solver.SetTimeLimit(max(1, int(round(time_limit * 1000))))
        if threads != 1 and not solver.SetNumThreads(int(threads)):
            notes.append(f"threads={threads} not accepted")
        if verbose:
            solver.EnableOutput()
        else:
            solver.SuppressOutput()
        code = solver.Solve()
        status = PYWRAPLP_STATUS.get(code, MilpStatus.ERROR)
        x = bound = None
        if status in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE, MilpStatus.TIME_LIMIT):
            resp = pb.MPSolutionResponse()
            solver.FillSolutionResponseProto(resp)
            if status != MilpStatus.TIME_LIMIT and len(resp.variable_value) == model.num_vars:
                x = np.array(resp.variable_value, dtype=np.float64)
            if resp.HasField("best_objective_bound"):
                bound = resp.best_objective_bound
        msg = f"pywraplp {self.engine} status {code}"
        return RawResult(status, x, bound, "; ".join([msg] + notes))


class OrtoolsScipBackend(_PywraplpBackend):
    """SCIP (ortools' bundled build) through pywraplp. The default backend."""

    name = "scip"
    engine = "SCIP"


class OrtoolsCbcBackend(_PywraplpBackend):
    """COIN-OR CBC (ortools' bundled build) through pywraplp.

    CBC checks its time limit only between phases: measured overshoots are
    ~0.1 s at a 0.5 s limit and up to ~5 s at a 10 s limit, and 1.2 s at 5 s
    on an 11,400-weight generator's inversion MIP (far below
    :data:`~solver.backends.base.ISOLATE_NNZ`): every call with a limit runs
    in a child process killed at the limit.
    """

    name = "cbc"
    engine = "CBC"
    keeps_time_limit = False


# --------------------------------------------------------------------------
# MathOpt (HiGHS)
# --------------------------------------------------------------------------

def _mathopt_status_table():
    """THE status table of the MathOpt backend: TerminationReason -> MilpStatus."""
    from ortools.math_opt.python import mathopt
    R = mathopt.TerminationReason
    return {
        R.OPTIMAL: MilpStatus.OPTIMAL,
        R.FEASIBLE: MilpStatus.FEASIBLE,                  # a limit, with an incumbent
        R.NO_SOLUTION_FOUND: MilpStatus.TIME_LIMIT,       # a limit, no incumbent
        R.INFEASIBLE: MilpStatus.INFEASIBLE,
        R.UNBOUNDED: MilpStatus.UNBOUNDED,
        R.INFEASIBLE_OR_UNBOUNDED: INFEASIBLE_OR_UNBOUNDED,
        R.IMPRECISE: MilpStatus.ERROR,
        R.NUMERICAL_ERROR: MilpStatus.ERROR,
        R.OTHER_ERROR: MilpStatus.ERROR,
    }


def _math_opt_model(model: MilpModel):
    from ortools.math_opt import model_pb2
    from ortools.math_opt.python import mathopt
    n, m = model.num_vars, model.num_rows
    p = model_pb2.ModelProto()
    p.variables.ids.extend(range(n))
    p.variables.lower_bounds.extend(model.lb.tolist())
    p.variables.upper_bounds.extend(model.ub.tolist())
    p.variables.integers.extend(model.integrality.tolist())
    nz = np.flatnonzero(model.c)
    p.objective.maximize = False
    p.objective.linear_coefficients.ids.extend(nz.tolist())
    p.objective.linear_coefficients.values.extend(model.c[nz].tolist())
    p.linear_constraints.ids.extend(range(m))
    p.linear_constraints.lower_bounds.extend(model.row_lb.tolist())
    p.linear_constraints.upper_bounds.extend(model.row_ub.tolist())
    A = model.A.copy()
    A.sort_indices()  # MathOpt wants (row, column) sorted
    p.linear_constraint_matrix.row_ids.extend(np.repeat(np.arange(m), np.diff(A.indptr)).tolist())
    p.linear_constraint_matrix.column_ids.extend(A.indices.tolist())
    p.linear_constraint_matrix.coefficients.extend(A.data.tolist())
    return mathopt.Model.from_model_proto(p)


class OrtoolsHighsBackend(TemplateBackend):
    """HiGHS (ortools' bundled build) through MathOpt. ``threads`` is ignored:
    MathOpt rejects it for HiGHS."""

    name = "highs"
    _available: bool | None = None

    def available(self) -> bool:
        cls = type(self)
        if cls._available is None:
            try:
                from ortools.math_opt.python import mathopt
                mdl = mathopt.Model()
                v = mdl.add_binary_variable()
                mdl.minimize(v)
                res = mathopt.solve(mdl, mathopt.SolverType.HIGHS)
                cls._available = res.termination.reason == mathopt.TerminationReason.OPTIMAL
            except Exception:
                cls._available = False
        return cls._available

    def _solve_raw(self, model, deadline, threads, verbose) -> RawResult:
        from ortools.math_opt.python import mathopt
        mdl = _math_opt_model(model)
        params = mathopt.SolveParameters(enable_output=bool(verbose))
        time_limit = time_left(deadline)
        if time_limit is not None:
            params.time_limit = datetime.timedelta(seconds=time_limit)
        res = mathopt.solve(mdl, mathopt.SolverType.HIGHS, params=params)
        term = res.termination
        status = _mathopt_status_table().get(term.reason, MilpStatus.ERROR)
        x = None
        if status in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE):
            if res.has_primal_feasible_solution():
                x = np.array(res.variable_values(list(mdl.variables())), dtype=np.float64)
        bound = term.objective_bounds.dual_bound
        msg = f"mathopt HiGHS {term.reason.name}"
        if term.limit is not None:
            msg += f" (limit {term.limit.name})"
        if term.detail:
            msg += f": {term.detail}"
        if threads != 1:
            msg += f"; threads={threads} ignored"
        return RawResult(status, x, bound, msg)
