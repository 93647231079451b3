"""Convolutional layers through Theorem 3 (solver.conv)."""
import numpy as np
import pytest

from solver import check_layer
from solver.certificates import check_certificate
from solver.conv import check_conv, conv_matrix, zero_padded_kernels
from solver.errors import InputError
from solver.exact import check_layer_witness

# the width-3 example after Example 1 (Puthawala et al., eq. (12))
WIDTH3 = np.array([[1.0, 0, -1], [1, 0, 1], [-1, 0, 1], [-1, 0, -1]])


def example1_kernels(diag=3.0):
    """Example 1, eq. (10)-(11): c_k = 3 on position k, -1 elsewhere, and -c_k."""
    cs = []
    for k in range(4):
        c = -np.ones(4)
        c[k] = diag
        cs.append(c.reshape(2, 2))
    cs = np.array(cs)
    return np.concatenate([cs, -cs])


def test_width3_needs_P4():
    r3 = check_conv(WIDTH3, (3,))
    assert r3.verdict == "not_proved" and "not proved by Theorem 3" in r3.message
    assert r3.matrix.shape == (4, 3)          # fewer than 2|P| rows: Corollary 2
    w = r3.witness
    assert w is not None and check_layer_witness(r3.matrix, np.zeros(4), w.x1, w.x2)[0]
    r4 = check_conv(WIDTH3, (4,))
    assert r4.verdict == "injective" and r4.matrix.shape == (8, 4)
    assert check_certificate(r4.matrix, np.zeros(8), r4.certificate)[0]
    # Z_(4)(c) = {[c 0], [0 c]}
    M, index = zero_padded_kernels(WIDTH3, (4,))
    assert index[:2] == [(0, (0,)), (0, (1,))]
    assert M[0].tolist() == [1, 0, -1, 0] and M[1].tolist() == [0, 1, 0, -1]


@pytest.mark.parametrize("N", [4, 5, 7])
def test_width3_theorem3_agrees_with_the_full_layer(N):
    W, b = conv_matrix(WIDTH3, (N,))
    assert W.shape == (4 * (N - 2), N)
    assert check_layer(W, b).verdict.value == "injective"


def test_example1_as_printed_is_not_a_basis():
    """Finding: the kernels of Example 1 (3 on the diagonal, -1 elsewhere)
    sum to zero, so {c1..c4} is NOT a basis of R^{2x2} (it is 4I - J, rank 3),
    W|Z_(2,2) is not injective and Theorem 3 does not apply. Worse, every
    kernel sums to zero, so the constant image is in the kernel of the full
    'valid' convolution: the layer itself is not injective."""
    K = example1_kernels(3.0)
    r = check_conv(K, (2, 2))
    assert r.verdict == "not_proved"
    assert np.linalg.matrix_rank(K[:4].reshape(4, 4)) == 3
    w = r.witness
    assert check_layer_witness(r.matrix, np.zeros(8), w.x1, w.x2)[0]
    W, b = conv_matrix(K, (4, 4))
    assert np.all(W @ np.ones(16) == 0)
    full = check_layer(W, b)
    assert full.verdict.value == "not_injective"
    assert check_layer_witness(W, b, full.witness.x1, full.witness.x2)[0]


@pytest.mark.parametrize("diag", [2.0, 5.0])
def test_example1_corrected_is_injective_with_P22(diag):
    """With any diagonal value other than 3 (c_k = a e_k - 1, a != 0, 4) the
    four kernels are a basis and, with their negatives, a DSS (Corollary 2):
    Theorem 3 proves the layer injective with P = (2, 2)."""
    K = example1_kernels(diag)
    r = check_conv(K, (2, 2))
    assert r.verdict == "injective", r.message
    assert check_certificate(r.matrix, np.zeros(8), r.certificate)[0]
    W, b = conv_matrix(K, (4, 4))     # cross-check on a whole 4x4 image
    assert W.shape == (8 * 9, 16)
    assert check_layer(W, b).verdict.value == "injective"


def test_multichannel_and_bias():
    rng = np.random.default_rng(3)
    K = rng.integers(-2, 3, size=(6, 2, 2)).astype(float)   # 6 kernels, 2 channels, width 2
    M, index = zero_padded_kernels(K, (3,))
    assert M.shape == (6 * 2, 2 * 3)
    # the small matrix is the full 'valid' convolution on an input of size P
    W, _ = conv_matrix(K, (3,))
    assert np.array_equal(M, W)
    r = check_conv(K, (3,), bias=np.linspace(-1, 1, 6))
    assert r.verdict in ("injective", "not_proved")
    if r.verdict == "injective":
        W, b = conv_matrix(K, (5,), bias=np.linspace(-1, 1, 6))
        assert check_layer(W, b).verdict.value == "injective"
    doc = r.to_json()
    assert doc["P"] == [3] and doc["small_matrix_shape"] == [12, 6]


def test_bad_conv_inputs():
    with pytest.raises(InputError, match="does not fit"):
        check_conv(WIDTH3, (2,))
    with pytest.raises(InputError, match="NaN"):
        check_conv(np.array([[1.0, np.nan]]), (3,))
    with pytest.raises(InputError, match="shape"):
        check_conv(np.ones((2, 2, 2, 2, 2)), (3,))
    with pytest.raises(InputError, match="bias"):
        check_conv(WIDTH3, (4,), bias=[1.0, 2.0])
    with pytest.raises(InputError, match="positive"):
        check_conv(WIDTH3, (0,))
