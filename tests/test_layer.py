"""check_layer against the labelled instances, an exact brute force and the
papers' theorems. Every witness is re-checked exactly; every injective
verdict's certificate is re-checked by the independent checker."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import check_layer, check_certificate, Verdict
from solver.bruteforce import decide_bruteforce
from solver.exact import check_layer_witness

from conftest import load_instance, manifest

# [B; -DB] layers with D B computed in floating point: the "antiparallel"
# rows are antiparallel only up to rounding, so bad cells of relative width
# ~1e-16 exist. The manifest labels them by the exact binary64 weights
# (injective: false) and gives the snapped verdict as injective_snapped.
ROUNDED_CONSTRUCTIONS = {"construct_n3_m10_0.npz", "construct_n4_m11_1.npz",
                         "construct_n4_m9_2.npz"}


def assert_proved(W, b, res):
    if res.verdict is Verdict.NOT_INJECTIVE:
        ok, why = check_layer_witness(W, b, res.witness.x1, res.witness.x2)
        assert ok, why
        assert res.certificate is None
    elif res.verdict is Verdict.INJECTIVE:
        ok, why = check_certificate(W, b, res.certificate)
        assert ok, why
        assert res.witness is None


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["file"])
def test_manifest_instances(entry):
    W, b = load_instance(entry["file"])
    res = check_layer(W, b, time_limit=60)
    assert res.verdict is not Verdict.UNKNOWN
    assert_proved(W, b, res)
    expected = "injective" if entry["injective"] else "not_injective"
    bf, _ = decide_bruteforce(W, b)
    assert res.verdict.value == bf == expected
    if entry["file"] in ROUNDED_CONSTRUCTIONS:
        assert entry.get("injective_snapped") is True
        # the bad cell is a rounding artefact: some pair of rows is antiparallel
        # to within 1e-12 but not exactly
        Wn = W / np.linalg.norm(W, axis=1)[:, None]
        C = Wn @ Wn.T
        assert np.any(np.isclose(C, -1.0, atol=1e-12) & (C != -1.0))


def test_rounded_constructions_are_the_snapped_labels():
    entries = manifest()
    snapped = {e["file"] for e in entries if "injective_snapped" in e}
    assert snapped == ROUNDED_CONSTRUCTIONS or not entries


def _layer_strategy(integer):
    @st.composite
    def layers(draw):
        n = draw(st.integers(1, 3))
        m = draw(st.integers(1, 10))
        if integer:
            W = np.array(draw(st.lists(st.integers(-2, 2), min_size=m * n, max_size=m * n)),
                         dtype=float).reshape(m, n)
        else:
            seed = draw(st.integers(0, 2**32 - 1))
            W = np.random.default_rng(seed).standard_normal((m, n))
        bias = draw(st.booleans())
        if bias:
            if integer:
                b = np.array(draw(st.lists(st.integers(-2, 2), min_size=m, max_size=m)), float)
            else:
                b = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(m)
        else:
            b = np.zeros(m)
        return W, b
    return layers()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layer_strategy(integer=True))
def test_tree_matches_bruteforce_integer(layer):
    W, b = layer
    res = check_layer(W, b)
    assert res.verdict.value == decide_bruteforce(W, b)[0]
    assert_proved(W, b, res)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layer_strategy(integer=False))
def test_tree_matches_bruteforce_gaussian(layer):
    W, b = layer
    res = check_layer(W, b)
    assert res.verdict.value == decide_bruteforce(W, b)[0]
    assert_proved(W, b, res)


def test_lemma1_counterexample_is_injective():
    # Puthawala et al. Lemma 1 "only if" is false: W|_{b>=0} = [1; 0] is not
    # injective, but ReLU(Wx + b) with W = [1; -1], b = [1; -1] is.
    W, b = np.array([[1.0], [-1.0]]), np.array([1.0, -1.0])
    res = check_layer(W, b)
    assert res.verdict is Verdict.INJECTIVE
    assert_proved(W, b, res)
    assert check_layer(np.array([[1.0], [0.0]])).verdict is Verdict.NOT_INJECTIVE


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_corollary2_construction_is_injective(n):
    # [B; -D B] with D a positive diagonal of powers of two: D B is exact in
    # binary64, so the rows are exactly antiparallel (Corollary 2).
    rng = np.random.default_rng(n)
    B = rng.standard_normal((n, n))
    D = np.diag(2.0 ** rng.integers(-3, 4, n))
    W = np.vstack([B, -D @ B])
    res = check_layer(W)
    assert res.verdict is Verdict.INJECTIVE
    assert_proved(W, None if False else np.zeros(2 * n), res)
    # extra rows keep it injective
    W2 = np.vstack([W, rng.standard_normal((n, n))])
    assert check_layer(W2).verdict is Verdict.INJECTIVE
    # dropping any row breaks it (m < 2n, Corollary 2)
    res3 = check_layer(W[1:])
    assert res3.verdict is Verdict.NOT_INJECTIVE
    assert_proved(W[1:], np.zeros(2 * n - 1), res3)


@pytest.mark.parametrize("seed", range(5))
def test_corollary2_fewer_than_2n_rows_never_injective(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    m = int(rng.integers(1, 2 * n))
    W, b = rng.standard_normal((m, n)), rng.standard_normal(m)
    res = check_layer(W, b)
    assert res.verdict is Verdict.NOT_INJECTIVE
    assert_proved(W, b, res)


@pytest.mark.parametrize("eps", [1e-3, 1e-4, 1e-6])
def test_thin_cell_tilt_found_exactly(eps):
    # [B; -B] is injective; tilting one row by eps opens a thin bad cell that
    # no box of moderate size contains.
    n = 3
    B = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0]])
    W = np.vstack([B, -B])
    assert check_layer(W).verdict is Verdict.INJECTIVE
    W[n] = W[n] + eps * np.array([0.3, -0.7, 0.2])
    res = check_layer(W)
    assert res.verdict is Verdict.NOT_INJECTIVE
    assert_proved(W, np.zeros(2 * n), res)


def test_figure_configurations_in_R2():
    # Puthawala et al., the four-vector configurations in R^2 of the DSS
    # figure: left, two wedges see a single positive vector (not injective);
    # centre, [B; -DB] (injective).
    left = np.array([[1.0, 0.0], [2.0, 1.0], [1.0, 2.0], [-1.0, -1.0]])
    res = check_layer(left)
    assert res.verdict is Verdict.NOT_INJECTIVE
    assert_proved(left, np.zeros(4), res)
    centre = np.array([[1.0, 0.0], [0.0, 1.0], [-2.0, 0.0], [0.0, -3.0]])
    res = check_layer(centre)
    assert res.verdict is Verdict.INJECTIVE
    assert_proved(centre, np.zeros(4), res)


@pytest.mark.parametrize("W,b,expected", [
    (np.zeros((3, 2)), None, "not_injective"),                         # zero matrix
    (np.array([[1.0, 0], [0, 0], [-1, 0], [0, 1], [0, -1]]), None, "injective"),   # zero row
    (np.array([[1.0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]), None, "injective"),   # duplicate
    (np.array([[1.0, 2], [2, 4], [-1, -2]]), None, "not_injective"),   # rank-deficient
    (np.array([[1.0]]), None, "not_injective"),                        # n = 1
    (np.array([[1.0], [-1.0]]), None, "injective"),
    (np.array([[1.0], [2.0]]), np.array([0.0, 5.0]), "not_injective"),
    (np.array([[0.0, 0.0], [1, 0], [-1, 0], [0, 1], [0, -1]]), np.array([3.0, 0, 0, 0, 0]), "injective"),
])
def test_degenerate_layers(W, b, expected):
    res = check_layer(W, b)
    assert res.verdict.value == expected
    bb = np.zeros(W.shape[0]) if b is None else b
    assert_proved(W, bb, res)
    assert decide_bruteforce(W, bb)[0] == expected


@pytest.mark.parametrize("seed", range(4))
def test_very_different_magnitudes(seed):
    rng = np.random.default_rng(seed)
    n = 3
    B = rng.standard_normal((n, n))
    W = np.vstack([B, -B, rng.standard_normal((2, n))])
    scales = 2.0 ** rng.integers(-400, 400, W.shape[0])  # exact scaling
    Ws = W * scales[:, None]           # positive row scaling: same verdict
    b = np.zeros(W.shape[0])
    r1, r2 = check_layer(W), check_layer(Ws)
    assert r1.verdict is r2.verdict is Verdict.INJECTIVE
    assert_proved(Ws, b, r2)
    Wt = Ws.copy()
    Wt[0, 0] *= 1 + 1e-9                # breaks exact antiparallelism
    r3 = check_layer(Wt)
    assert r3.verdict.value == decide_bruteforce(Wt, b)[0]
    assert_proved(Wt, b, r3)


def test_time_limit_gives_unknown_never_a_guess():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((60, 10))
    res = check_layer(W, time_limit=0.0)
    assert res.verdict is Verdict.UNKNOWN
    assert res.witness is None and res.certificate is None


def test_node_budget_gives_unknown():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((40, 6))
    res = check_layer(W, max_nodes=3)
    assert res.verdict in (Verdict.UNKNOWN, Verdict.NOT_INJECTIVE)
    assert_proved(W, np.zeros(40), res)


def test_parallel_search_gives_a_valid_certificate_and_same_verdicts():
    for seed in range(3):
        W = np.random.default_rng(seed).standard_normal((30, 5))
        b = np.zeros(30)
        r1 = check_layer(W, b)
        r2 = check_layer(W, b, workers=2)
        assert r1.verdict is r2.verdict
        assert_proved(W, b, r2)
