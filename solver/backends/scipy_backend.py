"""``"scipy-highs"``: :func:`scipy.optimize.milp` (scipy's bundled HiGHS).

scipy's HiGHS binding is private to scipy and coexists with ortools in one
process (unlike highspy). ``threads`` is not exposed by ``milp`` and is
ignored.

Measured with scipy 1.17: ``milp`` returns ``status`` 0 optimal, 1 limit
(with ``x`` when an incumbent exists), 2 infeasible, 3 unbounded, 4 other;
an unbounded MILP comes back as status 4 with the message
"... (HiGHS Status 9: model_status is Primal infeasible or unbounded ...)",
so the table below is keyed on ``(status, HiGHS model status)`` with a
fallback on ``(status, None)``.
"""
from __future__ import annotations

import re

import numpy as np

from .base import INFEASIBLE_OR_UNBOUNDED, MilpStatus, RawResult, TemplateBackend, time_left

__all__ = ["ScipyHighsBackend"]

_LIMIT = "limit"

#: THE status table: (scipy status, HiGHS model status code or None) -> MilpStatus.
#: HiGHS codes: 7 optimal, 8 infeasible, 9 unbounded-or-infeasible,
#: 10 unbounded, 13 time limit, 14 iteration limit.
SCIPY_STATUS = {
    (0, None): MilpStatus.OPTIMAL,
    (1, None): _LIMIT,                     # time/iteration/node limit: FEASIBLE iff x returned
    (2, None): MilpStatus.INFEASIBLE,
    (3, None): MilpStatus.UNBOUNDED,
    (4, 9): INFEASIBLE_OR_UNBOUNDED,       # "unbounded or infeasible"
    (4, None): MilpStatus.ERROR,
}

_HIGHS_CODE = re.compile(r"HiGHS Status (\d+)")


class ScipyHighsBackend(TemplateBackend):
    """HiGHS through :func:`scipy.optimize.milp`."""

    name = "scipy-highs"

    def available(self) -> bool:
        try:
            from scipy.optimize import milp  # noqa: F401
            return True
        except Exception:
            return False

    def _solve_raw(self, model, deadline, threads, verbose) -> RawResult:
        from scipy.optimize import Bounds, LinearConstraint, milp
        options = {"disp": bool(verbose)}
        constraints = (LinearConstraint(model.A, model.row_lb, model.row_ub)
                       if model.num_rows else None)
        if deadline is not None:
            options["time_limit"] = time_left(deadline)
        res = milp(model.c, integrality=model.integrality.astype(np.int64),
                   bounds=Bounds(model.lb, model.ub), constraints=constraints, options=options)
        m = _HIGHS_CODE.search(res.message or "")
        code = int(m.group(1)) if m else None
        status = SCIPY_STATUS.get((res.status, code), SCIPY_STATUS.get((res.status, None),
                                                                        MilpStatus.ERROR))
        x = None if res.x is None else np.asarray(res.x, dtype=np.float64)
        if status == _LIMIT:
            status = MilpStatus.FEASIBLE if x is not None else MilpStatus.TIME_LIMIT
        if status not in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE):
            x = None
        bound = getattr(res, "mip_dual_bound", None) if model.integrality.any() else None
        msg = f"scipy milp status {res.status}: {res.message}"
        if threads != 1:
            msg += f"; threads={threads} ignored"
        return RawResult(status, x, bound, msg)
