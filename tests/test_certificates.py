"""The independent checker: good certificates pass, tampered ones fail with a
reason, and no certificate ever verifies for a non-injective layer."""
import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import check_layer, Verdict
from solver.certificates import check_certificate, check_witness, checker, tree
from solver.bruteforce import decide_bruteforce


def injective_layer(seed, n=3, extra=3, bias=False):
    """A Gaussian layer (m = 2n + extra) that is injective, found by trying
    seeds; no exactly coincident rows, so its certificate is a real tree."""
    for k in range(1000):
        rng = np.random.default_rng(1000 * seed + k)
        m = 2 * n + extra + 2 * n
        W = rng.standard_normal((m, n))
        b = rng.standard_normal(m) * 0.1 if bias else np.zeros(m)
        if check_layer(W, b).verdict is Verdict.INJECTIVE:
            return W, b
    raise AssertionError("no injective layer found")


def pair_layer(n=3, seed=0):
    """[B; -D B] with D a power of two: exactly antiparallel pairs."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n))
    return np.vstack([B, -4.0 * B]), np.zeros(2 * n)


def certificate(W, b):
    res = check_layer(W, b)
    assert res.verdict is Verdict.INJECTIVE
    return res.certificate


def v1_leaves(node, path=()):
    if "branch" in node:
        yield from v1_leaves(node["pos"], path + ("pos",))
        yield from v1_leaves(node["neg"], path + ("neg",))
    else:
        yield path, node


@pytest.fixture(scope="module")
def good():
    W, b = injective_layer(0, bias=True)
    return W, b, certificate(W, b)


def test_good_certificate_passes(good):
    W, b, cert = good
    assert cert["version"] == checker.VERSION == 4
    ok, why = check_certificate(W, b, cert)
    assert ok, why
    # survives a JSON round trip (it is data)
    assert check_certificate(W, b, json.loads(json.dumps(cert)))[0]


def test_certificate_for_another_layer_is_rejected(good):
    W, b, cert = good
    W2 = W.copy()
    W2[0, 0] += 1e-3
    assert not check_certificate(W2, b, cert)[0]                          # fingerprint
    # and on the mathematics alone
    res = check_layer(W2, b)
    if res.verdict is Verdict.NOT_INJECTIVE:
        assert not check_certificate(W2, b, cert, check_fingerprint=False)[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_no_certificate_verifies_on_a_non_injective_layer(seed_a, seed_b):
    W, b = injective_layer(seed_a % 50, n=2, extra=2)
    cert = certificate(W, b)
    rng = np.random.default_rng(seed_b)
    # same shape, random or slightly perturbed
    W2 = W + rng.standard_normal(W.shape) * rng.choice([1e-6, 1e-2, 1.0])
    b2 = b + rng.standard_normal(b.shape) * rng.choice([0.0, 1e-3, 1.0])
    truth, _ = decide_bruteforce(W2, b2)
    ok, _ = check_certificate(W2, b2, cert, check_fingerprint=False)
    if ok:
        assert truth == "injective"


def test_truncated_or_extended_tree_is_rejected(good):
    W, b, cert = good
    assert cert["tree"][0][0] == "b"
    for cut in (1, len(cert["tree"]) // 2, len(cert["tree"]) - 1):
        bad = dict(cert, tree=cert["tree"][:cut])
        ok, why = check_certificate(W, b, bad)
        assert not ok and "truncated" in why
    bad = dict(cert, tree=cert["tree"] + [["B"]])
    ok, why = check_certificate(W, b, bad)
    assert not ok and "after the end" in why
    text = json.dumps(cert)
    with pytest.raises(ValueError):
        json.loads(text[: len(text) // 2])


def mutate_each_circuit(cert, fn):
    for k in range(len(cert["circuits"])):
        bad = copy.deepcopy(cert)
        if fn(bad["circuits"][k]) is not False:
            yield k, bad


def test_changed_multiplier_rejected(good):
    W, b, cert = good
    n_checked = 0
    def bump(c):
        i, s, v = c[0]
        c[0] = [i, s, str(int(v) + 1) if "/" not in v else v + "1"]
    for k, bad in mutate_each_circuit(cert, bump):
        ok, why = check_certificate(W, b, bad)
        assert not ok and f"circuit {k}" in why
        n_checked += 1
    assert n_checked > 0


def test_flipped_sign_rejected(good):
    W, b, cert = good
    def flip(c):
        i, s, v = c[0]
        c[0] = [i, -s, v]
    for k, bad in mutate_each_circuit(cert, flip):
        assert not check_certificate(W, b, bad)[0]


def test_negative_or_zero_multipliers_rejected(good):
    W, b, cert = good
    for k, bad in mutate_each_circuit(cert, lambda c: c.__setitem__(
            slice(None), [[i, s, "-" + v] for i, s, v in c])):
        assert not check_certificate(W, b, bad)[0]
    for k, bad in mutate_each_circuit(cert, lambda c: c.__setitem__(
            slice(None), [[i, s, "0"] for i, s, v in c])):
        ok, why = check_certificate(W, b, bad)
        assert not ok and "zero" in why


def test_wrong_row_index_in_multipliers_rejected(good):
    # the VIPR-style index bug: a multiplier attached to the wrong row
    W, b, cert = good
    count = 0
    def shift(c):
        if len(c) < 2 or c[0][2] == c[1][2]:
            return False
        (i, s, v), (j, t, u) = c[0], c[1]
        c[0], c[1] = [i, s, u], [j, t, v]
    for k, bad in mutate_each_circuit(cert, shift):
        assert not check_certificate(W, b, bad)[0]
        count += 1
    assert count > 0


def _subtree_end(tokens, start):
    """Index one past the subtree that starts at ``tokens[start]``."""
    need, k = 1, start
    while need:
        need += 1 if tokens[k][0] == "b" else -1
        k += 1
    return k


def test_swapped_children_rejected(good):
    W, b, cert = good
    t = cert["tree"]
    mid = _subtree_end(t, 1)              # root branch: t[0], pos = t[1:mid], neg = t[mid:]
    bad = dict(cert, tree=[t[0]] + t[mid:] + t[1:mid])
    assert not check_certificate(W, b, bad)[0]


def test_leaf_pointing_at_another_circuit_rejected(good):
    W, b, cert = good
    tried = 0
    for pos, tok in enumerate(cert["tree"]):
        if tok[0] in ("G", "T") and len(cert["circuits"]) > 1:
            bad = copy.deepcopy(cert)
            if tok[0] == "G":
                bad["tree"][pos][1] = (tok[1] + 1) % len(cert["circuits"])
            else:
                bad["tree"][pos][1][0] = (tok[1][0] + 1) % len(cert["circuits"])
            ok, _ = check_certificate(W, b, bad)
            tried += not ok
    assert tried > 0


def test_floats_and_garbage_rejected(good):
    W, b, cert = good
    for k, bad in mutate_each_circuit(cert, lambda c: c.__setitem__(
            slice(None), [[i, s, float(v.split("/")[0])] for i, s, v in c])):
        ok, why = check_certificate(W, b, bad)
        assert not ok and "rational" in why
    for junk in (None, [], "x", {"format": "other"}, {**cert, "claim": "not_injective"},
                 {**cert, "version": 5}, {**cert, "m": cert["m"] + 1}, {**cert, "tree": {}},
                 {**cert, "tree": []}, {**cert, "tree": [["G", 10**6]]}, {**cert, "circuits": {}},
                 {**cert, "tree": [["Z"]]}, {**cert, "pairs": [0]}, {**cert, "tree": [[]]},
                 {**cert, "circuits": [[]]}, {**cert, "circuits": [[[0, 2, "1"]]]}):
        ok, why = check_certificate(W, b, junk)
        assert not ok and why


def test_pair_leaves():
    W, b = pair_layer()
    cert = certificate(W, b)
    assert cert["tree"] == [["B"]] and len(cert["pairs"]) == 3
    assert check_certificate(W, b, cert)[0]
    # break exact antiparallelism of one pair: the class is no longer two-sided
    W2 = W.copy()
    W2[3, 0] = np.nextafter(W2[3, 0], 0)
    assert not check_certificate(W2, b, cert, check_fingerprint=False)[0]
    assert check_layer(W2, b).verdict is Verdict.NOT_INJECTIVE
    # a one-sided class (duplicate rows) may not serve as a pair
    W3 = np.vstack([W[:3], 4.0 * W[:3]])
    ok, why = check_certificate(W3, b, cert, check_fingerprint=False)
    assert not ok and "two-sided" in why
    # pairs may not repeat the same line
    ok, why = check_certificate(W, b, dict(cert, pairs=[0, 3, 1]))
    assert not ok and "independent" in why
    # and a two-sided class may not be branched on
    bad = dict(cert, pairs=[0, 1], tree=[["b", 2], ["B"], ["B"]])
    ok, why = check_certificate(W, b, bad)
    assert not ok and "two-sided" in why


def _v2(W, b, tree, circuits=(), pairs=()):
    return {"format": checker.FORMAT, "version": 2, "claim": "injective",
            "m": W.shape[0], "n": W.shape[1], "layer_sha256": checker.layer_fingerprint(W, b),
            "pairs": list(pairs), "circuits": [list(c) for c in circuits], "tree": tree}


PENTAGON = np.array([[1.0, 0], [1, 3], [-2, 1], [-3, -2], [1, -3]])
# every open half-plane holds two of these rows (gaps < 90 degrees): injective.
# Circuits: exact multipliers, checked by hand (sum q s w = 0, b = 0).
PENTAGON_CIRCUITS = [[[0, 1, "2"], [1, -1, "1"], [4, -1, "1"]],
                     [[0, -1, "7"], [1, -1, "2"], [3, -1, "3"]],
                     [[0, -1, "5"], [2, -1, "3"], [4, -1, "1"]],
                     [[0, -1, "7"], [2, -1, "2"], [3, -1, "1"]],
                     [[1, 1, "5"], [2, 1, "6"], [4, 1, "7"]]]
PENTAGON_TREE = [["b", 0], ["H", 0, ["0", "-1"]], ["b", 2], ["H", 1, ["1", "2"]],
                 ["b", 3], ["H", 2, ["-2", "3"]], ["G", 3]]


def test_handwritten_v2_certificate():
    W, b = PENTAGON, np.zeros(5)
    assert decide_bruteforce(W, b)[0] == "injective"
    ok, why = check_certificate(W, b, _v2(W, b, PENTAGON_TREE, PENTAGON_CIRCUITS))
    assert ok, why
    # the hyperplane normal must be orthogonal to the positive row
    bad = copy.deepcopy(PENTAGON_TREE)
    bad[1][2] = ["1", "1"]
    ok, why = check_certificate(W, b, _v2(W, b, bad, PENTAGON_CIRCUITS))
    assert not ok and "orthogonal" in why
    # a hyperplane leaf may not require unassigned rows to be positive: circuit 4
    # (rows 1, 2, 4 cannot all be positive) is valid, but at the first leaf those
    # rows are unassigned and may well be positive
    bad = copy.deepcopy(PENTAGON_TREE)
    bad[1][1] = 4
    ok, why = check_certificate(W, b, _v2(W, b, bad, PENTAGON_CIRCUITS))
    assert not ok and "unassigned" in why
    # a gordan leaf whose circuit's signs do not all hold on the path
    bad = copy.deepcopy(PENTAGON_TREE)
    bad[6] = ["G", 2]
    ok, why = check_certificate(W, b, _v2(W, b, bad, PENTAGON_CIRCUITS))
    assert not ok and "does not have sign" in why
    # a basis leaf below rank n, a hyperplane leaf at the wrong rank
    ok, why = check_certificate(W, b, _v2(W, b, [["b", 0], ["B"], ["G", 3]], PENTAGON_CIRCUITS))
    assert not ok and "rank" in why
    ok, why = check_certificate(W, b, _v2(W, b, [["H", 0, ["0", "1"]]], PENTAGON_CIRCUITS))
    assert not ok and "rank" in why


def test_basis_leaf_with_dependent_rows_rejected():
    W = np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1], [2, 0]])
    b = np.zeros(5)
    # version 1: rows listed at the leaf
    cert = {"format": checker.FORMAT, "version": 1, "claim": "injective", "m": 5, "n": 2,
            "layer_sha256": checker.layer_fingerprint(W, b),
            "tree": {"branch": 0, "pos": {"branch": 4, "pos": {"leaf": "basis", "rows": [0, 4]},
                                          "neg": {"leaf": "gordan", "y": [[0, "2"], [4, "1"]]}},
                     "neg": {"leaf": "gordan", "y": [[0, "1"]]}}}
    ok, why = check_certificate(W, b, cert)
    assert not ok
    with pytest.raises(checker.Rejected, match="independent"):
        checker._check_leaf(checker.Layer(W, b), {"leaf": "basis", "rows": [0, 4]},
                            {0: 1, 4: 1}, "leaf")
    # version 2: three pairwise non-parallel positive rows of rank 2 in R^3
    W3 = np.array([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    tree = [["b", 0], ["b", 1], ["b", 2], ["B"], ["B"], ["B"], ["B"]]
    ok, why = check_certificate(W3, np.zeros(4), _v2(W3, np.zeros(4), tree))
    assert not ok and "rank 2" in why


def test_branch_on_zero_row_rejected():
    # a zero row with zero bias is 0 everywhere: a "gordan" leaf on it would be
    # vacuous; branching on it must be refused, or every layer could be proved
    W = np.array([[1.0], [0.0]])
    b = np.zeros(2)
    cert = {"format": checker.FORMAT, "version": 1, "claim": "injective", "m": 2, "n": 1,
            "layer_sha256": checker.layer_fingerprint(W, b),
            "tree": {"branch": 1, "pos": {"leaf": "gordan", "y": [[1, "1"]]},
                     "neg": {"leaf": "gordan", "y": [[1, "1"]]}}}
    ok, why = check_certificate(W, b, cert)
    assert not ok and "zero row" in why
    ok, why = check_certificate(W, b, _v2(W, b, [["b", 1], ["G", 0], ["G", 0]], [[[1, 1, "1"]]]))
    assert not ok and "zero" in why


def test_hyperplane_leaf_wrong_normal_rejected():
    # version 2 (normals written): a wrong normal at any hyperplane leaf is refused
    W, b = PENTAGON, np.zeros(5)
    for pos, tok in enumerate(PENTAGON_TREE):
        if tok[0] == "H":
            bad = copy.deepcopy(PENTAGON_TREE)
            bad[pos][2] = ["1", "1"]
            assert not check_certificate(W, b, _v2(W, b, bad, PENTAGON_CIRCUITS))[0]


def _v3(W, b, tree, circuits=(), pairs=()):
    return dict(_v2(W, b, tree, circuits, pairs), version=3)


def test_handwritten_v3_certificate():
    # the pentagon tree without normals is a valid version-3 certificate
    W, b = PENTAGON, np.zeros(5)
    tree = [t[:2] for t in PENTAGON_TREE]
    ok, why = check_certificate(W, b, _v3(W, b, tree, PENTAGON_CIRCUITS))
    assert ok, why
    # a normal in a version-3 token, or none in a version-2 token, is malformed
    ok, why = check_certificate(W, b, _v3(W, b, PENTAGON_TREE, PENTAGON_CIRCUITS))
    assert not ok and "['H', k]" in why
    ok, why = check_certificate(W, b, _v2(W, b, tree, PENTAGON_CIRCUITS))
    assert not ok and "normal" in why
    # unassigned circuit rows must be negative rows
    bad = copy.deepcopy(tree)
    bad[1][1] = 4
    ok, why = check_certificate(W, b, _v3(W, b, bad, PENTAGON_CIRCUITS))
    assert not ok and "unassigned" in why


def test_v3_hyperplane_leaf_needs_rows_outside_the_span():
    # row 2 = (2, 0) with bias 1 is parallel to row 0 = (1, 0) (not coincident:
    # the biases differ). Circuit 0 (rows 0 +, 2 -: x1 > 0 and 2 x1 + 1 < 0) is
    # valid, but at the leaf "row 0 positive" row 2 may be positive with the
    # positive rows still of rank 1: a leaf on circuit 0 there proves nothing.
    W = np.array([[1.0, 0], [0, 1], [2, 0], [0, -1], [-1, 1]])
    b = np.array([0.0, 0, 1, 0, 0])
    circuits = [[[0, 1, "2"], [2, -1, "1"]]]
    assert checker.check_circuit(checker.Layer(W, b), circuits[0], "c") == {0: 1, 2: -1}
    ok, why = check_certificate(W, b, _v3(W, b, [["b", 0], ["H", 0], ["G", 0]], circuits))
    assert not ok and "outside the span" in why
    # the checker accepts what the solver writes for this layer (or the layer
    # is not injective, and brute force agrees)
    res = check_layer(W, b)
    assert res.verdict.value == decide_bruteforce(W, b)[0]
    if res.certificate is not None:
        assert check_certificate(W, b, res.certificate)[0]


def test_rank_modulo_p_falls_back_to_exact(monkeypatch):
    # (0, p) is zero modulo the checker's prime: the rank modulo p of
    # {(1, 0), (0, p)} is 1, the exact rank 2
    P = float(checker.PRIME)
    W = np.vstack([[0, P], [1.0, 0], np.round(np.random.default_rng(3).standard_normal((6, 2)) * 4)])
    b = np.zeros(len(W))
    L = checker.Layer(W, b)
    E = tree._Echelon(2)
    assert E.push(L.Wp[1]) and not E.push(L.Wp[0])
    assert tree._rank_at_least(L, E, [1, 0], 2)
    assert not tree._rank_at_least(L, E, [1], 2)
    # a whole certificate whose leaves need the exact fallback still verifies
    assert decide_bruteforce(W, b)[0] == "injective"
    cert = certificate(W, b)
    calls = []
    monkeypatch.setattr(tree, "int_rank", lambda rows: calls.append(1) or checker_int_rank(rows))
    assert check_certificate(W, b, cert)[0]
    assert calls


checker_int_rank = checker.int_rank


def test_version_one_certificates_still_verify():
    # the enumeration writes version-1 trees; committed fixtures are version 1
    from solver.enumeration import decide_by_enumeration
    W, b = injective_layer(1, n=2, extra=2)
    d = decide_by_enumeration(W, b)
    assert d.certificate["version"] == 1
    assert check_certificate(W, b, d.certificate)[0]
    bad = copy.deepcopy(d.certificate)
    for path, leaf in v1_leaves(bad["tree"]):
        if "y" in leaf:
            i, v = leaf["y"][0]
            leaf["y"][0] = [i, str(int(v) + 1) if "/" not in v else v + "1"]
            break
    assert not check_certificate(W, b, bad)[0]


def test_witness_checker():
    W = np.array([[1.0, 0], [0, 1], [-1, -1]])
    b = np.zeros(3)
    res = check_layer(W, b)
    doc = res.witness_document()
    assert check_witness(W, b, doc)[0]
    bad = dict(doc, x2=doc["x1"])
    assert not check_witness(W, b, bad)[0]
    bad = dict(doc, x2=["1", "2"])
    assert not check_witness(W, b, bad)[0]
    assert not check_witness(W, b, dict(doc, x1=[0.5, 0.5]))[0]
    assert not check_witness(W, b, {"x1": ["1"], "x2": ["2"]})[0]


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "certificates"


def _fixture_params():
    return sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("name", _fixture_params())
def test_committed_certificates_verify(name):
    from conftest import INSTANCES, load_instance
    if not (INSTANCES / name.replace(".json", ".npz")).exists():
        pytest.skip("shared instances not present")
    W, b = load_instance(name.replace(".json", ".npz"))
    cert = json.loads((FIXTURES / name).read_text())
    ok, why = check_certificate(W, b, cert)
    assert ok, why


def test_committed_certificates_refuse_every_other_layer():
    # each fixture, held against every other shared layer of the same shape
    # with the fingerprint check off, verifies only if that layer is injective
    from conftest import load_instance, manifest
    entries = {e["file"]: e for e in manifest()}
    tried = 0
    for name in _fixture_params():
        cert = json.loads((FIXTURES / name).read_text())
        for other, e in entries.items():
            W, b = load_instance(other)
            if other == name.replace(".json", ".npz") or W.shape != (cert["m"], cert["n"]):
                continue
            ok, _ = check_certificate(W, b, cert, check_fingerprint=False)
            tried += 1
            if ok:
                assert decide_bruteforce(W, b)[0] == "injective"
    assert tried > 0  # cross_n2 vs the 4x2 tilts, shifted_n3_0 vs shifted_n3_2, ...


def test_the_checkers_read_activation_texts_one_way():
    """solver.certificates.checker.activation_slope is the one reader of an
    activation text for every checker (network and region proofs)."""
    from fractions import Fraction

    from solver.certificates import regions
    from solver.certificates.checker import Rejected, activation_slope
    assert activation_slope("relu") == 0 and activation_slope("identity") == 1
    assert activation_slope("leaky_relu:0.25") == Fraction(1, 4)
    assert activation_slope("sigmoid") is None and activation_slope("tanh") is None
    for bad in ("leaky_relu:abc", "leaky_relu:-1", "leaky_relu:inf", "softplus", None, 3):
        with pytest.raises(Rejected):
            activation_slope(bad)
    # the region proof: identity has no sign structure, smooth activations are refused
    assert regions._slope("identity") is None and regions._slope("relu") == 0
    for bad in ("sigmoid", "tanh", "leaky_relu:abc"):
        with pytest.raises(Rejected):
            regions._slope(bad)


@pytest.mark.parametrize("kind", ["pool", "fork"])
def test_circuits_checked_in_another_process(good, monkeypatch, kind):
    # with an executor, the circuit table is checked in a worker process while
    # the tree is walked here: the same verdicts, the same messages
    from solver.parallel import ForkExecutor, process_pool
    W, b, cert = good
    executor = (lambda: process_pool(1)) if kind == "pool" else ForkExecutor
    monkeypatch.setattr(tree, "PARALLEL_CIRCUITS", 1)
    def bump(c):
        i, s, v = c[0]
        c[0] = [i, s, str(int(v) + 1) if "/" not in v else v + "1"]
    bad = [m for m in mutate_each_circuit(cert, bump)][:2]
    assert bad
    with executor() as pool:
        assert check_certificate(W, b, cert, executor=pool) == check_certificate(W, b, cert)
        for k, c in bad:
            ok, why = check_certificate(W, b, c, executor=pool)
            assert not ok and f"circuit {k}" in why
            assert (ok, why) == check_certificate(W, b, c)


def test_fork_executor_reports_failures():
    from solver.parallel import ForkExecutor
    with ForkExecutor() as ex:
        assert ex.submit(sum, [1, 2, 3]).result() == 6
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            ex.submit(divmod, 1, 0).result()
