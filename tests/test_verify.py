"""``reluinj verify MODEL DOC`` reads every document ``check --certificate``
writes, for every model format, choosing the checker by ``format``; a
tampered document is refused (exit 1 with a reason).

Round trips run the CLI in-process (solver.cli.main). The verdicts are
cross-checked where cheap: witnesses by the float forward pass, injective
claims by construction ([B; -B] layers, full-rank heads)."""
import json

import numpy as np
import pytest

from solver.cli import main

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def check_then_verify(capsys, model, proof, *extra):
    code, out, err = cli(capsys, "check", model, "--certificate", proof, "--json", *extra)
    assert code == 0, err
    doc = json.loads(out)
    code, vout, verr = cli(capsys, "verify", model, proof)
    assert code == 0, vout + verr
    assert vout.startswith("valid")
    return doc, json.loads(proof.read_text()), vout


def tamper_refused(capsys, model, proof, doc, change):
    bad = json.loads(json.dumps(doc))
    change(bad)
    p = proof.with_name("bad_" + proof.name)
    p.write_text(json.dumps(bad))
    code, out, err = cli(capsys, "verify", model, p)
    assert code == 1 and out.startswith("invalid: ") and len(out.strip().splitlines()) == 1, out
    return out


def _onnx(path, Ws, bs, acts):
    nodes, inits, cur = [], [], "x"
    for k, (W, b, a) in enumerate(zip(Ws, bs, acts)):
        inits += [numpy_helper.from_array(W.T.astype(np.float64), f"W{k}"),
                  numpy_helper.from_array(b.astype(np.float64), f"b{k}")]
        nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"b{k}"], [f"g{k}"]))
        nodes.append(helper.make_node(a, [f"g{k}"], [f"a{k}"]))
        cur = f"a{k}"
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.DOUBLE,
                                                                      [1, Ws[0].shape[1]])],
                          [helper.make_tensor_value_info(cur, TensorProto.DOUBLE, None)],
                          initializer=inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


B = np.array([[1.0, 2.0], [-1.0, 1.0]])
PM = np.vstack([B, -B])                     # ReLU([B; -B] z + c) is injective


def test_layer_certificate_and_witness(capsys, tmp_path, tmp_npz):
    layer = tmp_npz(W=PM, b=np.array([0.5, -1.0, -0.5, 1.0]))
    doc, proof, _ = check_then_verify(capsys, layer, tmp_path / "c.json")
    assert doc["verdict"] == "injective" and proof["format"] == "reluinj.certificate"
    tamper_refused(capsys, layer, tmp_path / "c.json", proof,
                   lambda d: d.update(layer_sha256="0" * 64))
    wl = tmp_npz(name="w.npz", W=np.array([[1.0, 1.0], [2.0, -1.0], [-1.0, 0.0]]))
    doc, proof, _ = check_then_verify(capsys, wl, tmp_path / "w.json")
    assert doc["verdict"] == "not_injective" and proof["format"] == "reluinj.witness"
    tamper_refused(capsys, wl, tmp_path / "w.json", proof, lambda d: d.update(x2=d["x1"]))


def test_layer_on_the_orthant(capsys, tmp_path, tmp_npz):
    eye = tmp_npz(W=np.eye(2))              # ReLU(x) = x on x >= 0
    doc, proof, out = check_then_verify(capsys, eye, tmp_path / "n.json", "--domain", "nonneg")
    assert doc["verdict"] == "injective" and proof["format"] == "reluinj.network_proof"
    assert proof["layers"][0]["proof"]["format"] == "reluinj.certificate.nonneg"
    # the orthant certificate does not prove injectivity on R^n
    tamper_refused(capsys, eye, tmp_path / "n.json", proof, lambda d: d.update(domain="all"))
    bad = tmp_npz(name="b.npz", W=np.array([[1.0, -1.0]]))
    doc, proof, _ = check_then_verify(capsys, bad, tmp_path / "nb.json", "--domain", "nonneg")
    assert doc["verdict"] == "not_injective"
    assert all(float(v) >= 0 for v in proof["witness"]["z1"] + proof["witness"]["z2"])
    tamper_refused(capsys, bad, tmp_path / "nb.json", proof,
                   lambda d: d["witness"].update(z1=["-1", "-1"], z2=["-2", "-2"]))


def test_npz_network_layerwise_with_rank_head(capsys, tmp_path, tmp_npz):
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((5, 4))
    net = tmp_npz(name="net.npz", W0=PM, b0=np.zeros(4), W1=W1, b1=np.zeros(5),
                  activations=np.array(["relu", "sigmoid"]))
    doc, proof, out = check_then_verify(capsys, net, tmp_path / "p.json")
    assert doc["verdict"] == "injective" and "layerwise" in out
    assert proof["layers"][1]["proof"]["format"] == "reluinj.certificate.rank"
    why = tamper_refused(capsys, net, tmp_path / "p.json", proof,
                         lambda d: d["layers"][1].update(proof=None, claim=None))
    assert "layer 1 carries no injectivity proof" in why
    tamper_refused(capsys, net, tmp_path / "p.json", proof,
                   lambda d: d["layers"][1]["proof"].update(prime=4))
    tamper_refused(capsys, net, tmp_path / "p.json", proof,
                   lambda d: d.update(activations=["relu", "relu"]))
    # a rank certificate of another (rank-deficient) head is refused
    W1d = W1.copy()
    W1d[:, 3] = W1d[:, 0]
    other = tmp_npz(name="other.npz", W0=PM, b0=np.zeros(4), W1=W1d, b1=np.zeros(5),
                    activations=np.array(["relu", "sigmoid"]))
    code, out, _ = cli(capsys, "verify", other, tmp_path / "p.json")
    assert code == 1 and "fingerprint" in out


def test_npz_network_first_layer_witness(capsys, tmp_path, tmp_npz):
    net = tmp_npz(name="n.npz", W0=np.array([[1.0, 2.0], [2.0, 4.0]]), W1=np.eye(2),
                  activations=np.array(["tanh", "relu"]))
    doc, proof, _ = check_then_verify(capsys, net, tmp_path / "w.json")
    assert doc["verdict"] == "not_injective"
    tamper_refused(capsys, net, tmp_path / "w.json", proof,
                   lambda d: d["witness"].update(z2=["1", "1"]))


def test_unknown_verdict_verifies_what_was_proved(capsys, tmp_path, tmp_npz):
    rng = np.random.default_rng(1)
    # a second ReLU layer 1 x 4: not injective on the orthant, so layerwise fails
    net = tmp_npz(name="u.npz", W0=PM, W1=rng.standard_normal((1, 4)))
    code, out, err = cli(capsys, "check", net, "--certificate", tmp_path / "u.json", "--json",
                         "--method", "layerwise")
    assert code == 0 and json.loads(out)["verdict"] == "unknown"
    code, out, _ = cli(capsys, "verify", net, tmp_path / "u.json")
    assert code == 0 and "claims nothing" in out and "layer 0 injective" in out
    proof = json.loads((tmp_path / "u.json").read_text())
    tamper_refused(capsys, net, tmp_path / "u.json", proof,
                   lambda d: d["layers"][1]["proof"].update(x1=d["layers"][1]["proof"]["x2"]))


def test_onnx_network_round_trips(capsys, tmp_path):
    rng = np.random.default_rng(2)
    good = _onnx(tmp_path / "g.onnx", [PM, rng.standard_normal((5, 4))],
                 [np.zeros(4), rng.standard_normal(5)], ["Relu", "Tanh"])
    doc, proof, _ = check_then_verify(capsys, good, tmp_path / "g.json")
    assert doc["verdict"] == "injective"
    bad = _onnx(tmp_path / "b.onnx", [np.array([[1.0, 1.0], [1.0, 1.0]]), np.eye(2)],
                [np.zeros(2), np.zeros(2)], ["Sigmoid", "Relu"])
    doc, proof, _ = check_then_verify(capsys, bad, tmp_path / "b.json")
    assert doc["verdict"] == "not_injective"
    # a document for another model
    code, out, _ = cli(capsys, "verify", good, tmp_path / "b.json")
    assert code == 1 and out.startswith("invalid:")


def test_region_proofs_are_refused_as_not_checkable(capsys, tmp_path, tmp_npz):
    net = tmp_npz(name="r.npz", W0=np.array([[1.0], [-1.0]]), W1=np.array([[1.0, -1.0]]),
                  b1=np.array([0.5]), activations=np.array(["relu", "sigmoid"]))
    code, out, _ = cli(capsys, "check", net, "--certificate", tmp_path / "r.json", "--json")
    assert code == 0 and json.loads(out)["method"] == "regions"
    code, out, _ = cli(capsys, "verify", net, tmp_path / "r.json")
    assert code == 1 and "not checkable" in out


def test_unreadable_and_foreign_documents(capsys, tmp_path, tmp_npz):
    layer = tmp_npz(W=PM)
    for text, code_expected in (("{}", 1), ('{"format": "x"}', 1), ("[1, 2]", 1),
                                ("{not json", 2)):
        p = tmp_path / "d.json"
        p.write_text(text)
        code, out, err = cli(capsys, "verify", layer, p)
        assert code == code_expected and len((out + err).strip().splitlines()) == 1
