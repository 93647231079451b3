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
md("""## Rows antiparallel only up to rounding

`[B; −DB]` is injective when `D B` is exact (Corollary 2). Computed in floating point, `−0.3·B` is
rounded entry by entry, the rows are antiparallel only to within an ulp, and the thin wedge between
the two hyperplanes is a genuine bad cell of the binary64 layer: reluinj says `not_injective` and
proves it. `check_layer_snapped` decides the layer with such rows made exactly coincident, which is
what the construction meant; its certificate is about that snapped layer (CLI: `--snap-parallel`)."""),
code("""B = np.array([[1.0, 0.1, 0.2], [0.3, 1.0, -0.4], [0.5, -0.2, 1.0]])
W = np.vstack([B, -0.3 * B])
res = check_layer(W)
x1, x2 = res.witness.floats()
print(res.verdict, "| |x2 - x1| =", max(abs(a - c) for a, c in zip(res.witness.x1, res.witness.x2)))
snap, sres = solver.check_layer_snapped(W)
print("snapped rows (row, from, scale):", [r[:3] for r in snap.rows], "max rel. change", snap.max_rel_change)
print("snapped layer:", sres.verdict, check_certificate(snap.W, snap.b, sres.certificate))"""),
md("""## A real generator: the MNIST VAE decoder (20 → 60 → 784)

The decoder of Lei et al. (2019) is `G(z) = ReLU(W1 ReLU(W0 z))` with `W0` 60×20. Its first layer has
expansivity 3, below the critical 3.4 of Theorem 6, and reluinj finds an exact witness there; a witness of
the first layer is a witness of the whole network (checked exactly through both layers). So **`G` is not
injective on R²⁰**: some images have two latent codes. Inversion can still be exact, and for a given image
the second MIP below decides whether *its* preimage is unique in the latent box."""),
code("""net = solver.load_network(SHARED / "models" / "mnist_vae_decoder_20_60_784.npz")
nres = solver.check_network(net, time_limit=60)
print(nres.verdict, "|", nres.method, "|", f"{nres.seconds:.2f} s")
z1 = np.array([float(v) for v in nres.witness.x1]); z2 = np.array([float(v) for v in nres.witness.x2])
print("|z1 - z2| =", np.abs(z1 - z2).max(), "  max |G(z1) - G(z2)| (floats) =", np.abs(net.forward(z1) - net.forward(z2)).max())"""),
md("""## Inverting the decoder (Proposition 4 of Balestriero et al.)

`G` is affine on each activation region, so inversion is a search over regions: a MIP with one binary per
ambiguous unit, big-M constants from bounds propagated over the latent box. Below, `x = G(z0)` for a random
`z0`; the MIP recovers a preimage to floating-point accuracy and proves it is the only one in the box
(up to `delta`), while gradient descent with restarts (the usual practice) stalls at a wrong code."""),
code("""from solver.inversion_baselines import gradient_descent
z0 = np.random.default_rng(3).standard_normal(20)
x = net.forward(z0)
inv = solver.invert(net, x, time_limit=60)
gd = gradient_descent(net, x)
print(f"MIP: {inv.status}, relative residual {inv.relative_residual:.2e}, unique: {inv.unique}, {inv.seconds:.1f} s")
print(f"gradient descent: {gd.status}, residual {gd.residual:.2e}")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 3, figsize=(7, 2.6))
for a, img, title in zip(ax, [x, net.forward(np.array(inv.z)), net.forward(np.array(gd.z))],
                         ["target G(z0)", "MIP: G(z)", "gradient descent"]):
    a.imshow(img.reshape(28, 28), cmap="gray"); a.set_title(title); a.axis("off")
plt.show()"""),
]
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
import pathlib
nbf.write(nb, pathlib.Path(__file__).resolve().parents[1] / "quickstart.ipynb")
