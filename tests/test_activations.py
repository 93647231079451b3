"""The Activation value type: parsing, text round trip, float and exact
forward passes against closed forms, inverses, bounds, and the refusals."""
from fractions import Fraction
import math

import numpy as np
import pytest

from solver.activations import (IDENTITY, RELU, SIGMOID, TANH, Activation, NotPiecewiseLinear,
                                leaky_relu, parse_activation)
from solver.errors import InputError
from solver.network import make_network

TEXTS = ["relu", "identity", "leaky_relu:0.1", "leaky_relu:2.5", "sigmoid", "tanh"]


@pytest.mark.parametrize("text", TEXTS)
def test_text_round_trip(text):
    a = parse_activation(text)
    assert str(a) == text and parse_activation(str(a)) == a and hash(parse_activation(text)) == hash(a)
    assert parse_activation(f"  {text.upper()} ") == a


def test_leaky_slope_normalisation_and_refusals():
    assert parse_activation("leaky_relu:0") == RELU and leaky_relu(1.0) == IDENTITY
    assert parse_activation("leaky_relu:0.10") == leaky_relu(0.1)
    for bad in ["leaky_relu:-1", "leaky_relu:nan", "leaky_relu:inf", "softplus", "relu6", ""]:
        with pytest.raises(InputError):
            parse_activation(bad)
    with pytest.raises(InputError):
        Activation("leaky_relu", 1.0)


def test_comparison_with_a_string_is_loud():
    with pytest.raises(TypeError):
        RELU == "relu"  # noqa: B015


def test_float_forward_against_closed_forms():
    y = np.array([-40.0, -2.0, -0.5, 0.0, 0.25, 3.0, 800.0])
    assert np.array_equal(RELU.forward(y), [max(v, 0.0) for v in y])
    assert np.array_equal(IDENTITY.forward(y), y)
    assert np.array_equal(leaky_relu(0.5).forward(y), [v if v > 0 else 0.5 * v for v in y])
    sig = [1 / (1 + math.exp(-v)) if v > -700 else 0.0 for v in y]
    assert np.allclose(SIGMOID.forward(y), sig, rtol=1e-15, atol=0)
    assert np.allclose(TANH.forward(y), [math.tanh(v) for v in y], rtol=1e-15, atol=0)


def test_exact_forward_piecewise_linear_only():
    vals = [Fraction(-3, 7), Fraction(0), Fraction(5, 2)]
    assert RELU.exact(vals) == [0, 0, Fraction(5, 2)]
    assert leaky_relu(0.1).exact(vals) == [Fraction(0.1) * Fraction(-3, 7), 0, Fraction(5, 2)]
    for a in (SIGMOID, TANH):
        with pytest.raises(NotPiecewiseLinear):
            a.exact(vals)
        with pytest.raises(NotPiecewiseLinear):
            a.slope  # noqa: B018


@pytest.mark.parametrize("text", ["identity", "leaky_relu:0.2", "leaky_relu:3.0", "sigmoid",
                                  "tanh"])
def test_inverse_and_injective(text):
    a = parse_activation(text)
    assert a.injective and not RELU.injective
    y = np.linspace(-3, 3, 13)
    assert np.allclose(a.inverse(a.forward(y)), y, rtol=1e-12, atol=1e-12)


def test_ranges_and_bounds_contain_the_values():
    rng = np.random.default_rng(0)
    for text in TEXTS:
        a = parse_activation(text)
        lo, hi = np.sort(rng.standard_normal((2, 50)) * 5, axis=0)
        flo, fhi = a.bounds(lo, hi)
        for t in np.linspace(0, 1, 7):
            v = a.forward(np.clip(lo + t * (hi - lo), lo, hi))
            assert np.all(flo <= v) and np.all(v <= fhi)
            assert np.all(a.range[0] <= v) and np.all(v <= a.range[1])
    assert SIGMOID.nonneg_output and RELU.nonneg_output and not TANH.nonneg_output
    assert SIGMOID.output_set(4) == "(0, 1)^4" and TANH.output_set(2) == "(-1, 1)^2"


def test_network_witness_through_sigmoid_compares_preactivations():
    # N(z) = sigmoid([1 1] z): equal outputs iff equal sums
    net = make_network([np.array([[1.0, 1.0]])], activations=["sigmoid"])
    assert net.check_witness([1, 0], [0, 1]) == (True, "valid")
    ok, why = net.check_witness([1, 0], [0, 2])
    assert not ok and "strictly increasing" in why
    # a middle tanh layer with different pre-activations cannot be checked exactly
    net2 = make_network([np.eye(2), np.array([[0.0, 0.0]])], activations=["tanh", "relu"])
    ok, why = net2.check_witness([0, 0], [1, 0])
    assert not ok and "not checkable" in why
    # equal values after the first layer settle the rest, whatever follows
    net3 = make_network([np.array([[1.0, -1.0]]), np.array([[2.0]])], activations=["relu", "tanh"])
    assert net3.check_witness([0, 1], [0, 2])[0]
