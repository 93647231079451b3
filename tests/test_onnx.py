"""ONNX import (solver.onnx_io) and the torch path (solver.torch_io)."""
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from solver.errors import InputError  # noqa: E402
from solver.network_io import load_network  # noqa: E402
from solver.networks import check_network  # noqa: E402
from solver.onnx_io import load_onnx  # noqa: E402


def save(tmp_path, nodes, inits, in_shape, out_name, name="m.onnx", opset=13):
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v, dtype=np.float32), k)
                     for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    p = tmp_path / name
    onnx.save(m, str(p))
    return p


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def test_gemm_relu_leaky_flatten(tmp_path):
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((5, 3)), rng.standard_normal(5)
    W2, b2 = rng.standard_normal((5, 4)), rng.standard_normal(4)   # A operand, transA=1
    W3 = rng.standard_normal((2, 4))
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "W1", "b1"], ["g1"], name="fc1", transB=1),
        helper.make_node("Relu", ["g1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["W2", "r1", "b2"], ["g2"], name="fc2", transA=1,
                         alpha=0.5, beta=2.0),        # data as B operand: 0.5 * W2^T r + 2 b2
        helper.make_node("LeakyRelu", ["g2"], ["r2"], name="lrelu", alpha=0.125),
        helper.make_node("Identity", ["r2"], ["i2"]),
        helper.make_node("Gemm", ["i2", "W3"], ["y"], name="fc3", transB=1),
    ]
    p = save(tmp_path, nodes, {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3}, [1, 3], "y")
    net = load_onnx(p)
    assert [str(L.activation) for L in net.layers] == ["relu", "leaky_relu:0.125", "identity"]
    assert net.widths == [3, 5, 4, 2]
    x = rng.standard_normal(3)
    h = np.maximum(f32(W1) @ x + f32(b1), 0)
    g = 0.5 * f32(W2).T @ h + 2.0 * f32(b2)
    g = np.where(g > 0, g, 0.125 * g)
    assert np.allclose(net.forward(x), f32(W3) @ g)
    assert load_network(p).widths == net.widths          # through the generic loader


def test_matmul_add_reshape_and_consecutive_activations(tmp_path):
    rng = np.random.default_rng(1)
    A, c = rng.standard_normal((2, 6)), rng.standard_normal(6)   # x @ A + c
    nodes = [
        helper.make_node("MatMul", ["x", "A"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "c"], ["hb"], name="add"),
        helper.make_node("Relu", ["hb"], ["r"], name="relu"),
        helper.make_node("Reshape", ["r", "shape"], ["rr"], name="reshape"),
        helper.make_node("Relu", ["rr"], ["y"], name="relu2"),   # ReLU(I ReLU(...))
    ]
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(A.astype(np.float32), "A"),
                     numpy_helper.from_array(c.astype(np.float32), "c"),
                     numpy_helper.from_array(np.array([1, 2, 3], dtype=np.int64), "shape")])
    p = tmp_path / "mm.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(p))
    net = load_onnx(p)
    assert len(net.layers) == 2 and np.array_equal(net.layers[1].W, np.eye(6))
    x = rng.standard_normal(2)
    assert np.allclose(net.forward(x), np.maximum(f32(A).T @ x + f32(c), 0))


def conv_reference(x, w, b, stride, pads):
    """Direct 2-D cross-correlation (N=1), independent of solver.onnx_io."""
    C, H, Wd = x.shape
    M, _, kh, kw = w.shape
    xp = np.zeros((C, H + pads[0] + pads[2], Wd + pads[1] + pads[3]))
    xp[:, pads[0]:pads[0] + H, pads[1]:pads[1] + Wd] = x
    oh = (xp.shape[1] - kh) // stride[0] + 1
    ow = (xp.shape[2] - kw) // stride[1] + 1
    out = np.zeros((M, oh, ow))
    for m in range(M):
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
                out[m, i, j] = np.sum(patch * w[m]) + b[m]
    return out


def test_conv_becomes_its_matrix(tmp_path):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    Wfc = rng.standard_normal((4, 3 * 3 * 2))
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", strides=[2, 1],
                         pads=[1, 0, 0, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "Wfc"], ["y"], transB=1),
    ]
    p = save(tmp_path, nodes, {"w": w, "b": b, "Wfc": Wfc}, [1, 2, 4, 4], "y")
    net = load_onnx(p)
    x = rng.standard_normal((2, 4, 4))
    ref = conv_reference(x, f32(w), f32(b), (2, 1), (1, 0, 0, 1))
    assert ref.shape == (3, 2, 3)
    assert np.allclose(net.layers[0].forward(x.reshape(-1)), np.maximum(ref, 0).reshape(-1))
    assert np.allclose(net.forward(x.reshape(-1)), f32(Wfc) @ np.maximum(ref, 0).reshape(-1))


def test_small_onnx_network_decided(tmp_path):
    # ReLU(I ReLU(W z)) with W = [B; -B]: injective (second layer on x >= 0)
    B = np.array([[1.0, 2.0], [0.5, -1.0]])
    nodes = [helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    p = save(tmp_path, nodes, {"W": np.vstack([B, -B])}, [1, 2], "y")
    res = check_network(p)
    assert res.verdict.value == "injective"
    assert [L["domain"] for L in res.layers] == ["all", "nonneg"]


def test_unsupported_operator_is_one_line(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "W"], ["h"], name="fc", transB=1),
             helper.make_node("Relu", ["h"], ["r"], name="act"),
             helper.make_node("Softmax", ["r"], ["y"], name="probs")]
    p = save(tmp_path, nodes, {"W": np.ones((3, 2))}, [1, 2], "y")
    with pytest.raises(InputError) as e:
        load_onnx(p)
    msg = str(e.value)
    assert "Softmax" in msg and "node 2" in msg and "probs" in msg and "\n" not in msg


@pytest.mark.parametrize("case", ["missing", "garbage", "nan", "mismatch", "branch", "empty"])
def test_bad_onnx_models(tmp_path, case):
    if case == "missing":
        p = tmp_path / "nope.onnx"
    elif case == "garbage":
        p = tmp_path / "bad.onnx"
        p.write_bytes(b"\x00\x01 this is not a protobuf \xff\xfe" * 10)
    elif case == "nan":
        p = save(tmp_path, [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)],
                 {"W": np.array([[1.0, np.nan]])}, [1, 2], "y")
    elif case == "mismatch":
        nodes = [helper.make_node("Gemm", ["x", "W1"], ["h"], transB=1),
                 helper.make_node("Relu", ["h"], ["r"]),
                 helper.make_node("Gemm", ["r", "W2"], ["y"], transB=1)]
        p = save(tmp_path, nodes, {"W1": np.ones((3, 2)), "W2": np.ones((2, 4))}, [1, 2], "y")
    elif case == "branch":
        nodes = [helper.make_node("Relu", ["x"], ["a"]),
                 helper.make_node("Add", ["x", "a"], ["y"])]
        p = save(tmp_path, nodes, {}, [1, 2], "y")
    else:
        p = save(tmp_path, [], {}, [1, 2], "x")
    with pytest.raises(InputError) as e:
        load_network(p)
    assert "\n" not in str(e.value)


def test_torch_missing_is_a_clean_error(monkeypatch):
    from solver.torch_io import network_from_torch
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InputError, match="torch"):
        network_from_torch(object())


def test_torch_sequential():
    torch = pytest.importorskip("torch")
    from solver.torch_io import network_from_torch
    nn = torch.nn
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Flatten(), nn.Linear(3, 7), nn.ReLU(), nn.Linear(7, 5),
                        nn.LeakyReLU(0.25), nn.Identity(), nn.Linear(5, 4))
    net = network_from_torch(seq)
    assert [str(L.activation) for L in net.layers] == ["relu", "leaky_relu:0.25", "identity"]
    x = np.random.default_rng(0).standard_normal(3)
    with torch.no_grad():
        ref = seq(torch.tensor(x[None], dtype=torch.float64).float()).double().numpy()[0]
    assert np.allclose(net.forward(x), ref, atol=1e-5)
    with pytest.raises(InputError, match="Softmax"):
        network_from_torch(nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=-1)))
    with pytest.raises(InputError, match="inputs"):
        network_from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(4, 2)))
