"""Exhaustive cell enumeration (solver.enumeration).

Cell counts are checked against closed formulas (general position) and, for
degenerate arrangements, against an independent exact count: Zaslavsky's
theorem via Whitney's formula, r(A) = sum over consistent subsets B of the
distinct hyperplanes of (-1)^(|B| - rank B), computed here with plain
Fractions (no LP, no flint). The same sum weighted by |B| counts the pairs of
cells separated by exactly one hyperplane (deletion-restriction: the edges of
the adjacency graph are the regions of the restrictions A^H), which checks
adjacency_graph(). Every witness is re-checked exactly and every certificate
by the independent checker.
"""
import itertools
import math
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest

from solver import enumeration as en
from solver.certificates import checker
from solver.enumeration import (certificate_from_enumeration, decide_by_enumeration,
                                enumerate_cells)
from solver.exact import check_layer_witness

from conftest import load_instance, manifest



# ---------------------------------------------------------------------------
# independent exact helpers (Fractions only)
# ---------------------------------------------------------------------------
def frac_rows(W, b):
    W = np.asarray(W, dtype=float)
    b = np.zeros(W.shape[0]) if b is None else np.asarray(b, dtype=float)
    return [[Fraction(float(v)) for v in row] + [Fraction(float(c))] for row, c in zip(W, b)]


def frac_rank(rows):
    rows = [list(r) for r in rows]
    rank = 0
    ncols = len(rows[0]) if rows else 0
    for c in range(ncols):
        piv = next((r for r in range(rank, len(rows)) if rows[r][c] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][c] != 0:
                f = rows[r][c] / rows[rank][c]
                rows[r] = [a - f * e for a, e in zip(rows[r], rows[rank])]
        rank += 1
    return rank


def distinct_hyperplanes(W, b):
    """Nonzero rows up to nonzero scaling of [w, b] (exact)."""
    seen = {}
    for r in frac_rows(W, b):
        if all(v == 0 for v in r[:-1]):
            continue
        lead = next(v for v in r if v != 0)
        seen.setdefault(tuple(v / lead for v in r), r)
    return list(seen.values())


def zaslavsky(W, b=None):
    """(number of regions, number of pairs of regions separated by exactly
    one hyperplane), by Whitney's formula over consistent subsets."""
    H = distinct_hyperplanes(W, b)
    regions = edges = 0
    for k in range(len(H) + 1):
        for B in itertools.combinations(H, k):
            rk = frac_rank([r[:-1] for r in B]) if B else 0
            if B and frac_rank(B) != rk:
                continue  # empty intersection
            t = (-1) ** ((k - rk) % 2)
            regions += t
            edges += k * t
    return regions, edges


def assert_cells_exact(W, b, enum):
    """Every point strictly inside its cell, recomputed with Fractions;
    sign vectors distinct; zero rows report 0."""
    rows = frac_rows(W, b)
    n = np.asarray(W).shape[1]
    signs = set()
    for c in enum.cells:
        assert len(c.point) == n and all(isinstance(x, Fraction) for x in c.point)
        for r, s in zip(rows, c.sign):
            if all(v == 0 for v in r[:-1]):
                assert s == 0
            else:
                val = sum((w * x for w, x in zip(r[:-1], c.point)), r[-1])
                assert s in (1, -1) and s * val > 0
        signs.add(c.sign)
    assert len(signs) == len(enum.cells)


def central_gp(m, n):
    return 2 * sum(math.comb(m - 1, i) for i in range(n))


def affine_gp(m, n):
    return sum(math.comb(m, i) for i in range(n + 1))


# ---------------------------------------------------------------------------
# general position
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("m,n", [(1, 1), (3, 1), (3, 2), (6, 2), (4, 3), (8, 3), (6, 4), (9, 4)])
def test_general_position_counts(m, n):
    rng = np.random.default_rng(100 * m + n)
    W = rng.standard_normal((m, n))
    b = rng.standard_normal(m)
    e0 = enumerate_cells(W)
    assert e0.complete and e0.reason == "complete" and (e0.m, e0.n) == (m, n)
    assert len(e0.cells) == central_gp(m, n)
    e1 = enumerate_cells(W, b)
    assert e1.complete and len(e1.cells) == affine_gp(m, n)
    for e, bb in ((e0, None), (e1, b)):
        assert_cells_exact(W, bb, e)
        g = e.adjacency_graph()
        assert nx.is_connected(g)
        assert all(g.nodes[k]["sign"] == c.sign for k, c in enumerate(e.cells))
    # facets: each hyperplane carries the regions of a general-position
    # arrangement of m-1 hyperplanes in dimension n-1, each shared by 2 cells
    g0, g1 = e0.adjacency_graph(), e1.adjacency_graph()
    assert g0.number_of_edges() == (m * central_gp(m - 1, n - 1) if n > 1 else 1)
    assert g1.number_of_edges() == m * affine_gp(m - 1, n - 1)
    if n == 2 and m >= 2:
        assert all(d == 2 for _, d in g0.degree())  # a 2-D cone has two facets
    if n >= 2 and m >= n:
        assert all(d >= n for _, d in g0.degree())  # a pointed cone has >= n facets


# ---------------------------------------------------------------------------
# degenerate arrangements
# ---------------------------------------------------------------------------
def degenerate_layer(rng, n, bias):
    k = int(rng.integers(2, 5))
    base = rng.integers(-2, 3, size=(k, n)).astype(float)
    bb = rng.integers(-2, 3, size=k).astype(float) if bias else np.zeros(k)
    W, b = [list(r) for r in base], list(bb)
    for _ in range(int(rng.integers(2, 6))):
        i = int(rng.integers(k))
        kind = rng.integers(5)
        lam = [2.0, 0.5, 3.0, -1.0, -0.25, -3.0][int(rng.integers(6))]
        if kind == 0:      # exact multiple (positive or negative): coincident
            W.append([lam * v for v in base[i]])
            b.append(lam * bb[i])
        elif kind == 1:    # parallel, shifted
            W.append(list(base[i]))
            b.append(bb[i] + 1.0 if bias else 0.0)
        elif kind == 2:    # zero row
            W.append([0.0] * n)
            b.append(float(rng.integers(-1, 2)))
        elif kind == 3:    # exact duplicate
            W.append(list(base[i]))
            b.append(bb[i])
        else:              # antiparallel duplicate
            W.append([-v for v in base[i]])
            b.append(-bb[i])
    perm = rng.permutation(len(W))
    return np.array(W)[perm], np.array(b)[perm]


@pytest.mark.parametrize("seed", range(24))
def test_degenerate_counts_match_zaslavsky(seed):
    rng = np.random.default_rng(seed)
    n = [1, 2, 2, 3][seed % 4]
    bias = seed % 3 != 0
    W, b = degenerate_layer(rng, n, bias)
    bb = b if bias else None
    e = enumerate_cells(W, bb)
    assert e.complete
    regions, edges = zaslavsky(W, bb)
    assert len(e.cells) == regions
    g = e.adjacency_graph()
    assert g.number_of_edges() == edges
    assert nx.is_connected(g)
    assert_cells_exact(W, bb, e)
    # coincident rows: sign(row j) = sign(lam) sign(row i) in every cell
    rows = frac_rows(W, bb)
    for i, j in itertools.combinations(range(len(rows)), 2):
        ri, rj = rows[i], rows[j]
        if any(ri[:-1]) and any(rj[:-1]) and frac_rank([ri, rj]) == 1:
            lam = next(x / y for x, y in zip(rj, ri) if y != 0)
            for c in e.cells:
                assert c.sign[j] == (1 if lam > 0 else -1) * c.sign[i]
    r = decide_by_enumeration(W, bb)
    assert r.verdict in ("injective", "not_injective")
    assert_decision_proved(W, bb, r)
    # edges record whole classes
    for u, v, data in g.edges(data=True):
        diff = {i for i, (s, t) in enumerate(zip(e.cells[u].sign, e.cells[v].sign)) if s != t}
        assert diff == set(data["rows"])


@pytest.mark.parametrize("seed", range(6))
def test_central_n2_lines(seed):
    rng = np.random.default_rng(seed)
    W, _ = degenerate_layer(rng, 2, False)
    # distinct lines through the origin, by exact cross products
    dirs = []
    for w in W:
        if w[0] == 0 and w[1] == 0:
            continue
        if not any(Fraction(w[0]) * Fraction(d[1]) == Fraction(w[1]) * Fraction(d[0]) for d in dirs):
            dirs.append(w)
    L = len(dirs)
    e = enumerate_cells(W)
    assert len(e.cells) == (2 * L if L else 1)
    assert e.adjacency_graph().number_of_edges() == (2 * L if L >= 2 else L)


def test_zero_and_coincident_rows_small():
    W = np.array([[1.0, 0.0], [0.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    e = enumerate_cells(W, np.array([0.0, 5.0, 0.0, 0.0, 0.0]))
    assert e.complete and len(e.cells) == 4
    assert {c.sign for c in e.cells} == {(s, 0, -s, t, t) for s in (1, -1) for t in (1, -1)}
    e1 = enumerate_cells(np.array([[1.0], [2.0], [-1.0]]), np.array([0.0, 1.0, 0.0]))
    assert len(e1.cells) == 3  # x = 0 (two antiparallel rows) and x = -1/2
    e2 = enumerate_cells(np.zeros((3, 2)))
    assert len(e2.cells) == 1 and e2.cells[0].sign == (0, 0, 0)
    e3 = enumerate_cells(np.zeros((0, 2)))
    assert len(e3.cells) == 1 and e3.cells[0].sign == ()


def test_rank_deficient_arrangement():
    rng = np.random.default_rng(7)
    W = rng.standard_normal((7, 2)) @ np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])  # rank 2 in R^3
    b = rng.standard_normal(7)
    for bb in (None, b):
        e = enumerate_cells(W, bb)
        assert e.complete and len(e.cells) == zaslavsky(W, bb)[0]
        assert_cells_exact(W, bb, e)


def test_thin_cells_float_construction():
    """[B; -DB] with D B rounded: rows antiparallel to ~1e-16, the thin
    cells between them must all be found (exact LP fallback)."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal((4, 3))
    D = np.array([0.3, 1.7, 2.9, 0.1])
    W = np.vstack([B, -D[:, None] * B])
    e = enumerate_cells(W)
    assert e.complete
    regions, edges = zaslavsky(W)
    assert len(e.cells) == regions
    assert e.adjacency_graph().number_of_edges() == edges
    assert_cells_exact(W, None, e)


# ---------------------------------------------------------------------------
# decisions, certificates, witnesses
# ---------------------------------------------------------------------------
def assert_decision_proved(W, b, r):
    if r.verdict == "not_injective":
        x1, x2 = r.witness
        assert all(isinstance(x, Fraction) for x in x1 + x2)
        ok, why = check_layer_witness(W, b, x1, x2)
        assert ok, why
        assert r.certificate is None
    elif r.verdict == "injective":
        assert r.complete and r.witness is None
        ok, why = checker.check_certificate(W, b, r.certificate)
        assert ok, why


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["file"])
def test_manifest_instances(entry):
    W, b = load_instance(entry["file"])
    r = decide_by_enumeration(W, b, time_limit=20)
    assert r.verdict in ("injective", "not_injective")
    assert_decision_proved(W, b, r)
    expected = "injective" if entry["injective"] else "not_injective"
    assert r.verdict == expected


def test_exact_construction_is_injective_with_certificate():
    """[B; -DB] with D a positive diagonal of powers of two: exactly
    antiparallel pairs, injective (the Puthawala et al. construction)."""
    rng = np.random.default_rng(11)
    B = rng.standard_normal((3, 3))
    D = np.array([0.5, 2.0, 4.0])
    W = np.vstack([B, -D[:, None] * B])
    r = decide_by_enumeration(W)
    assert r.verdict == "injective" and r.cells == 2 ** 3
    assert_decision_proved(W, None, r)
    e = enumerate_cells(W)
    for compress in (True, False):
        doc = certificate_from_enumeration(W, None, e)
        doc["tree"] = e.certificate_tree(compress=compress)
        ok, why = checker.check_certificate(W, None, doc)
        assert ok, why


@pytest.mark.parametrize("seed", range(4))
def test_uncompressed_certificates_and_affine(seed):
    rng = np.random.default_rng(50 + seed)
    n = 2 + seed % 2
    W = rng.standard_normal((4 * n, n))
    b = 0.3 * rng.standard_normal(4 * n)
    e = enumerate_cells(W, b)
    spans = all(np.linalg.matrix_rank(W[[i for i, s in enumerate(c.sign) if s == 1]]) == n
                if any(s == 1 for s in c.sign) else False for c in e.cells)
    r = decide_by_enumeration(W, b)
    assert_decision_proved(W, b, r)
    assert (r.verdict == "injective") == spans
    if spans:
        tree = e.certificate_tree(compress=False)
        doc = certificate_from_enumeration(W, b, e)
        doc["tree"] = tree
        ok, why = checker.check_certificate(W, b, doc)
        assert ok, why
    else:
        with pytest.raises(ValueError):
            e.certificate_tree()


def test_not_injective_tree_raises_and_witness():
    W = np.eye(3)
    e = enumerate_cells(W)
    assert len(e.cells) == 8
    with pytest.raises(ValueError):
        e.certificate_tree()
    r = decide_by_enumeration(W)
    assert r.verdict == "not_injective"
    assert_decision_proved(W, None, r)
    # rank-deficient W: kernel witness, no enumeration
    r2 = decide_by_enumeration(np.array([[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]), np.array([1.0, 0.0, 3.0]))
    assert r2.verdict == "not_injective" and r2.cells == 0
    assert_decision_proved(np.array([[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]), np.array([1.0, 0.0, 3.0]), r2)


def test_limits_give_incomplete():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((12, 3))
    e = enumerate_cells(W, max_cells=10)
    assert not e.complete and e.reason == "max_cells" and len(e.cells) == 10
    assert_cells_exact(W, None, e)
    with pytest.raises(ValueError):
        e.certificate_tree()
    e = enumerate_cells(W, time_limit=0)
    assert not e.complete and e.reason == "time_limit"
    # an injective layer (37 cells): limits must give "unknown"
    Wi, bi = load_instance("gaussbias_n2_m8_0.npz")
    r = decide_by_enumeration(Wi, bi, max_cells=10)
    assert r.verdict == "unknown" and not r.complete and r.reason == "max_cells"
    r = decide_by_enumeration(Wi, bi, time_limit=0)
    assert r.verdict == "unknown" and r.reason == "time_limit"
    r = decide_by_enumeration(Wi, bi, max_cells=37, progress=True)
    assert r.verdict == "injective" and r.cells == 37
    # non-injective layer under a limit: unknown, or a verified witness
    Wn, bn = load_instance("int_n4_m16_0.npz")
    r = decide_by_enumeration(Wn, bn, max_cells=3)
    assert r.verdict in ("unknown", "not_injective")
    assert_decision_proved(Wn, bn, r)


def test_numerical_failures_are_never_silent(monkeypatch):
    rng = np.random.default_rng(9)
    W = rng.standard_normal((7, 2))
    b = rng.standard_normal(7)
    expected = affine_gp(7, 2)
    # no exact Gordan multipliers and no exact fallback: empty sides cannot be
    # proved, so the enumeration must say so
    monkeypatch.setattr(en.lp, "exact_gordan", lambda *a, **k: None)
    e = enumerate_cells(W, b, exact_fallback=False)
    assert not e.complete and e.reason == "numerical" and e.stats["unresolved"] > 0
    assert_cells_exact(W, b, e)
    with pytest.raises(ValueError):
        e.certificate_tree()
    # with the exact simplex fallback everything is recovered
    e = enumerate_cells(W, b)
    assert e.complete and len(e.cells) == expected and e.stats["exact_lps"] > 0
    doc = certificate_from_enumeration(W, b, e) if decide_by_enumeration(W, b).verdict == "injective" else None
    if doc is not None:
        assert checker.check_certificate(W, b, doc)[0]

    # an LP that lies ("feasible" with a point outside the cell)
    class Liar:
        def __init__(self, F):
            self.n1 = F.shape[1]

        def solve(self, signed, weights=None, time_limit=None):
            z = np.zeros(self.n1)
            z[-1] = 1.0
            return True, z, None

    monkeypatch.setattr(en.lp, "PersistentGordanLP", Liar)
    e = enumerate_cells(W, b, exact_fallback=False)
    assert not e.complete and e.reason == "numerical"
    assert_cells_exact(W, b, e)
    e = enumerate_cells(W, b)
    assert e.complete and len(e.cells) == expected
    assert_cells_exact(W, b, e)
