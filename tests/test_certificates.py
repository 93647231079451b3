"""The independent checker: good certificates pass, tampered ones fail with a
reason, and no certificate ever verifies for a non-injective layer."""
import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import check_layer, Verdict
from solver.certificates import check_certificate, check_witness, checker
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


def leaves(node, path=()):
    if "branch" in node:
        yield from leaves(node["pos"], path + ("pos",))
        yield from leaves(node["neg"], path + ("neg",))
    else:
        yield path, node


def at(cert, path):
    node = cert["tree"]
    for k in path:
        node = node[k]
    return node


@pytest.fixture(scope="module")
def good():
    W, b = injective_layer(0, bias=True)
    return W, b, certificate(W, b)


def test_good_certificate_passes(good):
    W, b, cert = good
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


def test_truncated_certificate_is_rejected(good):
    W, b, cert = good
    bad = copy.deepcopy(cert)
    node = bad["tree"]
    assert "branch" in node
    del node["neg"]
    ok, why = check_certificate(W, b, bad)
    assert not ok and "node" in why
    text = json.dumps(cert)
    with pytest.raises(ValueError):
        json.loads(text[: len(text) // 2])


def mutate_each_leaf(cert, fn):
    for path, leaf in list(leaves(cert["tree"])):
        bad = copy.deepcopy(cert)
        if fn(at(bad, path)) is not False:
            yield path, bad


def test_changed_multiplier_rejected(good):
    W, b, cert = good
    n_checked = 0
    def bump(leaf):
        if "y" not in leaf:
            return False
        i, v = leaf["y"][0]
        leaf["y"][0] = [i, str(int(v) + 1) if "/" not in v else v + "1"]
    for path, bad in mutate_each_leaf(cert, bump):
        ok, why = check_certificate(W, b, bad)
        assert not ok, path
        n_checked += 1
    assert n_checked > 0


def test_negative_or_zero_multipliers_rejected(good):
    W, b, cert = good
    for path, bad in mutate_each_leaf(cert, lambda l: False if "y" not in l else
                                      l.__setitem__("y", [[i, "-" + v] for i, v in l["y"]])):
        assert not check_certificate(W, b, bad)[0]
    for path, bad in mutate_each_leaf(cert, lambda l: False if "y" not in l else
                                      l.__setitem__("y", [[i, "0"] for i, v in l["y"]])):
        ok, why = check_certificate(W, b, bad)
        assert not ok and "zero" in why


def test_wrong_row_index_in_multipliers_rejected(good):
    # the VIPR-style index bug: a multiplier attached to the wrong row
    W, b, cert = good
    count = 0
    def shift(leaf):
        if "y" not in leaf or len(leaf["y"]) < 2:
            return False
        (i, v), (j, u) = leaf["y"][0], leaf["y"][1]
        leaf["y"][0], leaf["y"][1] = [i, u], [j, v]
        if u == v:
            return False
    for path, bad in mutate_each_leaf(cert, shift):
        assert not check_certificate(W, b, bad)[0]
        count += 1
    assert count > 0


def test_swapped_children_rejected(good):
    W, b, cert = good
    bad = copy.deepcopy(cert)
    t = bad["tree"]
    t["pos"], t["neg"] = t["neg"], t["pos"]
    assert not check_certificate(W, b, bad)[0]


def test_floats_and_garbage_rejected(good):
    W, b, cert = good
    for path, bad in mutate_each_leaf(cert, lambda l: False if "y" not in l else
                                      l.__setitem__("y", [[i, float(v.split("/")[0])] for i, v in l["y"]])):
        ok, why = check_certificate(W, b, bad)
        assert not ok and "rational" in why
    for junk in (None, [], "x", {"format": "other"}, {**cert, "claim": "not_injective"},
                 {**cert, "version": 2}, {**cert, "m": cert["m"] + 1}, {**cert, "tree": {}},
                 {**cert, "tree": {"leaf": "gordan", "y": []}}):
        ok, why = check_certificate(W, b, junk)
        assert not ok and why


def test_pair_leaves():
    W, b = pair_layer()
    cert = certificate(W, b)
    assert cert["tree"]["leaf"] == "basis" and len(cert["tree"]["pairs"]) == 3
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
    bad = copy.deepcopy(cert)
    bad["tree"]["pairs"] = [0, 3, 1]
    assert not check_certificate(W, b, bad)[0]


def test_basis_leaf_with_dependent_rows_rejected():
    W = np.array([[1.0, 0], [0, 1], [-1, 0], [0, -1], [2, 0]])
    b = np.zeros(5)
    cert = {"format": checker.FORMAT, "version": 1, "claim": "injective", "m": 5, "n": 2,
            "layer_sha256": checker.layer_fingerprint(W, b),
            "tree": {"branch": 0, "pos": {"branch": 4, "pos": {"leaf": "basis", "rows": [0, 4]},
                                          "neg": {"leaf": "gordan", "y": [[0, "2"], [4, "1"]]}},
                     "neg": {"leaf": "gordan", "y": [[0, "1"]]}}}
    ok, why = check_certificate(W, b, cert)
    assert not ok
    with pytest.raises(checker.Rejected, match="independent"):
        checker._check_leaf(checker._Layer(W, b), {"leaf": "basis", "rows": [0, 4]},
                            {0: 1, 4: 1}, "leaf")


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


def test_hyperplane_leaf_wrong_normal_rejected():
    W, b = injective_layer(3, n=2, extra=2)
    cert = certificate(W, b)
    found = False
    for path, leaf in leaves(cert["tree"]):
        if leaf.get("leaf") == "hyperplane":
            bad = copy.deepcopy(cert)
            at(bad, path)["normal"] = ["1"] * len(leaf["normal"])
            assert not check_certificate(W, b, bad)[0]
            found = True
    if not found:
        pytest.skip("no hyperplane leaf in this certificate")


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
