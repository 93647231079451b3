"""The narrow MILP backend interface: a model is pure data, a backend turns it
into a :class:`MilpSolution` whose status was mapped from the engine's own
codes in exactly one table per backend.

A model is

    minimize    c @ x
    subject to  row_lb <= A @ x <= row_ub
                lb <= x <= ub
                x[j] integer wherever integrality[j]

with ``+/-inf`` allowed in every bound. Nothing in this module imports an
engine; the concrete backends import theirs lazily, inside ``available()``
and ``solve()``.

Status contract (what callers may rely on)
------------------------------------------
* ``OPTIMAL``     the engine proved optimality (for a pure feasibility model,
  ``c == 0``, this just means "found a feasible point"). ``x`` is set.
* ``FEASIBLE``    a limit stopped the engine with an incumbent; not proved
  optimal. ``x`` is set.
* ``INFEASIBLE``  the engine proved infeasibility (within its tolerances).
  An engine answer of "infeasible or unbounded" is never reported as
  ``INFEASIBLE`` on its own: it is resolved by a second solve with a zero
  objective (see :meth:`TemplateBackend.solve`), skipped when every variable
  is bounded (such a model cannot be unbounded).
* ``TIME_LIMIT``  a limit stopped the engine without an incumbent. This is
  never reported as ``INFEASIBLE``.
* ``UNBOUNDED``   the objective is unbounded below (an engine "unbounded"
  that may only concern the LP relaxation is confirmed by a feasibility solve).
* ``ERROR``       anything else (engine crash, numerical trouble, invalid
  model); ``message`` says what happened.

``x`` is ``None`` unless the status is ``OPTIMAL`` or ``FEASIBLE``.
"""
from __future__ import annotations

import abc
import enum
import math
import numbers
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..deadline import Deadline
from ..errors import InputError

__all__ = ["MilpStatus", "MilpModel", "MilpSolution", "Backend", "TemplateBackend",
           "RawResult", "INFEASIBLE_OR_UNBOUNDED", "UNBOUNDED_UNVERIFIED", "MIN_TIME_LIMIT",
           "time_left"]

#: Engines read a time limit of 0 as "no limit"; we pass at least this much.
MIN_TIME_LIMIT = 0.01

#: Internal pseudo-status a backend's status table may return when its engine
#: cannot tell infeasible from unbounded. :meth:`TemplateBackend.solve` resolves
#: it; it never reaches a caller.
INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"

#: Internal pseudo-status for an engine's "unbounded" that does not vouch for
#: a feasible point (CBC says "unbounded" when the LP relaxation is, even if
#: there is no integer point). Confirmed by a feasibility solve.
UNBOUNDED_UNVERIFIED = "unbounded_unverified"


def time_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), at
    least :data:`MIN_TIME_LIMIT`; ``None`` for no deadline."""
    return Deadline(deadline).remaining(floor=MIN_TIME_LIMIT)


class MilpStatus(enum.Enum):
    """Outcome of one MILP solve; see the module docstring for the contract."""

    OPTIMAL = "optimal"            # proved optimal (or feasible, for pure feasibility models)
    FEASIBLE = "feasible"          # interrupted (time limit) with an incumbent, not proved optimal
    INFEASIBLE = "infeasible"      # proved infeasible
    TIME_LIMIT = "time_limit"      # limit hit, no incumbent; NEVER reported as infeasible
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        """True for the statuses that carry a point ``x``."""
        return self in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE)


def _vector(name: str, v: Any, size: int, dtype=np.float64) -> np.ndarray:
    a = np.asarray(v, dtype=dtype)
    if a.ndim == 0:
        a = np.full(size, a, dtype=dtype)
    if a.shape != (size,):
        raise InputError(f"MilpModel.{name} must have shape ({size},); got {a.shape}")
    a = a.copy()
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class MilpModel:
    """A MILP as plain data (see the module docstring for its meaning).

    Parameters
    ----------
    c : (N,) objective, minimized.
    A : (M, N) dense array or scipy sparse matrix (stored as CSR).
    row_lb, row_ub : (M,) row bounds, ``-inf`` / ``+inf`` allowed.
    lb, ub : (N,) variable bounds, ``-inf`` / ``+inf`` allowed.
    integrality : (N,) bool, True where the variable is integer.
    names : optional variable names (diagnostics only).

    Scalars are broadcast for the bound vectors. Shapes, NaNs and
    ``lb > ub`` style inconsistencies in the *data types* are checked here
    (``InputError``); an inconsistent bound pair is a legitimate infeasible
    model and is left to the backend.
    """

    c: np.ndarray
    A: Any
    row_lb: np.ndarray
    row_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    names: tuple[str, ...] | None = None

    def __post_init__(self):
        c = np.asarray(self.c, dtype=np.float64)
        if c.ndim != 1:
            raise InputError(f"MilpModel.c must be a vector; got shape {c.shape}")
        n = c.shape[0]
        if sp.issparse(self.A):
            A = sp.csr_array(self.A, dtype=np.float64)
        else:
            dense = np.asarray(self.A, dtype=np.float64)
            if dense.size == 0:
                dense = np.zeros((0, n))
            if dense.ndim != 2:
                raise InputError(f"MilpModel.A must be 2-D; got shape {dense.shape}")
            A = sp.csr_array(dense)
        if A.shape[1] != n:
            raise InputError(f"MilpModel.A must have {n} columns; got shape {A.shape}")
        A.sum_duplicates()
        A.eliminate_zeros()
        m = A.shape[0]
        if not np.all(np.isfinite(A.data)) or not np.all(np.isfinite(c)):
            raise InputError("MilpModel.A and MilpModel.c must be finite")
        object.__setattr__(self, "c", _vector("c", c, n))
        object.__setattr__(self, "A", A)
        for name, size in (("row_lb", m), ("row_ub", m), ("lb", n), ("ub", n)):
            v = _vector(name, getattr(self, name), size)
            if np.isnan(v).any():
                raise InputError(f"MilpModel.{name} contains NaN")
            object.__setattr__(self, name, v)
        object.__setattr__(self, "integrality", _vector("integrality", self.integrality, n, bool))
        if self.names is not None:
            names = tuple(str(s) for s in self.names)
            if len(names) != n:
                raise InputError(f"MilpModel.names must have {n} entries; got {len(names)}")
            object.__setattr__(self, "names", names)

    @property
    def num_vars(self) -> int:
        return int(self.c.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def bounded(self) -> bool:
        """True when every variable has finite bounds (then the model cannot
        be unbounded)."""
        return bool(np.all(np.isfinite(self.lb)) and np.all(np.isfinite(self.ub)))

    def with_objective(self, c) -> "MilpModel":
        """The same constraints with another objective."""
        return replace(self, c=np.asarray(c, dtype=np.float64))

    def violation(self, x) -> float:
        """Largest absolute violation of ``x`` against bounds, rows and
        integrality (0.0 for an exactly feasible point). A diagnostic for
        tests and callers; the engines' own tolerances are usually 1e-6."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.num_vars,):
            return math.inf
        ax = self.A @ x
        parts = [0.0,
                 np.max(self.lb - x, initial=0.0), np.max(x - self.ub, initial=0.0),
                 np.max(self.row_lb - ax, initial=0.0), np.max(ax - self.row_ub, initial=0.0)]
        xi = x[self.integrality]
        if xi.size:
            parts.append(float(np.max(np.abs(xi - np.round(xi)))))
        return float(max(parts))

    def trivially_infeasible(self) -> str | None:
        """A reason string if the model is infeasible on its face (a variable
        or row with ``lb > ub``, an empty row whose range excludes 0, an
        integer variable whose range holds no integer); else ``None``."""
        bad = np.flatnonzero(self.lb > self.ub)
        if bad.size:
            return f"variable {int(bad[0])} has lb > ub"
        ilo, ihi = np.ceil(self.lb[self.integrality]), np.floor(self.ub[self.integrality])
        bad = np.flatnonzero(ilo > ihi)
        if bad.size:
            j = int(np.flatnonzero(self.integrality)[bad[0]])
            return f"integer variable {j} has no integer in its range"
        bad = np.flatnonzero(self.row_lb > self.row_ub)
        if bad.size:
            return f"row {int(bad[0])} has row_lb > row_ub"
        empty = np.diff(self.A.indptr) == 0
        bad = np.flatnonzero(empty & ((self.row_lb > 0) | (self.row_ub < 0)))
        if bad.size:
            return f"row {int(bad[0])} is empty and its range excludes 0"
        return None


@dataclass(frozen=True)
class MilpSolution:
    """Result of :meth:`Backend.solve`.

    Attributes
    ----------
    status : MilpStatus (see the module docstring).
    x : (N,) point for ``OPTIMAL`` / ``FEASIBLE``, else ``None``.
    objective : ``c @ x`` when ``x`` is set, else ``None``.
    bound : the engine's proved lower bound on the optimum, when it gives a
        finite one, else ``None``.
    seconds : wall-clock time of the whole call (model transfer included).
    backend : registry name of the backend.
    message : engine status text / diagnostics.
    """

    status: MilpStatus
    x: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float
    backend: str
    message: str = ""


class Backend(abc.ABC):
    """A MILP engine behind one narrow interface.

    Subclasses set ``name`` (the registry name) and implement
    :meth:`available` and :meth:`solve`.
    """

    name: str = "abstract"

    @abc.abstractmethod
    def available(self) -> bool:
        """True if the engine can be used in this process (honest answer:
        imports the engine if needed, never crashes the process)."""

    @abc.abstractmethod
    def solve(self, model: MilpModel, *, time_limit: float | None = None, threads: int = 1,
              verbose: bool = False) -> MilpSolution:
        """Solve ``model``.

        Parameters
        ----------
        model : MilpModel.
        time_limit : wall-clock seconds, or None for no limit.
        threads : worker threads for engines that take the option.
        verbose : let the engine print its log.

        Returns
        -------
        MilpSolution. Engine failures are reported as ``MilpStatus.ERROR``,
        never raised; bad arguments raise ``InputError``.
        """

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass
class RawResult:
    """What an engine adapter hands back to :class:`TemplateBackend`.

    ``status`` is a :class:`MilpStatus`, :data:`INFEASIBLE_OR_UNBOUNDED` or
    :data:`UNBOUNDED_UNVERIFIED`, already mapped through the backend's one
    status table.
    """

    status: Any
    x: np.ndarray | None = None
    bound: float | None = None
    message: str = ""


#: Models with at least this many nonzeros (any model, for a backend whose
#: ``keeps_time_limit`` is False) are solved in a child process that
#: is killed when the engine overruns its time limit. Measured (ortools 9.15,
#: a 3,584 x 2,004 model with 327k nonzeros from inverting the 20-400-784
#: VAE): HiGHS's MIP presolve ignored a 10 s limit and an interrupter for 94 s,
#: CBC overran 60 s limits by up to 70 %. Small models solve well inside their
#: limits and are not worth a process.
ISOLATE_NNZ = 50_000

#: an isolated engine is killed this share of its time limit after the limit
#: (so that a call keeps 1.1 x its limit, with the caller's own steps)
ISOLATE_GRACE = 0.05


def _may_fork():
    import multiprocessing as mp
    return not mp.current_process().daemon      # daemonic processes cannot have children


def _raw_or_error(backend, model, deadline, threads, verbose) -> RawResult:
    try:
        return backend._solve_raw(model, deadline, threads, verbose)
    except Exception as e:  # engines raise all sorts; the contract says ERROR
        return RawResult(MilpStatus.ERROR, message=f"{type(e).__name__}: {e}")


def _isolated(backend, model, deadline, threads, verbose) -> RawResult:
    """One engine call in a child process (dies with this one) that is killed
    shortly after ``deadline``: the limit is kept even by an engine that does
    not look at its clock. What a killed engine had found is lost; it is
    reported as a time limit without an incumbent."""
    import concurrent.futures as cf
    from ..parallel import in_own_group, process_pool
    left = Deadline(deadline).remaining()
    with process_pool(1) as pool:
        # in its own process group: an engine's subprocesses (PuLP's CBC) die with it
        fut = pool.submit(in_own_group, _raw_or_error, backend, model, deadline, threads,
                          verbose)
        try:
            # the engine's limit, then a grace for its answer to come back:
            # a share of the limit (an absolute grace was an overrun of 100 %
            # on limits of a fraction of a second), plus the pipe's latency
            return fut.result(timeout=(1 + ISOLATE_GRACE) * left + 0.05)
        except cf.TimeoutError:
            return RawResult(MilpStatus.TIME_LIMIT,
                             message=f"{backend.name}: the engine overran its time limit "
                                     "and was stopped (no incumbent kept)")
        except Exception as e:  # the child died (killed, out of memory)
            return RawResult(MilpStatus.ERROR, message=f"{backend.name} child: "
                                                      f"{type(e).__name__}: {e}")


class TemplateBackend(Backend):
    """Common plumbing: argument checks, timing, trivial infeasibility,
    exception capture and "infeasible or unbounded" resolution. Subclasses
    implement :meth:`_solve_raw` (one engine call, statuses mapped through the
    backend's table) and :meth:`available`."""

    @abc.abstractmethod
    def _solve_raw(self, model: MilpModel, deadline: float | None, threads: int,
                   verbose: bool) -> RawResult:
        """One engine call. ``deadline`` is a ``time.monotonic()`` value or
        None; pass ``time_left(deadline)`` to the engine right before it
        starts, so model transfer counts against the caller's limit."""

    def solve(self, model: MilpModel, *, time_limit: float | None = None, threads: int = 1,
              verbose: bool = False) -> MilpSolution:
        if not isinstance(model, MilpModel):
            raise InputError(f"model must be a MilpModel; got {type(model).__name__}")
        if time_limit is not None:
            if isinstance(time_limit, bool) or not (isinstance(time_limit, numbers.Real)
                                                    and time_limit >= 0):
                raise InputError(f"time_limit must be None or a number >= 0; got {time_limit!r}")
            time_limit = max(float(time_limit), MIN_TIME_LIMIT)
            if math.isinf(time_limit):
                time_limit = None
        if isinstance(threads, bool) or not (isinstance(threads, numbers.Integral)
                                             and threads >= 1):
            raise InputError(f"threads must be a positive integer; got {threads!r}")
        start = time.monotonic()
        deadline = Deadline.after(time_limit, start).at
        reason = model.trivially_infeasible()
        if reason is not None:
            return self._finish(model, RawResult(MilpStatus.INFEASIBLE,
                                                 message=f"trivially infeasible: {reason}"), start)
        raw = self._guarded(model, deadline, int(threads), verbose)
        if raw.status in (INFEASIBLE_OR_UNBOUNDED, UNBOUNDED_UNVERIFIED):
            raw = self._resolve_inf_or_unbd(model, raw, deadline, int(threads), verbose)
        return self._finish(model, raw, start)

    #: False for an engine that overruns its time limit on small models too
    #: (then every call with a limit runs in a child process killed at the limit)
    keeps_time_limit = True

    def _guarded(self, model, deadline, threads, verbose) -> RawResult:
        if deadline is not None and (model.A.nnz >= ISOLATE_NNZ or not self.keeps_time_limit) \
                and _may_fork():
            return _isolated(self, model, deadline, threads, verbose)
        return _raw_or_error(self, model, deadline, threads, verbose)

    def _resolve_inf_or_unbd(self, model, raw, deadline, threads, verbose) -> RawResult:
        """The engine said "infeasible or unbounded" (or an unverified
        "unbounded"). A model with finite variable bounds cannot be unbounded;
        otherwise solve the feasibility problem (zero objective) to tell the
        two apart."""
        if model.bounded and raw.status == INFEASIBLE_OR_UNBOUNDED:
            return RawResult(MilpStatus.INFEASIBLE,
                             message=raw.message + " [all variables bounded: infeasible]")
        feas = self._guarded(model.with_objective(np.zeros(model.num_vars)), deadline, threads,
                             verbose)
        if feas.status in (MilpStatus.OPTIMAL, MilpStatus.FEASIBLE):
            if model.bounded:
                return RawResult(MilpStatus.ERROR, message=raw.message +
                                 " [engine claims unbounded, but every variable is bounded]")
            return RawResult(MilpStatus.UNBOUNDED, message=raw.message + " [feasible: unbounded]")
        if feas.status in (MilpStatus.INFEASIBLE, INFEASIBLE_OR_UNBOUNDED):
            # with a zero objective "unbounded" is impossible
            return RawResult(MilpStatus.INFEASIBLE,
                             message=raw.message + " [feasibility solve: infeasible]")
        if feas.status == MilpStatus.TIME_LIMIT:
            return RawResult(MilpStatus.TIME_LIMIT,
                             message=raw.message + " [feasibility solve hit the limit]")
        return RawResult(MilpStatus.ERROR,
                         message=raw.message + f" [feasibility solve: {feas.message}]")

    def _finish(self, model: MilpModel, raw: RawResult, start: float) -> MilpSolution:
        status, x, message = raw.status, raw.x, raw.message
        if not isinstance(status, MilpStatus):
            status, message = MilpStatus.ERROR, f"unmapped engine status {status!r}; {message}"
        if status.has_solution:
            x = None if x is None else np.asarray(x, dtype=np.float64)
            if x is None or x.shape != (model.num_vars,) or not np.all(np.isfinite(x)):
                message = f"engine reported {raw.status} without a usable point; {message}"
                status, x = MilpStatus.ERROR, None
        else:
            x = None
        objective = float(model.c @ x) if x is not None else None
        bound = raw.bound
        if bound is None and status == MilpStatus.OPTIMAL:
            bound = objective
        if bound is not None:
            bound = float(bound)
            if not math.isfinite(bound) or abs(bound) >= 1e30 or status not in (
                    MilpStatus.OPTIMAL, MilpStatus.FEASIBLE, MilpStatus.TIME_LIMIT):
                bound = None
        return MilpSolution(status, x, objective, bound, time.monotonic() - start, self.name,
                            message.strip())
