"""sigmoid and tanh in ``check``: strictly increasing layers are decided by
exact rank, a sigmoid/tanh last layer never changes the verdict (the
end-to-end step runs on its pre-activations), a middle one stops the
end-to-end step by name, and witnesses through them compare
pre-activations.

References: the float LP brute force of tests/test_networks.py over the
network whose head is replaced by the identity (a strictly increasing head
has equal outputs iff equal pre-activations), numpy's rank, and the float
forward pass (which must agree on the witnesses to rounding).
"""
import numpy as np
import pytest

from solver.network import make_network
from solver.network_io import load_network
from solver.networks import check_network

from conftest import SHARED
from test_networks import brute_injective, exact_pm

DECODER_400 = SHARED / "models" / "mnist_vae_decoder_20_400_784.npz"


def _float_equal(net, res):
    f1, f2 = res.witness.floats()
    y1, y2 = net.forward(f1), net.forward(f2)
    assert np.allclose(y1, y2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("head", ["sigmoid", "tanh"])
def test_injective_layerwise_with_a_smooth_head(head):
    rng = np.random.default_rng(10)
    W1, b1, _ = exact_pm(2, rng)
    W2 = rng.standard_normal((6, 4))
    assert np.linalg.matrix_rank(W2) == 4
    res = check_network(make_network([W1, W2], [b1, rng.standard_normal(6)], ["relu", head]))
    assert res.verdict.value == "injective" and res.method == "layerwise"
    L = res.layers[1]
    assert L["method"] == "rank" and L["domain"] == "nonneg" and L["input_set"] == "[0, inf)^4"
    assert L["proved"] == "injective on [0, inf)^4" and head in L["message"]
    assert res.layers[0]["proved"] == "injective on R^2"


def test_rank_deficient_sigmoid_head_decided_end_to_end():
    """sigmoid(relu(z) - relu(-z) + 1/2) = sigmoid(z + 1/2): injective, though
    the last layer (1 x 2) is not injective on the orthant."""
    net = make_network([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])],
                       [None, np.array([0.5])], ["relu", "sigmoid"])
    res = check_network(net)
    assert res.layers[1]["verdict"] == "not_injective"
    assert res.verdict.value == "injective" and res.method == "regions"
    core = make_network([L.W for L in net.layers], [L.b for L in net.layers],
                        ["relu", "identity"])
    assert brute_injective(core)


@pytest.mark.parametrize("seed", [0, 1, 5])     # seed 5 is injective, 0 and 1 are not
def test_tanh_head_witness_matches_brute_force(seed):
    rng = np.random.default_rng(20 + seed)
    W1, b1, _ = exact_pm(2, rng)
    W2 = rng.standard_normal((1 + seed % 2, 4))
    b2 = rng.standard_normal(W2.shape[0]) * 0.3
    net = make_network([W1, W2], [b1, b2], ["relu", "tanh"])
    core = make_network([W1, W2], [b1, b2], ["relu", "identity"])
    res = check_network(net, time_limit=60)
    expected = brute_injective(core)
    assert res.verdict.value == ("injective" if expected else "not_injective")
    if not expected:
        assert_witness_pre(net, res)
        _float_equal(net, res)


def assert_witness_pre(net, res):
    """The witness's last-layer pre-activations are exactly equal."""
    from solver.exact import layer_preactivations
    z1, z2 = res.witness.x1, res.witness.x2
    assert z1 != z2 and net.check_witness(z1, z2)[0]
    h1, h2 = list(z1), list(z2)
    for L in net.layers[:-1]:
        h1 = L.activation.exact(layer_preactivations(L.W, L.b, h1))
        h2 = L.activation.exact(layer_preactivations(L.W, L.b, h2))
    L = net.layers[-1]
    assert layer_preactivations(L.W, L.b, h1) == layer_preactivations(L.W, L.b, h2)


def test_first_layer_tanh_rank_deficient_gives_a_network_witness():
    net = make_network([np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[1.0, -1.0]])],
                       [np.array([0.5, -1.0]), None], ["tanh", "relu"])
    res = check_network(net)
    assert res.method == "first-layer"
    z1, z2 = res.witness.x1, res.witness.x2
    assert z1 != z2 and net.check_witness(z1, z2)[0]
    _float_equal(net, res)


def test_middle_sigmoid_stops_the_end_to_end_step_by_name():
    rng = np.random.default_rng(5)
    W1, b1, _ = exact_pm(2, rng)
    net = make_network([W1, rng.standard_normal((4, 4)), rng.standard_normal((1, 4))],
                       [b1, None, None], ["relu", "sigmoid", "relu"])
    res = check_network(net)
    assert res.verdict.value == "unknown"
    assert "layer 1 is sigmoid" in res.message and "layer 2" in res.message
    assert res.layers[2]["domain"] == "nonneg" and res.layers[2]["input_set"] == "(0, 1)^4"


def test_layer_after_tanh_is_decided_on_all_of_R_n():
    rng = np.random.default_rng(6)
    W1 = rng.standard_normal((3, 3))
    W2 = np.vstack([np.eye(3), -np.eye(3)])     # ReLU([I; -I] x) is injective on R^3
    res = check_network(make_network([W1, W2], activations=["tanh", "relu"]))
    assert res.verdict.value == "injective"
    assert res.layers[1]["domain"] == "all" and res.layers[1]["input_set"] == "(-1, 1)^3"


def test_shared_decoder_400_sound_unknown_names_the_first_layer():
    net = load_network(DECODER_400)
    assert [str(L.activation) for L in net.layers] == ["relu", "sigmoid"]
    res = check_network(net, time_limit=3)
    assert res.verdict.value == "unknown"
    assert res.message.startswith("not proved layerwise (layer 0 unknown")
    L0, L1 = res.to_json()["layers"]
    assert L1["verdict"] == "injective" and L1["method"] == "rank"
    assert L1["proved"] == "injective on [0, inf)^400"
    assert np.linalg.matrix_rank(net.layers[1].W) == 400      # float cross-check
    assert L0["verdict"] == "unknown"
    if L0["proved"] is not None:     # what the depth search certified within the limit
        import re
        k = int(re.match(r"every generic x has at least (\d+) active rows \(certified", L0["proved"])[1])
        # a certified count can never exceed the fewest active rows seen at sampled inputs
        W, b = net.layers[0].W, net.layers[0].b
        X = np.random.default_rng(0).standard_normal((20000, W.shape[1])) * 10.0 ** np.arange(-2, 3)[
            np.arange(20000) % 5, None]
        assert 1 <= k <= int(((X @ W.T + b) > 0).sum(axis=1).min())
