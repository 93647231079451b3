"""Bad input: one clear line on stderr and exit 2, never a traceback or exit 3
(issue 13 section 3), and a fuzz test that mutates valid .npz and .onnx files
byte by byte: every run ends with exit 0 and an answer whose proof
verifies, or exit 2 with one line."""
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.cli import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_exit_2(code, out, err):
    assert code == 2, (code, out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("reluinj: error: "), err
    assert "internal error" not in err and "Traceback" not in err


def _good_npz(path, **extra):
    np.savez(path, W=np.array([[1.0, 2.0], [-1.0, 0.5], [0.25, -1.0]]), b=np.zeros(3), **extra)
    return path


@pytest.mark.parametrize("case,needle", [
    ("crc", "Bad CRC-32"), ("object_W", "holds Python objects"),
    ("object_b", "holds Python objects"), ("complex_W", "complex"),
    ("text", "not an .npz file"), ("npy", "single .npy array"), ("strings_W", "dtype"),
    ("truncated", "not an .npz file")])
def test_listed_bad_npz_inputs_exit_2_with_one_line(capsys, tmp_path, case, needle):
    p = tmp_path / "m.npz"
    if case == "crc":
        raw = bytearray(_good_npz(p).read_bytes())
        raw[120] ^= 0xFF                       # inside W.npy's data: the CRC no longer matches
        p.write_bytes(bytes(raw))
    elif case == "object_W":
        np.savez(p, W=np.array([[1.0, None]], dtype=object))
    elif case == "object_b":
        np.savez(p, W=np.eye(2), b=np.array([0.0, "x"], dtype=object))
    elif case == "complex_W":
        np.savez(p, W=np.eye(2) * (1 + 1j))
    elif case == "text":
        p.write_text("W = [[1, 2], [3, 4]]\n")
    elif case == "npy":
        with open(p, "wb") as fh:
            np.save(fh, np.eye(2))
    elif case == "strings_W":
        np.savez(p, W=np.array([["1", "2"]]))
    elif case == "truncated":
        p.write_bytes(_good_npz(tmp_path / "g.npz").read_bytes()[:100])
    for argv in (("check", p), ("check", p, "--domain", "nonneg"),
                 ("verify", p, tmp_path / "none.json")):
        code, out, err = cli(capsys, *argv)
        assert_one_line_exit_2(code, out, err)
        assert needle in err


@pytest.mark.parametrize("arrays,needle", [
    ({"W": 1, "W0": 1}, "which one is meant"),              # a layer and a network
    ({"W0": 1, "W2": 1}, "do not follow"),                  # W1 missing: not a 1-layer net
    ({"W0": 1, "b1": 0}, "do not follow"),                  # a bias without its layer
    ({"W0": 1, "b0": 0, "W1": 1, "b3": 0}, "do not follow")])
def test_mixed_or_gapped_layer_arrays_are_refused(capsys, tmp_path, arrays, needle):
    """A file read in part would be decided as another model (W0 with W2 was
    checked as the layer W0 alone, exit 0): every command refuses it."""
    p = tmp_path / "m.npz"
    np.savez(p, **{k: np.eye(2) if v else np.zeros(2) for k, v in arrays.items()})
    x = tmp_path / "x.npy"
    np.save(x, np.ones(2))
    for argv in (("check", p), ("stability", p), ("invert", p, "--target", x),
                 ("verify", p, tmp_path / "none.json")):
        code, out, err = cli(capsys, *argv)
        assert_one_line_exit_2(code, out, err)
        assert needle in err, (argv, err)


@pytest.mark.parametrize("flag", ["--checkpoint", "--certificate", "--snapped-out",
                                  "--snapped-certificate"])
def test_unwritable_output_paths_are_refused_before_the_work(capsys, tmp_path, flag):
    """An output that cannot be written is refused up front with one line
    (a checkpoint under a missing directory was silently never written)."""
    p = _good_npz(tmp_path / "m.npz")
    extra = ("--snap-parallel",) if flag.startswith("--snapped") else ()
    for target in (tmp_path / "missing" / "f.json", tmp_path):
        code, out, err = cli(capsys, "check", p, flag, target, *extra)
        assert_one_line_exit_2(code, out, err)
        assert "cannot write" in err and out == ""


@pytest.mark.parametrize("flag,value", [("--workers", "-1"), ("--time-limit", "-5"),
                                        ("--time-limit", "inf"), ("--max-nodes", "0"),
                                        ("--box", "0"), ("--box", "nan")])
def test_bad_options_exit_2(capsys, tmp_path, flag, value):
    code, out, err = cli(capsys, "check", _good_npz(tmp_path / "m.npz"), flag, value)
    assert_one_line_exit_2(code, out, err)
    assert flag in err


# ---------------------------------------------------------------------------
# fuzzing: byte mutations of valid files
# ---------------------------------------------------------------------------

def _network_npz():
    buf = io.BytesIO()
    np.savez(buf, W0=np.array([[1.0, 2.0], [-1.0, 1.0], [-1.0, -2.0], [1.0, -1.0]]),
             b0=np.array([0.5, 0.0, -0.5, 0.0]), W1=np.array([[1.0, 0.5, -0.25, 2.0],
                                                             [0.0, 1.0, 1.0, -1.0]]),
             activations=np.array(["relu", "tanh"]))
    return buf.getvalue()


def _layer_npz():
    buf = io.BytesIO()
    np.savez(buf, W=np.array([[1.0, 2.0], [-1.0, 1.0], [-1.0, -2.0], [1.0, -1.0],
                              [0.5, 0.5]]), b=np.array([0.5, 0.0, -0.5, 0.0, 1.0]))
    return buf.getvalue()


def _onnx_bytes():
    W0 = np.array([[1.0, 2.0], [-1.0, 1.0], [-1.0, -2.0], [1.0, -1.0]], np.float32)
    W1 = np.array([[1.0, 0.5, -0.25, 2.0], [0.0, 1.0, 1.0, -1.0], [1.0, 1.0, 1.0, 1.0]],
                  np.float32)
    nodes = [helper.make_node("Gemm", ["x", "W0", "b0"], ["g0"], transB=1, name="fc0"),
             helper.make_node("BatchNormalization", ["g0", "s", "t", "mu", "var"], ["n0"]),
             helper.make_node("Relu", ["n0"], ["r0"]),
             helper.make_node("MatMul", ["r0", "W1t"], ["g1"], name="fc1"),
             helper.make_node("Sigmoid", ["g1"], ["y"])]
    inits = [numpy_helper.from_array(W0, "W0"),
             numpy_helper.from_array(np.array([0.5, 0, -0.5, 0], np.float32), "b0"),
             numpy_helper.from_array(np.ones(4, np.float32), "s"),
             numpy_helper.from_array(np.zeros(4, np.float32), "t"),
             numpy_helper.from_array(np.zeros(4, np.float32), "mu"),
             numpy_helper.from_array(np.ones(4, np.float32), "var"),
             numpy_helper.from_array(W1.T.copy(), "W1t")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      [1, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                          initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]).SerializeToString()


def _rezip(raw, member, mutate):
    """Mutate the bytes of one archive member and write a consistent zip (valid
    CRC), so the mutation reaches NumPy's .npy parser."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, mutate(data) if name == member else data)
    return buf.getvalue()


BASES = {"layer.npz": _layer_npz(), "net.npz": _network_npz(), "net.onnx": _onnx_bytes()}
mutations = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), min_size=1,
                     max_size=3)


def _apply(data, muts):
    data = bytearray(data)
    for pos, val in muts:
        data[pos % len(data)] = val
    return bytes(data)


def _run_and_judge(tmp_path, name, data):
    """check --certificate then verify, in-process; returns the check exit code."""
    import contextlib
    model = tmp_path / name
    model.write_bytes(data)
    cert = tmp_path / "proof.json"
    cert.unlink(missing_ok=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(model), "--json", "--time-limit", "3", "--certificate",
                     str(cert)])
    assert code in (0, 2), (code, err.getvalue())
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
        assert "internal error" not in err.getvalue()
        return code
    doc = json.loads(out.getvalue())
    if doc["verdict"] != "unknown" or cert.exists():
        assert cert.exists(), doc
        vout = io.StringIO()
        with contextlib.redirect_stdout(vout), contextlib.redirect_stderr(io.StringIO()):
            vcode = main(["verify", str(model), str(cert)])
        assert vcode == 0, (doc, vout.getvalue())
    return code


FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(BASES))
@FUZZ
@given(muts=mutations)
def test_fuzz_bytes(tmp_path, name, muts):
    _run_and_judge(tmp_path, name, _apply(BASES[name], muts))


@pytest.mark.parametrize("name,member", [("layer.npz", "W.npy"), ("net.npz", "W1.npy"),
                                         ("net.npz", "activations.npy")])
@FUZZ
@given(muts=mutations)
def test_fuzz_npy_members(tmp_path, name, member, muts):
    data = _rezip(BASES[name], member, lambda b: _apply(b, muts))
    _run_and_judge(tmp_path, name, data)


def test_the_unmutated_bases_decide_and_verify(tmp_path):
    assert all(_run_and_judge(tmp_path, name, data) == 0 for name, data in BASES.items())
