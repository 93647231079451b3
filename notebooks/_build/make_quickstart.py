import nbformat as nbf
nb = nbf.v4.new_notebook()
md = nbf.v4.new_markdown_cell
code = nbf.v4.new_code_cell
nb.cells = [
md("""# reluinj quick start

Decide whether `x ↦ ReLU(Wx + b)` is injective, read the exact witness or the certificate,
and re-check both independently. Every `not_injective` answer carries a witness checked in
exact rational arithmetic; every `injective` answer carries a certificate."""),
code("""import json, pathlib
import numpy as np
import solver
from solver import check_layer, check_certificate, check_witness
ROOT = pathlib.Path.cwd() if (pathlib.Path.cwd() / "examples").exists() else pathlib.Path.cwd().parent
SHARED = ROOT.parent / "shared\""""),
md("""## A non-injective layer and its witness

`W` has fewer than `2n` rows, so it cannot be injective (Corollary 2 of Puthawala et al.).
The witness is two different inputs with exactly the same output."""),
code("""W, b = solver.load_layer(ROOT / "examples" / "gaussbias_n4_m12.npz")
res = check_layer(W, b)
print(res.verdict, "|", res.method, "|", f"{res.seconds:.3f} s")
x1, x2 = res.witness.floats()
print("x1 ≈", np.round(x1, 4)); print("x2 ≈", np.round(x2, 4))
print("exact coordinates are rationals, e.g.", res.witness.to_json()["x2"][0][:60], "...")
relu = lambda v: np.maximum(v, 0)
print("max |F(x1) - F(x2)| in floats:", np.abs(relu(W @ x1 + b) - relu(W @ x2 + b)).max())
print("exact check:", check_witness(W, b, res.witness.to_json()))"""),
md("""## An injective layer and its certificate

The certificate is a JSON tree over sign patterns. The checker in `solver/certificates/checker.py`
imports no solver: it re-verifies every leaf in exact arithmetic from the layer alone."""),
code("""W, b = solver.load_layer(ROOT / "examples" / "gauss_n4_m24.npz")
res = check_layer(W, b)
print(res.verdict, res.stats)
cert = json.loads(json.dumps(res.certificate))   # it is plain data
print("certificate size:", len(json.dumps(cert)), "bytes")
print(check_certificate(W, b, cert))
W_other = W.copy(); W_other[0, 0] += 1e-3
print("held against another layer:", check_certificate(W_other, b, cert))"""),
md("""## Lemma 1 of the paper is not an equivalence

`W = [1; −1]`, `b = [1; −1]` is injective, although `ReLU(W|_{b≥0} ·)` is not."""),
code("""W, b = np.array([[1.0], [-1.0]]), np.array([1.0, -1.0])
print(check_layer(W, b).verdict, check_layer(np.array([[1.0], [0.0]])).verdict)"""),
md("""## Thin cells

`[B; −B]` is injective. Tilting one row by 1e-6 opens a bad cell so thin that no MILP over a
moderate box contains it; the scale-free search finds it and the witness is exact."""),
code("""B = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0]])
W = np.vstack([B, -B])
print(check_layer(W).verdict)
W[3] += 1e-6 * np.array([0.3, -0.7, 0.2])
res = check_layer(W)
print(res.verdict, "witness magnitude ~", max(abs(v) for v in res.witness.floats()[0]))"""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbf.write(nb, "/work/main/notebooks/quickstart.ipynb")
