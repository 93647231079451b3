"""Old vs new code in one run, alternating per instance (branch `house`):
the cell enumeration, the sigma* search, the orthant tree and network
checks, after moving them onto lp.SignSystems (dual-form LP) and lp.unit_rows.

    git archive main solver | tar -x -C /tmp/house_old
    PYTHONPATH=$PWD nice -n 19 /work/main/.venv/bin/python \
        benchmarks/results/2026-11-27/house/measure.py /tmp/house_old $PWD OUT.jsonl

Each job runs in a fresh subprocess with PYTHONPATH set to the old or the new
tree; CPU seconds are ``time.process_time()`` around the call only. The
outputs compared are the deterministic ones (cell sign vectors, verdicts,
sigma values and bounds); the new answers are re-checked (certificates by
their checkers, witnesses exactly).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve()
WT = HERE.parents[4]
sys.path.insert(0, str(WT))

WORKER = r'''
import hashlib, json, sys, time
import numpy as np
kind, path = sys.argv[1], sys.argv[2]
d = np.load(path)
out = {}
if kind in ("enum", "sigma", "sigma_nonneg", "nonneg"):
    W, b = d["W"], d["b"]
if kind == "enum":
    from solver.enumeration import enumerate_cells, certificate_from_enumeration
    from solver import exact
    t = time.process_time()
    e = enumerate_cells(W, b)
    out["cpu"] = time.process_time() - t
    signs = sorted(c.sign for c in e.cells)
    out.update(cells=len(e.cells), complete=e.complete, reason=e.reason,
               signs=hashlib.sha256(repr(signs).encode()).hexdigest()[:16],
               lps=e.stats["lps"], exact_lps=e.stats["exact_lps"])
    G, _ = exact.integer_rows(W, b)
    n = W.shape[1]
    inj = all(exact.rank([G[i][:n] for i, s in enumerate(c.sign) if s > 0] or [[0] * n]) == n
              for c in e.cells)
    out["verdict"] = "injective" if inj else "not_injective"
    if inj and e.complete:
        from solver.certificates import checker
        doc = certificate_from_enumeration(W, b, e)
        out["certified"] = bool(checker.check_certificate(W, b, doc)[0])
elif kind in ("sigma", "sigma_nonneg"):
    from solver.sigma_search import sigma_star
    t = time.process_time()
    r = sigma_star(W, b, domain="nonneg" if kind == "sigma_nonneg" else "all", time_limit=120)
    out["cpu"] = time.process_time() - t
    out.update(verdict=r.status, sigma=repr(r.sigma), lower=str(r.lower),
               positive=hashlib.sha256(repr(r.positive).encode()).hexdigest()[:16],
               nodes=r.stats.get("nodes"), lps=r.stats.get("lps"),
               exact_lps=r.stats.get("exact_lps"))
elif kind == "nonneg":
    from solver.network.orthant import check_layer_nonneg, check_nonneg_certificate
    from solver import exact
    t = time.process_time()
    r = check_layer_nonneg(W, b, time_limit=120)
    out["cpu"] = time.process_time() - t
    out.update(verdict=r.verdict.value, nodes=r.stats.get("nodes"), lps=r.stats.get("lps"),
               exact_lps=r.stats.get("exact_lps"), leaves=r.stats.get("leaves"))
    if r.verdict.value == "injective":
        out["certified"] = bool(check_nonneg_certificate(W, b, r.certificate)[0])
    elif r.verdict.value == "not_injective":
        x1, x2 = r.witness.x1, r.witness.x2
        out["certified"] = bool(exact.check_layer_witness(W, b, x1, x2)[0]) and \
            min(x1) >= 0 and min(x2) >= 0
else:  # network: arrays W0.., b0.., acts; kind = "net:<method>:<domain>"
    from solver.network import make_network
    from solver.network.check import check_network
    _, method, domain = kind.split(":")
    k = len([f for f in d.files if f.startswith("W")])
    net = make_network([d[f"W{i}"] for i in range(k)], [d[f"b{i}"] for i in range(k)],
                       [str(a) for a in d["acts"]])
    t = time.process_time()
    r = check_network(net, method=method, domain=domain, time_limit=120)
    out["cpu"] = time.process_time() - t
    out.update(verdict=r.verdict.value, method=r.method, message=r.message)
import solver
out["code"] = solver.__file__
print(json.dumps(out))
'''


def jobs():
    from benchmarks.instances import make_layer
    out = []
    for fam, n, m, seed in [("gauss", 4, 16, 0), ("gauss", 5, 15, 0),
                            ("gauss", 5, 20, 1), ("gauss", 6, 14, 0), ("gauss", 6, 16, 1),
                            ("gaussbias", 4, 12, 0), ("construct", 4, 12, 0),
                            ("construct", 5, 13, 1)]:
        W, b = make_layer({"family": fam, "n": n, "m": m, "seed": seed})
        out.append(("enum", f"{fam}_n{n}_m{m}_{seed}", {"W": W, "b": b}))
    layers = sorted((WT.parent / "shared" / "instances" / "layers").glob("*.npz"))
    for p in layers:
        d = np.load(p)
        W = d["W"]
        b = d["b"] if "b" in d.files else np.zeros(len(W))
        for kind in ("sigma", "sigma_nonneg", "nonneg"):
            out.append((kind, p.stem, {"W": W, "b": b}))
    for fam, n, m, seed in [("gauss", 4, 24, 0), ("gauss", 5, 30, 0), ("gauss", 6, 36, 0),
                            ("gaussbias", 5, 25, 0), ("construct", 5, 20, 0),
                            ("construct", 6, 24, 0), ("gauss", 8, 32, 0), ("gauss", 8, 32, 1),
                            ("gauss", 9, 36, 0)]:
        W, b = make_layer({"family": fam, "n": n, "m": m, "seed": seed})
        for kind in (("sigma", "sigma_nonneg", "nonneg") if n < 8 else ("nonneg",)):
            out.append((kind, f"{fam}_n{n}_m{m}_{seed}", {"W": W, "b": b}))
    # networks: the end-to-end nets of tests/test_networks.py (layerwise, regions)
    # and Gaussian two-layer nets whose second layer is decided on the orthant
    sys.path.insert(0, str(WT / "tests"))
    import test_networks as tn
    for seed, kind in [(0, "plain"), (1, "extra"), (2, "drop"), (3, "extra"), (4, "drop"),
                       (5, "random"), (6, "random"), (7, "random3")]:
        rng = np.random.default_rng(100 + seed)
        if kind.startswith("random"):
            W1, b1, _ = tn.exact_pm(2, rng)
            h = 3 if kind == "random3" else 4
            net = tn.make_network([W1, rng.standard_normal((h, 4)), rng.standard_normal((2, h))],
                                  [b1, rng.standard_normal(h) * 0.3, np.zeros(2)],
                                  ["relu", "relu", "identity"])
        else:
            net = tn.structured_net(rng, kind)
        out.append(("net:auto:all", f"test_net_{seed}_{kind}", _net_arrays(net)))
    for seed, (n, h, o) in enumerate([(2, 6, 18), (3, 8, 24), (3, 9, 27), (4, 10, 30)]):
        W0, b0 = make_layer({"family": "construct", "n": n, "m": h, "seed": seed})
        rng = np.random.default_rng(200 + seed)
        arrays = {"W0": W0, "b0": b0,
                  "W1": rng.standard_normal((o, h)), "b1": rng.standard_normal(o) * 0.1,
                  "acts": np.array(["relu", "relu"])}
        out.append(("net:layerwise:all", f"construct_gauss_net_{n}_{h}_{o}_{seed}", arrays))
        out.append(("net:layerwise:nonneg", f"construct_gauss_net_{n}_{h}_{o}_{seed}", arrays))
    return out


def _net_arrays(net):
    d = {}
    for i, L in enumerate(net.layers):
        d[f"W{i}"], d[f"b{i}"] = L.W, L.b
    d["acts"] = np.array([str(L.activation) for L in net.layers])
    return d


def run(code_dir, kind, path):
    env = dict(os.environ, PYTHONPATH=str(code_dir))
    # cwd outside any checkout: "-c" puts the cwd first on sys.path
    p = subprocess.run([sys.executable, "-c", WORKER, kind, path], env=env,
                       capture_output=True, text=True, timeout=900, cwd=tempfile.gettempdir())
    if p.returncode:
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "?"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(old, new, out_path):
    with tempfile.TemporaryDirectory() as tmp, open(out_path, "w") as fh:
        for k, (kind, name, arrays) in enumerate(jobs()):
            path = os.path.join(tmp, f"{k}.npz")
            np.savez(path, **arrays)
            order = [("old", old), ("new", new)]
            if k % 2:
                order.reverse()
            row = {"kind": kind, "name": name}
            for label, code in order:
                row[label] = run(code, kind, path)
            print(json.dumps(row), file=fh, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
