"""The float rows the LPs see (solver.floatrows.unit_rows) have the directions of
the exact rows every conclusion is drawn from, checked in exact arithmetic,
for every caller of the sign-system solver (solver.lp.SignSystems)."""
from fractions import Fraction

import numpy as np
import pytest

from solver import exact, floatrows, lp

EPS = Fraction(1, 2**52)


def assert_same_direction(f, g, cols=None):
    """Exact: the float row ``f`` is a positive multiple of the exact row
    ``g`` up to a few roundings of each entry (same zero pattern, same
    signs, entry ratios within 4 ulp of each other), and unit in its first
    ``cols`` entries; a zero row (zero normed part) is left unchanged."""
    g = [Fraction(v) for v in g]
    f = [Fraction(float(v)) for v in f]          # exact values of the binary64 entries
    part = slice(None) if cols is None else slice(0, cols)
    if not any(g[part]):
        return
    assert [v == 0 for v in f] == [v == 0 for v in g]
    ratios = [a / c for a, c in zip(f, g) if c != 0]
    assert min(ratios) > 0
    assert max(ratios) <= min(ratios) * (1 + 4 * EPS)
    assert abs(sum(v * v for v in f[part]) - 1) <= 8 * EPS


def extreme_layer(seed, m=7, n=3):
    """Gaussian rows at scales 1e-200 .. 1e200 (their squares under- or
    overflow binary64), a zero row and a row with w = 0, b != 0."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n)) * 10.0 ** rng.choice([-200, -150, 0, 150, 200], size=(m, 1))
    b = rng.standard_normal(m) * 10.0 ** rng.choice([-1, 0, 1], size=m) * np.abs(W).max(axis=1)
    W[0], b[0] = 0.0, 0.0
    W[1], b[1] = 0.0, 3.0
    return W, b


@pytest.mark.parametrize("seed", range(3))
def test_unit_rows_have_the_directions_of_the_exact_rows(seed):
    W, b = extreme_layer(seed)
    G, _ = exact.integer_rows(W, b)
    F, norms = floatrows.unit_rows(np.hstack([W, b[:, None]]))
    assert norms[0] == 1.0 and not F[0].any()
    for f, g in zip(F, G):
        assert_same_direction(f, g)
    # exact rows in: affine rows normalised by their normal part
    n = W.shape[1]
    rows = [[Fraction(v) * 10**300 for v in g] for g in G]
    U, nu = floatrows.unit_rows(rows, cols=n)
    for u, g, s in zip(U, rows, nu):
        assert_same_direction(u, g, cols=n)
        assert s > 0


def test_every_caller_of_the_sign_systems_sees_the_directions_of_its_rows(monkeypatch):
    # record every SignSystems the sign tree, the cell enumeration, the
    # orthant tree, the sigma* search and the depth bound build
    built = []

    class Recording(lp.SignSystems):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            built.append(self)

    monkeypatch.setattr(lp, "SignSystems", Recording)
    from solver.depth import certify_depth
    from solver.enumeration import enumerate_cells
    from solver.network.orthant import check_layer_nonneg
    from solver.search import sign_tree_search
    from solver.sigma_search import sigma_star
    W, b = extreme_layer(0)
    callers = {
        "sign tree": lambda: sign_tree_search(W, b),
        "enumeration": lambda: enumerate_cells(W, b),
        "orthant": lambda: check_layer_nonneg(W, b),
        "sigma": lambda: sigma_star(W, b),
        "sigma nonneg": lambda: sigma_star(W, b, domain="nonneg"),
        "depth": lambda: certify_depth(W, b),
    }
    for name, run in callers.items():
        before = len(built)
        run()
        assert len(built) > before, name
        for S in built[before:]:
            assert S.F.shape == (len(S.G), S.n + 1)
            for f, g in zip(S.F, S.G):
                assert_same_direction(f, g)


def test_sign_systems_forms_decide_alike():
    # the primal and the dual LP form behind one SignSystems: the same exact
    # answers (feasible: a strictly feasible exact point; infeasible: exact
    # Gordan multipliers of the rows [w_i, b_i])
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((12, 2)), rng.standard_normal(12)     # 12 of 20 infeasible
    forms = [lp.SignSystems(W, b, form=f) for f in ("dual", "primal")]
    G, _ = exact.integer_rows(W, b)
    Wb = [[Fraction(v) for v in row] + [Fraction(c)] for row, c in zip(W.tolist(), b.tolist())]
    for _ in range(20):
        signed = [(int(i), int(rng.choice([-1, 1]))) for i in rng.permutation(12)[:6]]
        answers = []
        for S in forms:
            feas, _, y = S.float_solve(signed)
            mult, z = S.settle(signed, feas, y)
            if mult is None:
                assert z[-1] > 0 and all(s * exact.dot(G[i], z) > 0 for i, s in signed)
            else:   # sum_i mult_i (-s_i) [w_i, b_i] = (0, ..., 0, c), c >= 0
                tot = [sum(-s * mult[i] * Wb[i][r] for i, s in signed if i in mult)
                       for r in range(3)]
                assert all(v > 0 for v in mult.values())
                assert tot[:2] == [0, 0] and tot[2] >= 0
            answers.append(mult is None)
        assert answers[0] == answers[1]
    with pytest.raises(ValueError, match="form"):
        lp.SignSystems(W, b, form="simplex")
