"""Transversal leaves (certificate version 4): d disjoint Gordan groups whose
every transversal, with the positive rows, spans R^n. Checked against exact
ranks of every transversal, against brute force, and by tampering."""
import copy
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import treestate
from solver.bruteforce import decide_bruteforce
from solver.certificates import check_certificate, checker, tree
from solver.certificates.exactlayer import PRIME, int_rank, transversals_independent
from solver.search import SignTree, sign_tree_search


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(0, 10**6), st.booleans())
def test_batched_test_is_the_exact_rank_of_every_transversal(q, seed, plant):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, q)
    C = rng.integers(-2, 3, (int(sizes.sum()), q))
    if plant:                                  # a row parallel to another one
        C[rng.integers(len(C))] = 3 * C[rng.integers(len(C))]
    ends = np.cumsum(np.r_[0, sizes])
    groups = [list(range(ends[g], ends[g + 1])) for g in range(q)]
    want = all(int_rank([[int(v) for v in C[j]] for j in T]) == q
               for T in itertools.product(*groups))
    # residues: negative entries as p - |c|; a rank modulo p below the exact
    # rank is impossible here (|minors| < p), so the answers must agree
    assert transversals_independent(C % PRIME, groups) == want


# Two Gordan circuits in R^2 on disjoint rows, no row of one parallel to a row
# of the other: 2 a0 + a1 + a2 = 0 and b0 + b1 + b2 = 0.
A = [[1.0, 0], [-1, 1], [-1, -1]]
B = [[1.0, 2], [1, -3], [-2, 1]]
CIRCUITS = [[[0, -1, "2"], [1, -1, "1"], [2, -1, "1"]],
            [[3, -1, "1"], [4, -1, "1"], [5, -1, "1"]]]


def _v4(W, b, tokens, circuits, version=4):
    return {"format": checker.FORMAT, "version": version, "claim": "injective",
            "m": len(W), "n": W.shape[1], "layer_sha256": checker.layer_fingerprint(W, b),
            "pairs": [], "circuits": circuits, "tree": tokens}


def test_handwritten_transversal_leaf():
    W, b = np.array(A + B), np.zeros(6)
    assert decide_bruteforce(W, b)[0] == "injective"
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], CIRCUITS))
    assert ok, why
    # the same leaf in a version-3 document is an unknown token
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], CIRCUITS, version=3))
    assert not ok and "unknown token" in why
    # one group only: the transversals have rank 1
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0]]], CIRCUITS))
    assert not ok and "do not span" in why
    # the same circuit twice: the groups overlap
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 0]]], CIRCUITS))
    assert not ok and "two groups" in why
    # an unassigned entry must be negative
    pos = copy.deepcopy(CIRCUITS)
    for e in pos[1]:
        e[1] = 1
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], pos))
    assert not ok and "not negative" in why


def test_dependent_transversal_is_refused():
    # b0 = (2, 0) is parallel to a0 = (1, 0) (with b = 0 the same hyperplane):
    # the transversal (a0, b0) has rank 1, and a point where only a0 and b0
    # are positive exists: the layer is not injective
    W = np.array(A + [[2.0, 0], [-1, 3], [-1, -3]])
    b = np.zeros(6)
    circuits = [CIRCUITS[0], [[3, -1, "1"], [4, -1, "1"], [5, -1, "1"]]]
    for c in circuits:
        checker.check_circuit(checker.Layer(W, b), c, "c")
    assert decide_bruteforce(W, b)[0] == "not_injective"
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], circuits))
    assert not ok and "do not span" in why


def test_too_many_transversals_are_refused(monkeypatch):
    W, b = np.array(A + B), np.zeros(6)
    monkeypatch.setattr(tree, "MAX_TRANSVERSALS", 8)
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], CIRCUITS))
    assert not ok and "transversals" in why


def test_transversal_rank_falls_back_to_exact(monkeypatch):
    # (0, p) is zero modulo the checker's prime: the transversal (a0, (0, p))
    # has rank 1 modulo p and 2 over Q; 5 (0, p) + 2p (1, -3) + p (-2, 1) = 0
    P = float(PRIME)
    W = np.array(A + [[0, P], [1, -3], [-2, 1]])
    b = np.zeros(6)
    circuits = [CIRCUITS[0], [[3, -1, "5"], [4, -1, str(2 * PRIME)], [5, -1, str(PRIME)]]]
    calls = []
    monkeypatch.setattr(tree, "int_rank", lambda rows: calls.append(1) or int_rank(rows))
    ok, why = check_certificate(W, b, _v4(W, b, [["T", [0, 1]]], circuits))
    assert ok, why
    assert calls


def _gauss(n, m, seed):
    return np.random.default_rng([7, n, m, seed]).standard_normal((m, n)), np.zeros(m)


def test_the_tree_writes_transversal_leaves_the_checker_accepts():
    W, b = _gauss(6, 48, 0)
    out = sign_tree_search(W, b, time_limit=120)
    assert out.verdict == "injective"
    assert out.stats.leaves["transversal"] > 0
    cert = out.certificate
    assert cert["version"] == 4
    ok, why = check_certificate(W, b, cert)
    assert ok, why
    # every transversal leaf needs all of its groups: drop one and it fails
    k = next(i for i, t in enumerate(cert["tree"]) if t[0] == "T")
    bad = copy.deepcopy(cert)
    bad["tree"][k][1] = bad["tree"][k][1][:-1]
    assert not check_certificate(W, b, bad)[0]
    # without transversal leaves the tree is larger and proves the same
    old = sign_tree_search.__globals__["SignTree"].TRANSVERSAL_MAX_D
    try:
        SignTree.TRANSVERSAL_MAX_D = 0
        plain = sign_tree_search(W, b, time_limit=120)
    finally:
        SignTree.TRANSVERSAL_MAX_D = old
    assert plain.verdict == "injective" and plain.stats.leaves["transversal"] == 0
    assert plain.stats.nodes > out.stats.nodes


def test_small_integer_layers_agree_with_bruteforce(monkeypatch):
    # rows with entries in {-2..2}: many parallel rows and dependent
    # transversals, so the rank test refuses leaves; verdicts still agree
    refused = []
    original = treestate.Span.transversals_span

    def spy(self, groups):
        ok = original(self, groups)
        refused.append(not ok)
        return ok
    monkeypatch.setattr(treestate.Span, "transversals_span", spy)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = 3
        m = int(rng.integers(6, 13))
        W = rng.integers(-2, 3, (m, n)).astype(float)
        b = rng.integers(-1, 2, m).astype(float) if seed % 2 else np.zeros(m)
        out = sign_tree_search(W, b, time_limit=60)
        assert out.verdict == decide_bruteforce(W, b)[0], seed
        if out.verdict == "injective":
            ok, why = check_certificate(W, b, out.certificate)
            assert ok, why
    assert any(refused) and not all(refused)
