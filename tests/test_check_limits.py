"""Time limits of the MIPs of ``reluinj check`` (non-negotiable 4: every
method returns within 10 % of its limit, plus start-up).

Before: ``solve_model`` gave every MIP at least 0.5 s, ``collapse`` at least
0.05 s and the two-copy MILP's bound tightening at least 1 s, even with the
deadline passed (the figures in the comments were measured on the code
before, on the shared 2-core machine). Here everything runs in this process
with the engines imported up front, so there is no start-up: the only slack is
``STEP``, the longest step that is not interrupted (one LP, one exact check,
one engine's answer: measured under 0.05 s on these models).
"""
import time

import numpy as np
import pytest

from solver.backends import DEFAULT_BACKEND, MilpModel, get_backend
from solver.network import make_network

STEP = 0.1


@pytest.fixture(scope="module", autouse=True)
def engines_loaded():
    """Import the engines first: an import is start-up, not the method's work."""
    for name in (DEFAULT_BACKEND, "scipy-highs"):
        get_backend(name)


def _timed(fn, *args, **kw):
    t0 = time.monotonic()
    out = fn(*args, **kw)
    return out, time.monotonic() - t0


def test_no_mip_is_started_with_the_deadline_passed():
    from solver.netmilp import solve_model

    class Counting:
        name = "counting"
        limits = []

        def solve(self, model, *, time_limit=None, threads=1, verbose=False):
            self.limits.append(time_limit)
            raise AssertionError("an engine was started")

    be = Counting()
    m = MilpModel(c=[1.0], A=[[1.0]], row_lb=[0.0], row_ub=[1.0], lb=0, ub=1, integrality=[True])
    for left in (0.0, -1.0, 0.01):
        sol, name = solve_model(m, be, time_limit=left)      # before: solved with 0.5 s
        assert sol.status.value == "time_limit" and sol.x is None and name == "counting"
    assert be.limits == []


def test_solve_model_gives_the_engine_less_than_the_time_left():
    # an engine overruns its own limit (ENGINE_OVERRUN); solve_model sets
    # that aside, so the call returns by the time given, not 10-80 % later
    from solver.netmilp import ENGINE_OVERRUN, solve_model
    seen = []

    class Recording:
        name = "recording"

        def solve(self, model, *, time_limit=None, threads=1, verbose=False):
            seen.append(time_limit)
            return get_backend("scipy-highs").solve(model, time_limit=time_limit)

    m = MilpModel(c=[-1.0], A=[[1.0]], row_lb=[0.0], row_ub=[2.5], lb=0, ub=9,
                  integrality=[True])
    sol, _ = solve_model(m, Recording(), time_limit=2.0)
    assert sol.objective == -2.0
    share, latency = ENGINE_OVERRUN
    assert seen[0] * (1 + share) + latency <= 2.0
    assert solve_model(m, Recording(), time_limit=None)[0].objective == -2.0 and seen[1] is None


def _pair_network():
    """10 -> 50 -> 40 -> 60: the first layer is injective ([I; -I; G]), the
    second is not on the orthant (40 < 50 rows), so only the two-copy MILP
    is left, and it does not finish in a second."""
    rng = np.random.default_rng(3)
    n = 10
    W0 = np.vstack([np.eye(n), -np.eye(n), rng.standard_normal((30, n))])
    W1 = rng.standard_normal((40, 50)) / 7
    W2 = rng.standard_normal((60, 40)) / 6
    return make_network([W0, W1, W2], [np.zeros(50), 0.1 * rng.standard_normal(40),
                                       0.1 * rng.standard_normal(60)],
                        ["relu", "relu", "identity"])


@pytest.mark.parametrize("limit", [0.2, 0.6])
def test_the_two_copy_milp_search_keeps_its_limit(limit, frozen_heap):
    # before: 0.46 s at 0.2 and 0.3 s (bound tightening took at least 1 s)
    from solver.network.pairmilp import search_pair_milp
    (w, info), took = _timed(search_pair_milp, _pair_network(), box=10.0, time_limit=limit)
    assert took <= 1.1 * limit + STEP, (took, info)
    assert w is None          # (no pair in this time; a pair would be checked exactly)


def test_collapse_keeps_a_tiny_limit(frozen_heap):
    # before: 0.54 s at 0.3 s (the MILP got 0.5 s); the value, when there is
    # one, is an exact pair's, checked through the network
    from fractions import Fraction
    from solver.collapse import collapse
    rng = np.random.default_rng(7)
    one = make_network([rng.standard_normal((40, 20))], [0.1 * rng.standard_normal(40)], ["relu"])
    c, took = _timed(collapse, one, box=2.0, time_limit=0.3)
    assert took <= 1.1 * 0.3 + STEP, (took, c.stats)
    if c.value is not None:
        z1, z2 = [Fraction(v) for v in c.z1], [Fraction(v) for v in c.z2]
        assert one.check_witness(z1, z2)[0]
        assert c.value == max(abs(a - b) for a, b in zip(z1, z2))
