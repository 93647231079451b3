"""MILP backends: one contract, every available engine.

Each backend is run on (a) MILPs with a known optimum, (b) infeasible MILPs,
(c) a market-split instance (Cornuejols & Dawande) that no engine finishes in
0.5 s on 2 cores, (d) unbounded and infeasible-and-unbounded models.
"""
import subprocess
import sys
import time

import numpy as np
import pytest

from solver.backends import (BACKENDS, DEFAULT_BACKEND, MilpModel, MilpSolution, MilpStatus,
                             available_backends, get_backend)
from solver.backends import base
from solver.backends.base import (INFEASIBLE_OR_UNBOUNDED, UNBOUNDED_UNVERIFIED, RawResult,
                                  TemplateBackend)
from solver.errors import InputError

AVAILABLE = available_backends()
INF = np.inf


@pytest.fixture(params=AVAILABLE)
def backend(request):
    return get_backend(request.param)


def knapsack(seed=3, k=12):
    """max value s.t. weight <= cap, written as min -value; optimum by brute force."""
    rng = np.random.default_rng(seed)
    w = rng.integers(5, 40, k).astype(float)
    v = rng.integers(5, 50, k).astype(float)
    cap = float(np.floor(w.sum() / 3))
    bits = ((np.arange(2 ** k)[:, None] >> np.arange(k)) & 1).astype(float)
    best = -(bits @ v)[bits @ w <= cap].max()
    model = MilpModel(c=-v, A=w[None, :], row_lb=[-INF], row_ub=[cap], lb=0, ub=1,
                      integrality=np.ones(k, bool))
    return model, float(best)


def mixed():
    """min -x - y, x integer, 2x + 2y <= 7.5, x - y >= 0.3, free-ish bounds:
    optimum -3.75 at x = 3, y = 0.75; also a ranged row and a negative box."""
    model = MilpModel(c=[-1.0, -1.0, 0.0],
                      A=[[2.0, 2.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 1.0]],
                      row_lb=[-INF, 0.3, -2.0], row_ub=[7.5, INF, 2.0],
                      lb=[-10, -INF, -5], ub=[10, 10, 5], integrality=[True, False, False])
    return model, -3.75


def market_split(m=5, seed=0, slack=False):
    """Market split: sum_j a_ij x_j = floor(sum_j a_ij / 2), x binary, n = 10(m-1).
    With ``slack``, min sum |slack| (x = 0 is a trivial incumbent)."""
    rng = np.random.default_rng(seed)
    n = 10 * (m - 1)
    A = rng.integers(0, 100, size=(m, n)).astype(float)
    d = np.floor(A.sum(1) / 2)
    if not slack:
        return MilpModel(c=np.zeros(n), A=A, row_lb=d, row_ub=d, lb=0, ub=1,
                         integrality=np.ones(n, bool))
    A = np.hstack([A, np.eye(m), -np.eye(m)])
    c = np.r_[np.zeros(n), np.ones(2 * m)]
    return MilpModel(c=c, A=A, row_lb=d, row_ub=d, lb=0, ub=np.r_[np.ones(n), np.full(2 * m, INF)],
                     integrality=np.r_[np.ones(n, bool), np.zeros(2 * m, bool)])


def assert_solution(sol, model, status=MilpStatus.OPTIMAL, tol=1e-6):
    assert isinstance(sol, MilpSolution)
    assert sol.status == status, sol
    assert sol.x is not None and sol.x.shape == (model.num_vars,)
    assert model.violation(sol.x) <= tol, (model.violation(sol.x), sol)
    assert sol.objective == pytest.approx(float(model.c @ sol.x))


def test_some_backends_available():
    assert DEFAULT_BACKEND == "scip"
    assert set(BACKENDS) == {"scip", "highs", "cbc", "pulp-cbc", "pulp-highs", "scipy-highs"}
    assert DEFAULT_BACKEND in AVAILABLE
    assert {"scip", "highs", "cbc", "scipy-highs"} <= set(AVAILABLE)


# (a) known optimum ---------------------------------------------------------

@pytest.mark.parametrize("make", [knapsack, mixed])
def test_known_optimum(backend, make):
    model, best = make()
    sol = backend.solve(model, time_limit=20)
    assert_solution(sol, model)
    assert sol.objective == pytest.approx(best, abs=1e-6)
    assert sol.bound is None or sol.bound <= sol.objective + 1e-6
    assert sol.backend == backend.name and sol.seconds >= 0


def test_feasibility_model_and_no_rows(backend):
    # zero objective: OPTIMAL means "found a feasible point"
    model = MilpModel(c=np.zeros(2), A=[[1.0, 1.0]], row_lb=[3.0], row_ub=[3.0], lb=0, ub=5,
                      integrality=[True, True])
    assert_solution(backend.solve(model), model)
    # no constraint rows at all
    model = MilpModel(c=[1.0, -2.0], A=np.zeros((0, 2)), row_lb=[], row_ub=[], lb=[-1, -1],
                      ub=[1, 1], integrality=[True, False])
    sol = backend.solve(model)
    assert_solution(sol, model)
    assert sol.objective == pytest.approx(-3.0)
    # no rows and a zero objective (measured: CBC through PuLP chokes on this)
    model = MilpModel(c=[0.0], A=np.zeros((0, 1)), row_lb=[], row_ub=[], lb=-2.5, ub=-1.5,
                      integrality=[True])
    sol = backend.solve(model)
    assert_solution(sol, model)
    assert sol.x[0] == pytest.approx(-2.0)
    # a variable in no row and not in the objective (PuLP's MPS: "No match for column")
    model = MilpModel(c=[1.0, 0.0], A=[[1.0, 0.0]], row_lb=[1.0], row_ub=[4.0], lb=[0, 0.5],
                      ub=[9, 3.5], integrality=[False, True])
    sol = backend.solve(model)
    assert_solution(sol, model)
    assert sol.objective == pytest.approx(1.0)


def test_sparse_matrix_input(backend):
    import scipy.sparse as sp
    model, best = knapsack(seed=5, k=8)
    model = MilpModel(c=model.c, A=sp.coo_matrix(model.A.toarray()), row_lb=model.row_lb,
                      row_ub=model.row_ub, lb=model.lb, ub=model.ub,
                      integrality=model.integrality)
    sol = backend.solve(model)
    assert_solution(sol, model)
    assert sol.objective == pytest.approx(best)


# (b) infeasible --------------------------------------------------------------

INFEASIBLE_MODELS = {
    # LP relaxation feasible (x = y = 1/4), no integer point: needs branching or cuts
    "parity": MilpModel(c=[1.0, 1.0], A=[[2.0, 2.0]], row_lb=[1.0], row_ub=[1.0], lb=0, ub=5,
                        integrality=[True, True]),
    # x + y >= 3 and x + y <= 2: the LP relaxation is already infeasible
    "lp": MilpModel(c=[0.0, 1.0], A=[[1.0, 1.0], [1.0, 1.0]], row_lb=[3.0, -INF],
                    row_ub=[INF, 2.0], lb=0, ub=10, integrality=[True, False]),
}


@pytest.mark.parametrize("name", sorted(INFEASIBLE_MODELS))
def test_infeasible(backend, name):
    sol = backend.solve(INFEASIBLE_MODELS[name], time_limit=20)
    assert sol.status == MilpStatus.INFEASIBLE, sol
    assert sol.x is None and sol.objective is None


def test_infeasible_with_unbounded_relaxation(backend):
    # 3 x - 3 y = 1, x, y free integers: no integer point, LP relaxation unbounded.
    # Measured: CBC answers "unbounded" (of the relaxation) and then cannot prove
    # infeasibility (it branches forever); the others prove it at once.
    # The one wrong answer is UNBOUNDED.
    for c in ([1.0, 0.0], [0.0, 0.0]):
        model = MilpModel(c=c, A=[[3.0, -3.0]], row_lb=[1.0], row_ub=[1.0], lb=-INF, ub=INF,
                          integrality=[True, True])
        sol = backend.solve(model, time_limit=0.5)
        if "cbc" in backend.name:
            assert sol.status in (MilpStatus.INFEASIBLE, MilpStatus.TIME_LIMIT), sol
        else:
            assert sol.status == MilpStatus.INFEASIBLE, sol


def test_trivially_infeasible_is_caught_before_the_engine(backend):
    model = MilpModel(c=[1.0], A=[[0.0]], row_lb=[1.0], row_ub=[2.0], lb=0, ub=1,
                      integrality=[False])
    sol = backend.solve(model)
    assert sol.status == MilpStatus.INFEASIBLE and "trivially" in sol.message
    model = MilpModel(c=[1.0], A=[[1.0]], row_lb=[0.0], row_ub=[1.0], lb=0.2, ub=0.8,
                      integrality=[True])
    assert backend.solve(model).status == MilpStatus.INFEASIBLE


# (c) time limit on a hard model ------------------------------------------

def test_time_limit_without_incumbent(backend):
    model = market_split(slack=False)
    t = time.monotonic()
    sol = backend.solve(model, time_limit=0.5)
    elapsed = time.monotonic() - t
    assert sol.status != MilpStatus.INFEASIBLE, sol
    assert sol.status in (MilpStatus.TIME_LIMIT, MilpStatus.FEASIBLE, MilpStatus.OPTIMAL), sol
    if sol.status.has_solution:  # only if a solution was really found (never seen)
        assert model.violation(sol.x) <= 1e-6
    else:
        assert sol.x is None
    assert elapsed < 5.0, elapsed


def test_time_limit_with_incumbent(backend):
    model = market_split(slack=True)
    sol = backend.solve(model, time_limit=0.5)
    assert sol.status in (MilpStatus.FEASIBLE, MilpStatus.OPTIMAL, MilpStatus.TIME_LIMIT), sol
    if sol.status == MilpStatus.OPTIMAL:
        # optimality can only have been proved through the trivial bound 0
        assert sol.objective == pytest.approx(0.0, abs=1e-6), sol
    if sol.status.has_solution:
        assert model.violation(sol.x) <= 1e-6
        assert sol.bound is None or sol.bound <= sol.objective + 1e-6


def test_time_limit_zero_is_a_tiny_limit_not_no_limit(backend, frozen_heap):
    sol = backend.solve(market_split(slack=False), time_limit=0)
    assert sol.status in (MilpStatus.TIME_LIMIT, MilpStatus.FEASIBLE, MilpStatus.OPTIMAL), sol
    assert sol.seconds < 5.0


# (d) unbounded / infeasible-and-unbounded ------------------------------------

def test_unbounded(backend):
    # min -x s.t. x - y <= 3, x, y >= 0: unbounded along x = y
    for integer in (True, False):
        model = MilpModel(c=[-1.0, 0.0], A=[[1.0, -1.0]], row_lb=[-INF], row_ub=[3.0], lb=0,
                          ub=INF, integrality=[integer, integer])
        sol = backend.solve(model, time_limit=20)
        assert sol.status == MilpStatus.UNBOUNDED, (integer, sol)
        assert sol.x is None


def test_primal_and_dual_infeasible(backend):
    # x1 - x2 >= 1 and -x1 + x2 >= 1 (infeasible), objective direction unbounded
    for integer in (True, False):
        model = MilpModel(c=[-1.0, -1.0], A=[[1.0, -1.0], [-1.0, 1.0]], row_lb=[1.0, 1.0],
                          row_ub=[INF, INF], lb=-INF, ub=INF, integrality=[integer, integer])
        sol = backend.solve(model, time_limit=20)
        assert sol.status == MilpStatus.INFEASIBLE, (integer, sol)


# the "infeasible or unbounded" resolution, with a scripted engine -------------

class Scripted(TemplateBackend):
    name = "scripted"

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def available(self):
        return True

    def _solve_raw(self, model, deadline, threads, verbose):
        self.calls.append(model.c.copy())
        status = self.answers.pop(0)
        x = np.zeros(model.num_vars) if status in (MilpStatus.OPTIMAL,
                                                   MilpStatus.FEASIBLE) else None
        return RawResult(status, x, None, f"scripted {status}")


def _free_model():
    return MilpModel(c=[1.0], A=np.zeros((0, 1)), row_lb=[], row_ub=[], lb=-INF, ub=INF,
                     integrality=[False])


@pytest.mark.parametrize("second, expected", [
    (MilpStatus.OPTIMAL, MilpStatus.UNBOUNDED),
    (MilpStatus.INFEASIBLE, MilpStatus.INFEASIBLE),
    (INFEASIBLE_OR_UNBOUNDED, MilpStatus.INFEASIBLE),
    (MilpStatus.TIME_LIMIT, MilpStatus.TIME_LIMIT),
    (MilpStatus.ERROR, MilpStatus.ERROR),
])
def test_inf_or_unbd_resolution(second, expected):
    be = Scripted([INFEASIBLE_OR_UNBOUNDED, second])
    sol = be.solve(_free_model())
    assert sol.status == expected
    assert len(be.calls) == 2 and not be.calls[1].any()  # second solve: zero objective


def test_inf_or_unbd_on_bounded_model_needs_no_second_solve():
    be = Scripted([INFEASIBLE_OR_UNBOUNDED])
    model = MilpModel(c=[1.0], A=[[1.0]], row_lb=[0.0], row_ub=[1.0], lb=0, ub=1,
                      integrality=[False])
    assert be.solve(model).status == MilpStatus.INFEASIBLE
    assert len(be.calls) == 1


def test_engine_exception_and_unmapped_status_become_error():
    class Boom(Scripted):
        def _solve_raw(self, *a):
            raise RuntimeError("engine exploded")
    sol = Boom([]).solve(_free_model())
    assert sol.status == MilpStatus.ERROR and "exploded" in sol.message
    sol = Scripted(["weird"]).solve(_free_model())
    assert sol.status == MilpStatus.ERROR
    # OPTIMAL without a point is not trusted
    class NoPoint(Scripted):
        def _solve_raw(self, model, *a):
            return RawResult(MilpStatus.OPTIMAL, None)
    assert NoPoint([]).solve(_free_model()).status == MilpStatus.ERROR


# status tables: regression guards on the measured traps --------------------

def test_status_tables():
    from solver.backends import ortools_backend, pulp_backend, scipy_backend
    ok = set(MilpStatus) | {INFEASIBLE_OR_UNBOUNDED, UNBOUNDED_UNVERIFIED, pulp_backend._LIMIT,
                            scipy_backend._LIMIT}
    for table in (ortools_backend.PYWRAPLP_STATUS, pulp_backend.PULP_CBC_STATUS,
                  pulp_backend.HIGHS_MODEL_STATUS, scipy_backend.SCIPY_STATUS):
        assert set(table.values()) <= ok
    cbc = pulp_backend.PULP_CBC_STATUS
    assert cbc[(1, 2)] == MilpStatus.FEASIBLE          # "Optimal" status + IntegerFeasible
    assert cbc[(-1, 0)] != MilpStatus.TIME_LIMIT       # infeasible MILP, not a timeout
    assert cbc[(0, 0)] == MilpStatus.TIME_LIMIT
    assert ortools_backend.PYWRAPLP_STATUS[6] == MilpStatus.TIME_LIMIT   # NOT_SOLVED
    assert MilpStatus.INFEASIBLE not in [ortools_backend.PYWRAPLP_STATUS[c] for c in (1, 6, 98, 99)]


# registry, arguments, import hygiene ---------------------------------------

def test_get_backend_errors():
    with pytest.raises(InputError, match="scip"):
        get_backend("gurobi")
    assert get_backend(" SCIP ").name == "scip"
    for name in BACKENDS:
        if name not in AVAILABLE:
            with pytest.raises(InputError, match="not available"):
                get_backend(name)


def test_get_backend_unavailable(monkeypatch):
    cls = BACKENDS["scipy-highs"]
    monkeypatch.setattr(cls, "available", lambda self: False)
    with pytest.raises(InputError, match="not available"):
        get_backend("scipy-highs")


def test_pulp_highs_answers_honestly():
    be = BACKENDS["pulp-highs"]()
    assert isinstance(be.available(), bool)  # never raises, never crashes the process
    if not be.available():
        assert "pulp-highs" not in AVAILABLE


def test_bad_arguments():
    be = get_backend(DEFAULT_BACKEND)
    model, _ = mixed()
    with pytest.raises(InputError):
        be.solve(model, time_limit=-1)
    with pytest.raises(InputError):
        be.solve(model, threads=0)
    with pytest.raises(InputError):
        be.solve("not a model")
    with pytest.raises(InputError):
        MilpModel(c=[1.0, 2.0], A=[[1.0, 2.0, 3.0]], row_lb=[0], row_ub=[1], lb=0, ub=1,
                  integrality=[False, False])
    with pytest.raises(InputError):
        MilpModel(c=[1.0], A=[[1.0]], row_lb=[0, 1], row_ub=[1], lb=0, ub=1, integrality=[False])
    with pytest.raises(InputError):
        MilpModel(c=[np.nan], A=[[1.0]], row_lb=[0], row_ub=[1], lb=0, ub=1, integrality=[False])


def test_threads_and_verbose_accepted(backend, capfd):
    model, best = knapsack(seed=4, k=8)
    sol = backend.solve(model, threads=2)
    assert_solution(sol, model)
    assert sol.objective == pytest.approx(best)
    capfd.readouterr()
    backend.solve(model)  # not verbose: the engine prints nothing on stdout
    assert capfd.readouterr().out == ""


def test_import_loads_no_engine():
    code = ("import sys, solver.backends, solver.formulations; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ortools', 'pulp', 'highspy')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_base_is_pure_data():
    model, _ = mixed()
    with pytest.raises(Exception):
        model.c[0] = 5.0  # read-only arrays
    assert model.num_vars == 3 and model.num_rows == 3 and not model.bounded
    assert model.violation(np.array([3.0, 0.75, 0.0])) <= 1e-12
    assert model.violation(np.array([3.5, 0.75, 0.0])) == pytest.approx(1.0)  # row 0, integrality
    assert base.time_left(None) is None
    assert base.time_left(time.monotonic() - 5) == base.MIN_TIME_LIMIT


class _ClockBlindBackend(base.TemplateBackend):
    """An engine that ignores its time limit (as HiGHS's MIP presolve did for
    94 s on a 10 s limit) and, when let run, returns a wrong "optimal"."""
    name = "clock-blind"

    def available(self):
        return True

    def _solve_raw(self, model, deadline, threads, verbose):
        time.sleep(30)
        return RawResult(MilpStatus.OPTIMAL, np.zeros(model.num_vars), 0.0, "too late")


def test_an_engine_that_overruns_is_stopped_at_its_limit(monkeypatch):
    monkeypatch.setattr(base, "ISOLATE_NNZ", 0)
    model, _ = knapsack()
    t = time.monotonic()
    sol = _ClockBlindBackend().solve(model, time_limit=0.5)
    elapsed = time.monotonic() - t
    assert sol.status == MilpStatus.TIME_LIMIT and sol.x is None, sol
    assert elapsed < 5.0, elapsed
    # without a limit the same engine is not cut short (small models run inline)
    monkeypatch.setattr(base, "ISOLATE_NNZ", 10 ** 9)
    monkeypatch.setattr(_ClockBlindBackend, "_solve_raw",
                        lambda self, m, d, th, v: RawResult(MilpStatus.OPTIMAL, None, 0.0, "x"))
    assert _ClockBlindBackend().solve(model, time_limit=0.5).status != MilpStatus.TIME_LIMIT


def test_an_engine_that_overruns_small_models_is_isolated_whatever_the_size(monkeypatch):
    # ortools' CBC overran a 5 s limit by 1.2 s on an 11,400-weight inversion MIP,
    # far below ISOLATE_NNZ: a backend that says it does not keep its limits runs
    # every call with a limit in a child process killed at the limit
    monkeypatch.setattr(base, "ISOLATE_NNZ", 10 ** 9)
    monkeypatch.setattr(_ClockBlindBackend, "keeps_time_limit", False)
    model, _ = knapsack()
    t = time.monotonic()
    sol = _ClockBlindBackend().solve(model, time_limit=0.5)
    assert sol.status == MilpStatus.TIME_LIMIT and sol.x is None, sol
    assert time.monotonic() - t < 5.0
    from solver.backends import get_backend
    assert get_backend("cbc").keeps_time_limit is False
    assert get_backend("scip").keeps_time_limit is True


class _SubprocessBackend(base.TemplateBackend):
    """An engine that runs a program (as PuLP runs CBC) and overruns its limit."""
    name = "subprocess-engine"

    def available(self):
        return True

    def _solve_raw(self, model, deadline, threads, verbose):
        import subprocess
        proc = subprocess.Popen(["sleep", "60"])
        with open(self.pidfile, "w") as fh:
            fh.write(str(proc.pid))
        proc.wait()
        return RawResult(MilpStatus.OPTIMAL, np.zeros(model.num_vars), 0.0, "too late")


def test_an_engine_killed_at_its_limit_takes_its_subprocesses_along(monkeypatch, tmp_path):
    # PuLP's CBC (a subprocess of the killed engine child) ran on for 3-4 s after
    # `reluinj invert` had returned; the child now leads a process group, killed whole
    import os
    import shutil
    if shutil.which("sleep") is None or not hasattr(os, "killpg"):
        pytest.skip("needs sleep(1) and process groups")
    monkeypatch.setattr(base, "ISOLATE_NNZ", 0)
    be = _SubprocessBackend()
    be.pidfile = str(tmp_path / "pid")
    model, _ = knapsack()
    sol = be.solve(model, time_limit=1.0)
    assert sol.status == MilpStatus.TIME_LIMIT and sol.x is None
    pid = int(open(be.pidfile).read())
    for _ in range(50):          # the kill is asynchronous: give the kernel a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the engine's subprocess outlived the killed engine")


#: a solve that runs for minutes (market split, m = 5) in an isolated engine child
LONG_SOLVE = """
import sys
import numpy as np
from solver.backends import MilpModel, base, get_backend
base.ISOLATE_NNZ = 0                 # this small model is isolated as a large one is
rng = np.random.default_rng(0)
A = rng.integers(0, 100, size=(5, 40)).astype(float)
d = np.floor(A.sum(1) / 2)
model = MilpModel(c=np.zeros(40), A=A, row_lb=d, row_ub=d, lb=0, ub=1,
                  integrality=np.ones(40, bool))
print("started", flush=True)
get_backend(sys.argv[1]).solve(model, time_limit=120)
"""


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("name", ["cbc", "pulp-cbc"])
def test_a_killed_parent_takes_the_engine_child_and_its_programs_along(name):
    """``kill -9`` of the process solving: the engine child and the programs
    it runs (PuLP's CBC binary, a grandchild) die within a second or two.
    Before the group guard, PuLP's CBC ran on until its own 120 s limit."""
    import os
    import signal
    from conftest import descendants, wait_until_dead
    if name not in AVAILABLE:
        pytest.skip(f"{name} not available")
    p = subprocess.Popen([sys.executable, "-c", LONG_SOLVE, name], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "started"

        def engine_running():
            kids = descendants(p.pid)
            if name != "pulp-cbc":
                return kids
            # the CBC binary itself, not only the child that will start it
            return kids if any(_comm(k) == "cbc" for k in kids) else set()
        deadline = time.monotonic() + 20
        while not engine_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)                  # (the guard and the engine are up by now)
        kids = descendants(p.pid)
        assert engine_running(), "the engine did not start"
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    alive = wait_until_dead(kids, 3)
    for k in alive:                      # clean up after a failure
        os.kill(k, signal.SIGKILL)
    assert not alive, f"{name}: processes {alive} outlived their killed parent"
