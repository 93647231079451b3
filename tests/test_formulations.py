"""Witness-search MILPs (solver.formulations) solved by every available backend.

The decoded active set is checked exactly (integer rows, python-flint rank):
whenever a MILP returns a point, its rows with z_i = 1 must have rank < n and
the point must respect the sign constraints. A MILP "infeasible" proves
nothing in general, but on the tiny injective layers below no backend may
return a point.
"""
import flint
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.backends import MilpStatus, available_backends, get_backend
from solver.errors import InputError
from solver.formulations import Formulation, few_active_milp, rank_deficient_milp

AVAILABLE = available_backends()
BUILDERS = {"rankdef": rank_deficient_milp, "fewactive": few_active_milp}


def exact_rank(W, rows):
    """Rank of the (integer) rows of W listed in ``rows``, exactly."""
    n = W.shape[1]
    if not rows:
        return 0
    return flint.fmpz_mat([[int(v) for v in W[i]] for i in rows]).rank() if n else 0


def check_point(F: Formulation, W, b, sol_x):
    """The decoded set is rank-deficient and consistent with the point x:
    z_i = 0 rows strictly negative, z_i = 1 rows non-negative up to the
    engines' tolerance (so the decoded set contains the true active set)."""
    active = F.decode(sol_x)
    n = W.shape[1]
    assert exact_rank(W, active) < n, (active, W)
    x = F.x_part(sol_x)
    assert x.shape == (n,) and np.all(np.abs(x) <= F.box * (1 + 1e-9))
    norm1 = np.abs(W).sum(1)
    s = W @ x + b
    scaled = np.where(norm1 > 0, s / np.where(norm1 > 0, norm1, 1), np.sign(b))
    on = np.zeros(W.shape[0], bool)
    on[list(active)] = True
    assert np.all(scaled[~on] < 0), (scaled, active)
    tol = 0.5 * F.row_margin + 1e-9  # tolerance-level z_i = 1 rows may dip below zero a little
    assert np.all(scaled[on] >= -tol[on]), (scaled, active)
    # hence the true active set at x is inside the decoded one: rank-deficient too
    true_active = tuple(int(i) for i in np.flatnonzero(s >= 0))
    assert set(true_active) <= set(active)
    assert exact_rank(W, true_active) < n
    if F.kind == "fewactive":
        assert int(np.sum(norm1[list(active)] > 0)) <= n - 1
    else:
        v = F.v_part(sol_x)
        assert np.max(np.abs(v)) == pytest.approx(1.0, abs=1e-6)
    return active


KNOWN = {
    # name: (W, b, injective)
    "1d-opposite": ([[1], [-1]], None, True),
    "1d-same": ([[1], [2]], None, False),
    "triangle": ([[1, 0], [0, 1], [-1, -1]], None, False),
    "cross": ([[1, 0], [0, 1], [-1, 0], [0, -1]], None, True),
    # opposite rows x_k + b, -x_k + b': some of the pair is active iff b + b' >= 0
    "cross-biased": ([[1, 0], [0, 1], [-1, 0], [0, -1]], [1, -2, 3, 2], True),
    "cross-gap": ([[1, 0], [0, 1], [-1, 0], [0, -1]], [1, -2, 3, 1], False),
    "zero-row": ([[0, 0], [1, 0], [0, 1]], [1, 0, 0], False),
}


@pytest.mark.parametrize("backend_name", AVAILABLE)
@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("case", sorted(KNOWN))
def test_known_layers(backend_name, kind, case):
    W, b, injective = KNOWN[case]
    W = np.array(W, dtype=float)
    b = np.zeros(len(W)) if b is None else np.array(b, dtype=float)
    F = BUILDERS[kind](W, b)
    sol = get_backend(backend_name).solve(F.model, time_limit=20)
    if injective:
        assert sol.status == MilpStatus.INFEASIBLE, sol
    else:
        assert sol.status == MilpStatus.OPTIMAL, sol
        check_point(F, W, b, sol.x)


@pytest.mark.parametrize("box", [1.0, 1e3, 1e6])
@pytest.mark.parametrize("backend_name", AVAILABLE)
def test_injective_1d_infeasible_for_any_box(backend_name, box):
    W = np.array([[1.0], [-1.0]])
    for build in BUILDERS.values():
        sol = get_backend(backend_name).solve(build(W, box=box).model, time_limit=20)
        assert sol.status == MilpStatus.INFEASIBLE, (box, sol)


def test_box_is_not_a_proof():
    # ReLU(x + 5000), ReLU(x - 5000): not injective (x < -5000 maps to 0), but
    # inside [-1000, 1000] row 0 is always active: the MILP is infeasible there.
    W, b = np.array([[1.0], [1.0]]), np.array([5000.0, -5000.0])
    be = get_backend("scip")
    F = rank_deficient_milp(W, b, box=1e3)
    assert be.solve(F.model).status == MilpStatus.INFEASIBLE
    F = rank_deficient_milp(W, b, box=1e4)
    sol = be.solve(F.model)
    assert sol.status == MilpStatus.OPTIMAL
    assert check_point(F, W, b, sol.x) == ()


def test_general_position_blind_spot_of_few_active():
    # Three pairs of parallel rows: (1,0) x2, (0,1) x2, (-1,-1) x2. Every x
    # activates at least one pair (the three directions sum to 0), so every
    # point has >= 2 = n active rows and the few-active MILP is infeasible;
    # yet the layer is not injective: at x = (1, -0.5) only the (1,0) pair is
    # active (rank 1). The rank-deficiency MILP finds it.
    W = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0], [-1.0, -1.0], [-2.0, -2.0]])
    b = np.zeros(6)
    be = get_backend("scip")
    assert be.solve(few_active_milp(W, b).model).status == MilpStatus.INFEASIBLE
    F = rank_deficient_milp(W, b)
    sol = be.solve(F.model)
    assert sol.status == MilpStatus.OPTIMAL
    assert len(check_point(F, W, b, sol.x)) == 2


def test_formulation_shapes_and_fixed_rows():
    W = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    b = np.array([2.0, -1.0, 1e6, -1e6])
    F = rank_deficient_milp(W, b, box=10.0)
    assert (F.n, F.m, F.kind) == (2, 4, "rankdef")
    assert F.x_index.shape == F.v_index.shape == (2,) and F.z_index.shape == (4,)
    lb, ub = F.model.lb[F.z_index], F.model.ub[F.z_index]
    # zero rows fixed by the sign of b; row 2 always on, row 3 always off in the box
    assert list(lb) == [1, 0, 1, 0] and list(ub) == [1, 0, 1, 0]
    assert F.model.integrality[F.z_index].all() and not F.model.integrality[F.x_index].any()
    assert np.all(F.model.lb[F.x_index] == -10) and np.all(F.model.ub[F.x_index] == 10)
    assert not F.model.c.any()
    G = few_active_milp(W, b, box=10.0)
    assert G.v_index.size == 0 and G.v_part(np.zeros(G.model.num_vars)) is None
    assert few_active_milp(W, b, minimize_active=True).model.c[G.z_index].tolist() == [0, 0, 1, 1]
    sol = np.zeros(F.model.num_vars)
    sol[F.z_index] = [1, 0, 1, 0]
    sol[F.x_index] = [3, 4]
    assert F.decode(sol) == (0, 2) and F.x_part(sol).tolist() == [3, 4]
    with pytest.raises(InputError):
        F.decode(np.zeros(3))


@pytest.mark.parametrize("kw", [dict(box=0), dict(box=np.inf), dict(margin=-1),
                                dict(rel_margin=2), dict(box="big")])
def test_bad_parameters(kw):
    with pytest.raises(InputError):
        rank_deficient_milp(np.eye(2), **kw)
    with pytest.raises(InputError):
        few_active_milp(np.eye(2), **kw)


def test_bad_layers():
    for W, b in ((np.zeros((0, 2)), None), (np.array([[np.nan]]), None), (np.eye(2), [1.0])):
        for build in BUILDERS.values():
            with pytest.raises(InputError):
                build(W, b)


def _rows_by_definition(W, b, box, kind):
    """The model rows of the module docstring, written out one layer row at a
    time: ``[(coefs on x, coefs on v, coef on z_i, i, lo, hi), ...]``."""
    from solver.formulations import ABS_MARGIN, REL_MARGIN, _WIDEN
    out = []
    m, n = W.shape
    for i in range(m):
        l1 = np.abs(W[i]).sum()
        if l1 == 0:
            continue
        a, c = W[i] / l1, b[i] / l1
        L = c - box - _WIDEN * (abs(c) + box)
        U = c + box + _WIDEN * (abs(c) + box)
        mu = max(1e-6, REL_MARGIN * (box + abs(c)), ABS_MARGIN)
        if U <= -mu:
            continue                              # always off: z_i = 0, nothing else
        zero = np.zeros(n)
        if L < 0:                                 # free: the two indicator rows
            out.append((a, zero, L, i, L - c, np.inf))
            out.append((a, zero, -(U + mu), i, -np.inf, -mu - c))
        if kind == "rankdef":                     # z_i = 1 => a_i.v = 0
            N = 1 + _WIDEN
            out.append((zero, a, N, i, -np.inf, N))
            out.append((zero, a, -N, i, -N, np.inf))
    return out


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_rows_are_the_documented_constraints_in_order(kind):
    # the rows are built in one vectorised call (row by row took 0.4-2.4 s on
    # a 3000 x 30 layer, past the time limit); they are the definitions, in order
    rng = np.random.default_rng(4)
    W, b = rng.standard_normal((12, 3)), rng.standard_normal(12)
    W[2] = 0.0
    b[4], b[5] = 50.0, -50.0                     # always on, always off in the box
    F = BUILDERS[kind](W, b, box=10.0)
    want = _rows_by_definition(W, b, 10.0, kind)
    A = F.model.A.toarray()
    first = 1 + F.n if kind == "rankdef" else 0  # sum p = 1 and v >= -1 + 2p come first
    rows = range(first, first + len(want))
    assert F.model.num_rows == len(want) + first + (kind == "fewactive")
    for r, (ax, av, zc, i, lo, hi) in zip(rows, want):
        assert np.array_equal(A[r, F.x_index], ax) and A[r, F.z_index[i]] == zc
        if kind == "rankdef":
            assert np.array_equal(A[r, F.v_index], av)
        others = np.delete(A[r], np.r_[F.x_index, F.v_index, F.z_index[i]].astype(int))
        assert not others.any()
        assert (F.model.row_lb[r], F.model.row_ub[r]) == (lo, hi)


def test_big_model_builds_fast():
    import time
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((400, 30)), rng.standard_normal(400)
    t = time.monotonic()
    F = rank_deficient_milp(W, b)
    assert time.monotonic() - t < 2.0
    assert F.model.num_vars == 3 * 30 + 400


# random small integer layers: every returned point is a genuine witness ----

layers = st.integers(1, 3).flatmap(lambda n: st.integers(1, 5).flatmap(lambda m: st.tuples(
    st.lists(st.lists(st.integers(-3, 3), min_size=n, max_size=n), min_size=m, max_size=m),
    st.lists(st.integers(-3, 3), min_size=m, max_size=m))))


@pytest.mark.parametrize("backend_name", AVAILABLE)
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(layer=layers, box=st.sampled_from([1.0, 10.0, 1e3]), kind=st.sampled_from(sorted(BUILDERS)))
def test_random_layers_points_are_witnesses(backend_name, layer, box, kind):
    W = np.array(layer[0], dtype=float)
    b = np.array(layer[1], dtype=float)
    F = BUILDERS[kind](W, b, box=box)
    sol = get_backend(backend_name).solve(F.model, time_limit=10)
    assert sol.status in (MilpStatus.OPTIMAL, MilpStatus.INFEASIBLE), sol
    if sol.x is not None:
        check_point(F, W, b, sol.x)
