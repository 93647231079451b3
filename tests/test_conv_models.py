"""Convolutions, transposed convolutions and batch norm in network
definitions (solver.affine, solver.onnx_io, solver.torch_io), and the DCGAN
fixture.

References: direct loops over the definitions (written here, independent of
the vectorised builders), onnx's own reference evaluator run in float64,
torch's functional ops (when torch is installed), and the float64 torch
outputs stored with the fixture.
"""
import itertools
import json

import numpy as np
import pytest
import scipy.sparse as sp

from solver.affine import batchnorm_scale_shift, conv_matrix, conv_transpose_matrix
from solver.errors import InputError

from conftest import ROOT

DCGAN = ROOT / "examples" / "dcgan_generator.onnx"
DCGAN_REF = ROOT / "examples" / "dcgan_generator_ref.npz"


def loop_conv(w, x, s, p, d):
    """Cross-correlation by the definition, 2-D, pads (top, left, bottom, right)."""
    Co, Ci, kh, kw = w.shape
    _, H, W = x.shape
    Ho = (H + p[0] + p[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    Wo = (W + p[1] + p[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    y = np.zeros((Co, Ho, Wo))
    for m, i, j, c, a, b in itertools.product(range(Co), range(Ho), range(Wo), range(Ci),
                                              range(kh), range(kw)):
        r, q = i * s[0] + a * d[0] - p[0], j * s[1] + b * d[1] - p[1]
        if 0 <= r < H and 0 <= q < W:
            y[m, i, j] += w[m, c, a, b] * x[c, r, q]
    return y


def loop_conv_transpose(w, x, s, p, d, op):
    """Transposed convolution by the definition: y[m, q*s + k*d - p] += x[c, q] w[c, m, k]."""
    Ci, Co, kh, kw = w.shape
    _, H, W = x.shape
    Ho = (H - 1) * s[0] - p[0] - p[2] + d[0] * (kh - 1) + op[0] + 1
    Wo = (W - 1) * s[1] - p[1] - p[3] + d[1] * (kw - 1) + op[1] + 1
    y = np.zeros((Co, Ho, Wo))
    for c, m, i, j, a, b in itertools.product(range(Ci), range(Co), range(H), range(W),
                                              range(kh), range(kw)):
        r, q = i * s[0] + a * d[0] - p[0], j * s[1] + b * d[1] - p[1]
        if 0 <= r < Ho and 0 <= q < Wo:
            y[m, r, q] += w[c, m, a, b] * x[c, i, j]
    return y


GEOMETRIES = [  # (C_in, C_out, H, W, k, stride, pads, dilation, output_padding)
    (1, 1, 4, 4, (2, 2), (1, 1), (0, 0, 0, 0), (1, 1), (0, 0)),
    (2, 3, 5, 4, (3, 2), (2, 1), (1, 0, 1, 1), (1, 1), (1, 0)),
    (3, 2, 4, 5, (2, 3), (2, 2), (0, 1, 0, 0), (2, 1), (1, 1)),
    (2, 2, 3, 3, (4, 4), (2, 2), (1, 1, 1, 1), (1, 1), (0, 0)),
]


@pytest.mark.parametrize("g", GEOMETRIES)
def test_conv_and_transpose_match_the_definitions(g):
    Ci, Co, H, W, k, s, p, d, op = g
    rng = np.random.default_rng(sum(map(sum, [k, s, p])))
    x = rng.standard_normal((Ci, H, W))
    w = rng.standard_normal((Co, Ci) + k)
    try:
        M, out = conv_matrix(w, (Ci, H, W), strides=s, pads=p, dilations=d)
    except InputError:
        M = None
    if M is not None:
        ref = loop_conv(w, x, s, p, d)
        assert out == ref.shape and sp.issparse(M)
        assert np.allclose(M @ x.ravel(), ref.ravel(), rtol=1e-13, atol=1e-13)
    wt = rng.standard_normal((Ci, Co) + k)
    T, out_t = conv_transpose_matrix(wt, (Ci, H, W), strides=s, pads=p, dilations=d,
                                     output_padding=op)
    ref = loop_conv_transpose(wt, x, s, p, d, op)
    assert out_t == ref.shape
    assert np.allclose(T @ x.ravel(), ref.ravel(), rtol=1e-13, atol=1e-13)


def test_transpose_is_the_adjoint_of_the_convolution():
    """<T x, y> = <x, C y> for C the convolution with w[c, m] -> w'[m, c]... i.e.
    T = C^T exactly (output_padding 0)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2, 3, 3))          # ConvTranspose layout (C_in=3, C_out=2)
    T, out = conv_transpose_matrix(w, (3, 4, 4), strides=(2, 2), pads=(1, 1, 1, 1),
                                   dilations=(1, 1), output_padding=(0, 0))
    C, back = conv_matrix(w, out, strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1))
    assert back == (3, 4, 4) and abs(T - C.T).max() == 0


def test_batchnorm_scale_shift_closed_form():
    rng = np.random.default_rng(4)
    g, b, mu = rng.standard_normal((3, 2))
    var = rng.uniform(0.1, 2, 2)
    s, t = batchnorm_scale_shift(g, b, mu, var, 1e-5, (2, 3))
    x = rng.standard_normal((2, 3))
    ref = (x - mu[:, None]) / np.sqrt(var[:, None] + 1e-5) * g[:, None] + b[:, None]
    assert np.allclose(s * x.ravel() + t, ref.ravel(), rtol=1e-14)
    with pytest.raises(InputError, match="variance"):
        batchnorm_scale_shift(g, b, mu, -var, 0.0, (2,))


def test_bad_geometries_are_one_line():
    w = np.ones((1, 1, 5, 5))
    with pytest.raises(InputError, match="larger than the padded input"):
        conv_matrix(w, (1, 3, 3), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1))
    with pytest.raises(InputError, match="channels"):
        conv_matrix(w, (2, 6, 6), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1))
    with pytest.raises(InputError, match="output_padding"):
        conv_transpose_matrix(w, (1, 3, 3), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1),
                              output_padding=(1, 1))


# ---------------------------------------------------------------------------
# ONNX: graphs with the new operators, checked against onnx's reference
# evaluator in float64
# ---------------------------------------------------------------------------

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(nodes, inits, in_shape, out, opset=18):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE,
                                                                      in_shape)],
                          [helper.make_tensor_value_info(out, TensorProto.DOUBLE, None)],
                          initializer=[numpy_helper.from_array(np.asarray(v), k)
                                       for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _reference(model, x):
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def test_onnx_dcgan_block_against_the_reference_evaluator(tmp_path):
    from solver.network_io import load_network
    rng = np.random.default_rng(5)
    w1 = rng.standard_normal((6, 4, 3, 3))          # ConvTranspose: 6 x 1 x 1 -> 4 x 3 x 3
    w2 = rng.standard_normal((4, 2, 4, 4))          # 4 x 3 x 3 -> 2 x 6 x 6 (s 2, p 1)
    bn = [rng.uniform(0.5, 1.5, 4), rng.standard_normal(4), rng.standard_normal(4),
          rng.uniform(0.2, 2, 4)]
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),            # (1, 6) -> (1, 6, 1)
        helper.make_node("Unsqueeze", ["u", "ax2"], ["u2"]),          # -> (1, 6, 1, 1)
        helper.make_node("ConvTranspose", ["u2", "w1"], ["c1"], name="ct1"),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "mu", "var"], ["n1"],
                         epsilon=1e-3),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Dropout", ["r1"], ["d1"]),
        helper.make_node("ConvTranspose", ["d1", "w2", "b2"], ["c2"], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Shape", ["c2"], ["shp"]),
        helper.make_node("Reshape", ["c2", "flat"], ["f"], allowzero=0),
        helper.make_node("Sigmoid", ["f"], ["y"]),
    ]
    inits = {"ax": np.array([2], np.int64), "ax2": np.array([-1], np.int64), "w1": w1,
             "g": bn[0], "b": bn[1], "mu": bn[2], "var": bn[3], "w2": w2,
             "b2": rng.standard_normal(2), "flat": np.array([0, -1], np.int64)}
    model = _model(nodes, inits, [1, 6], "y")
    p = tmp_path / "g.onnx"
    onnx.save(model, str(p))
    net = load_network(p)
    assert net.widths == [6, 36, 72] and [str(L.activation) for L in net.layers] == \
        ["relu", "sigmoid"]
    for _ in range(3):
        z = rng.standard_normal(6)
        assert np.allclose(net.forward(z), _reference(model, z[None])[0], rtol=1e-12,
                           atol=1e-14)


def test_onnx_conv_with_auto_pad_and_squeeze(tmp_path):
    from solver.network_io import load_network
    rng = np.random.default_rng(6)
    w = rng.standard_normal((3, 2, 3, 2))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], auto_pad="SAME_UPPER", strides=[2, 1]),
             helper.make_node("Tanh", ["c"], ["t"]),
             helper.make_node("Reshape", ["t", "shp"], ["r"]),
             helper.make_node("Squeeze", ["r", "axes"], ["y"])]
    model = _model(nodes, {"w": w, "shp": np.array([1, 1, -1], np.int64),
                           "axes": np.array([1], np.int64)}, [1, 2, 5, 4], "y")
    p = tmp_path / "c.onnx"
    onnx.save(model, str(p))
    net = load_network(p)
    x = rng.standard_normal((1, 2, 5, 4))
    assert np.allclose(net.forward(x.ravel()), _reference(model, x).ravel(), rtol=1e-12)


@pytest.mark.parametrize("case,match", [
    ("bn_training", "training_mode"), ("group", "group"), ("reshape_batch", "batch"),
    ("allowzero", "dimension <= 0")])
def test_onnx_refusals_name_the_node(tmp_path, case, match):
    from solver.network_io import load_network
    w = np.ones((2, 2, 1, 1))
    bn = {"g": np.ones(2), "b": np.zeros(2), "mu": np.zeros(2), "var": np.ones(2)}
    nodes = {
        "bn_training": [helper.make_node("BatchNormalization", ["x", "g", "b", "mu", "var"],
                                         ["y"], training_mode=1, name="bn")],
        "group": [helper.make_node("Conv", ["x", "w"], ["y"], group=2, name="cv")],
        "reshape_batch": [helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
        "allowzero": [helper.make_node("Reshape", ["x", "z"], ["y"], allowzero=1, name="rz")],
    }[case]
    inits = {"w": w, "s": np.array([2, 2, 1], np.int64), "z": np.array([1, 0, 4], np.int64),
             **bn}
    p = tmp_path / "bad.onnx"
    onnx.save(_model(nodes, inits, [1, 2, 2, 1], "y"), str(p))
    with pytest.raises(InputError, match=match) as e:
        load_network(p)
    assert "\n" not in str(e.value) and "node 0" in str(e.value)


# ---------------------------------------------------------------------------
# the DCGAN fixture (no torch needed)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dcgan():
    from solver.network_io import load_network
    return load_network(DCGAN)


def test_dcgan_loads_sparse_and_matches_the_stored_torch_outputs(dcgan):
    assert dcgan.widths == [64, 2304, 4608, 10816, 784]
    assert [str(L.activation) for L in dcgan.layers] == ["relu", "relu", "relu", "tanh"]
    assert [L.is_sparse for L in dcgan.layers] == [False, True, True, True]
    ref = np.load(DCGAN_REF)
    for z, x in zip(ref["z"], ref["x"]):
        assert np.max(np.abs(dcgan.forward(z) - x)) < 1e-12


def test_dcgan_check_is_an_honest_unknown_naming_the_layers(dcgan, tmp_path):
    from solver.network_cli import run_check_network
    import argparse
    doc = run_check_network(DCGAN, argparse.Namespace(time_limit=3, method="auto"))
    assert doc["verdict"] == "unknown" and doc["witness"] is None
    L = doc["layers"]
    assert [x["verdict"] for x in L] == ["unknown", "unknown", "unknown", "not_injective"]
    assert "too large" in L[1]["message"] and "4608x2304" in L[1]["message"]
    assert L[3]["method"] == "kernel"
    assert L[3]["proved"] == "not injective on [0, inf)^10816 (exact witness)"
    assert "layer 1 unknown (too large" in doc["message"]
    assert "end-to-end search not available" in doc["message"]
    assert "MILP was not run: layer 1 is a sparse 4608x2304 matrix" in doc["message"]
    json.dumps(doc)


def test_dcgan_layer3_kernel_witness_is_exact(dcgan):
    """784 outputs from 10816 inputs: the witness's pre-activations agree exactly
    (checked here with integer arithmetic on the dense block it touches)."""
    from fractions import Fraction
    from solver.networks import decide_large_layer
    L = dcgan.layers[3]
    r = decide_large_layer(L.W, L.b, L.activation, domain="nonneg")
    d = [b - a for a, b in zip(r.witness.x1, r.witness.x2)]
    support = [j for j, v in enumerate(d) if v]
    assert support and all(v >= 0 for v in r.witness.x1 + r.witness.x2)
    block = L.W[:, support].toarray()
    for i in np.flatnonzero(np.any(block != 0, axis=1)):
        assert sum(Fraction(float(block[i, k])) * d[j] for k, j in enumerate(support)) == 0


# ---------------------------------------------------------------------------
# torch (only where it is installed)
# ---------------------------------------------------------------------------


def _dcgan_torch():
    torch = pytest.importorskip("torch")
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_dcgan", ROOT / "examples" / "make_dcgan.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    G = mk.build_generator(torch)
    state = {t.name: torch.tensor(numpy_helper.to_array(t).copy())
             for t in onnx.load(str(DCGAN)).graph.initializer if "." in t.name}
    missing = G.load_state_dict(state, strict=False).missing_keys
    assert all(k.endswith("num_batches_tracked") for k in missing)
    return torch, G.eval()


def test_dcgan_through_torch_agrees_with_torch_and_onnx(dcgan):
    torch, G = _dcgan_torch()
    from solver.torch_io import network_from_torch
    net = network_from_torch(G)
    assert net.widths == dcgan.widths
    z = np.random.default_rng(7).standard_normal((4, 64))
    with torch.no_grad():
        ref = G.double()(torch.tensor(z)).numpy().reshape(4, -1)
    for zi, xi in zip(z, ref):
        assert np.max(np.abs(net.forward(zi) - xi)) < 1e-12
        assert np.max(np.abs(dcgan.forward(zi) - xi)) < 1e-12


def test_torch_conv_batchnorm_dropout_modules():
    torch = pytest.importorskip("torch")
    from solver.torch_io import network_from_torch
    nn = torch.nn
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1, dilation=1), nn.BatchNorm2d(3),
                        nn.LeakyReLU(0.2), nn.Conv2d(3, 2, 2, padding="same"), nn.Sigmoid(),
                        nn.Dropout(0.3), nn.Flatten(), nn.Linear(2 * 3 * 3, 5),
                        nn.BatchNorm1d(5), nn.Tanh())
    with torch.no_grad():
        seq.train()
        seq(torch.randn(32, 2, 5, 5))
    seq.eval()
    net = network_from_torch(seq, input_shape=(2, 5, 5))
    assert [str(L.activation) for L in net.layers] == ["leaky_relu:0.2", "sigmoid", "tanh"]
    x = np.random.default_rng(8).standard_normal((3, 2, 5, 5))
    with torch.no_grad():
        ref = seq.double()(torch.tensor(x)).numpy()
    for xi, ri in zip(x, ref):
        assert np.allclose(net.forward(xi.ravel()), ri, rtol=1e-12, atol=1e-14)
    with pytest.raises(InputError, match="input_shape"):
        network_from_torch(seq)
    seq.train()
    with pytest.raises(InputError, match="training mode"):
        network_from_torch(seq, input_shape=(2, 5, 5))
    with pytest.raises(InputError, match="groups"):
        network_from_torch(nn.Sequential(nn.Conv2d(2, 2, 1, groups=2)), input_shape=(2, 3, 3))


def test_torch_onnx_export_path(tmp_path):
    """The documented export path: torch.onnx.export (needs onnxscript) in eval
    mode; the exported file loads and agrees with torch to float32 rounding
    (optimize=True folds BatchNorm in float32) and, with optimize=False, to
    float64 rounding."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from solver.network_io import load_network
    nn = torch.nn
    torch.manual_seed(2)
    G = nn.Sequential(nn.Linear(4, 18), nn.Unflatten(1, (2, 3, 3)), nn.BatchNorm2d(2, eps=2**-17),
                      nn.ReLU(), nn.ConvTranspose2d(2, 1, 2, stride=2), nn.Tanh()).eval()
    z = np.random.default_rng(9).standard_normal(4)
    with torch.no_grad():
        ref = G.double()(torch.tensor(z[None])).numpy().ravel()
    G.float()
    for opt, tol in ((True, 1e-5), (False, 1e-12)):
        p = tmp_path / f"g{opt}.onnx"
        torch.onnx.export(G, (torch.zeros(1, 4),), str(p), optimize=opt, external_data=False)
        net = load_network(p)
        assert net.widths == [4, 18, 36]
        assert np.max(np.abs(net.forward(z) - ref)) < tol
