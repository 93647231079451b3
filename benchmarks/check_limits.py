"""Wall time of ``reluinj check`` against ``--time-limit`` (non-negotiable 4:
1.1 x the limit plus start-up) on layers and networks that run long.

Run it once per version of the code (``--code DIR``: the directory put on
``PYTHONPATH``), then render both runs as one table::

    python benchmarks/check_limits.py run --code /path/to/old --out before.jsonl
    python benchmarks/check_limits.py run --code /path/to/new --out after.jsonl
    python benchmarks/check_limits.py table before.jsonl after.jsonl

Each case also runs at ``--time-limit 0``: that wall time is its start-up
(interpreter, imports, loading, the set-up no limit governs), and a run at
limit L keeps the rule when its wall time is at most 1.1 L + that start-up.
The instances are written to a temporary directory from seeded specs
(:func:`benchmarks.instances.make_layer`) and the shared models.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.instances import SHARED, make_generator, make_layer  # noqa: E402

LIMITS = (0.0, 0.2, 1.0, 5.0)
BACKENDS = ("highs", "scip", "cbc", "pulp-cbc", "scipy-highs")


def _pair_network():
    """10 -> 50 -> 40 -> 60 (identity head): layer 0 is injective ([I; -I; G]),
    layer 1 is not on the orthant (40 < 50 rows), so check ends in the
    two-copy MILP (tests/test_check_limits.py uses the same network)."""
    rng = np.random.default_rng(3)
    n = 10
    W0 = np.vstack([np.eye(n), -np.eye(n), rng.standard_normal((30, n))])
    W1 = rng.standard_normal((40, 50)) / 7
    W2 = rng.standard_normal((60, 40)) / 6
    return dict(W0=W0, b0=np.zeros(50), W1=W1, b1=0.1 * rng.standard_normal(40), W2=W2,
                b2=0.1 * rng.standard_normal(60), activations=np.array(["relu", "relu",
                                                                         "identity"]))


def instances(d):
    """``[(case, model path, extra arguments)]``, the models written to ``d``."""
    d = pathlib.Path(d)
    out = []
    for fam, n, m in (("gauss", 30, 3000), ("gaussbias", 40, 8000)):
        W, b = make_layer({"family": fam, "n": n, "m": m, "seed": 1})
        p = d / f"{fam}_n{n}_m{m}.npz"
        np.savez(p, W=W, b=b)
        out.append((p.stem, p, []))
        for be in (BACKENDS if m == 3000 else ("highs",)):
            out.append((f"{p.stem} --backend {be}", p, ["--backend", be]))
        if m == 3000:
            out += [(f"{p.stem} --method {k}", p, ["--method", k])
                    for k in ("enumerate", "bruteforce")]
    vae60 = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"
    out += [("vae60 --box 5", vae60, ["--box", "5"]),
            ("vae400", SHARED / "models" / "mnist_vae_decoder_20_400_784.npz", [])]
    net = make_generator({"gen": "rand", "n0": 10, "widths": [60, 60, 120], "seed": 0})
    p = d / "rand10.npz"
    np.savez(p, **{f"W{k}": L.W for k, L in enumerate(net.layers)},
             **{f"b{k}": L.b for k, L in enumerate(net.layers)})
    out.append(("rand10_60-60-120", p, []))
    p = d / "pairnet.npz"
    np.savez(p, **_pair_network())
    out.append(("pairnet", p, []))
    out += [(f"pairnet --backend {be}", p, ["--backend", be])
            for be in ("highs", "cbc", "pulp-cbc")]
    out.append(("pairnet --box 2", p, ["--box", "2"]))
    return out


def run(code, out, limits=LIMITS, only=""):
    env = dict(os.environ, PYTHONPATH=str(code))
    with tempfile.TemporaryDirectory() as d, open(out, "a") as fh:
        for case, model, extra in instances(d):
            if only and only not in case:
                continue
            for L in limits:
                cmd = ["nice", "-n", "10", sys.executable, "-m", "solver", "check", str(model),
                       "--json", "--time-limit", f"{L:g}", *extra]
                t = time.monotonic()
                p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
                wall = time.monotonic() - t
                try:
                    doc = json.loads(p.stdout)
                    sec, verdict, method = doc.get("seconds"), doc.get("verdict"), doc.get("method")
                except ValueError:
                    sec, verdict, method = None, f"exit {p.returncode}", None
                rec = dict(code=str(code), case=case, limit=L, wall=round(wall, 2),
                           seconds=None if sec is None else round(sec, 2), verdict=verdict,
                           method=method, load=round(os.getloadavg()[0], 2))
                print(json.dumps(rec), flush=True)
                fh.write(json.dumps(rec) + "\n")


def table(before, after):
    rows = {}
    for path, tag in ((before, "before"), (after, "after")):
        for line in open(path):
            r = json.loads(line)
            rows.setdefault(r["case"], {}).setdefault(tag, {})[r["limit"]] = r
    print("| case | L (s) | before: `seconds` | before: wall / 1.1 L + start-up | "
          "after: `seconds` | after: wall / 1.1 L + start-up | after: verdict, method |")
    print("|---|---|---|---|---|---|---|")
    for case, d in rows.items():
        limits = sorted({L for tag in d.values() for L in tag if L > 0})
        for L in limits:
            cells = []
            for tag in ("before", "after"):
                r, s0 = d.get(tag, {}).get(L), d.get(tag, {}).get(0.0)
                if r is None:
                    cells += ["", ""]
                    continue
                sec = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
                if r["seconds"] is not None and r["seconds"] > 1.1 * L:
                    sec = f"**{sec}**"
                bound = None if s0 is None else 1.1 * L + s0["wall"]
                wall = f"{r['wall']:.2f}" + ("" if bound is None else f" / {bound:.2f}")
                if bound is not None and r["wall"] > bound:
                    wall = f"**{wall}**"
                cells += [sec, wall]
            a = d.get("after", {}).get(L)
            last = f"{a['verdict']}, {a['method']}" if a else ""
            print(f"| {case} | {L:g} | " + " | ".join(cells) + f" | {last} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--code", required=True, help="directory put on PYTHONPATH")
    r.add_argument("--out", required=True, help="JSON lines file (appended)")
    r.add_argument("--limits", type=float, nargs="+", default=list(LIMITS))
    r.add_argument("--only", default="", help="cases whose name contains this")
    t = sub.add_parser("table")
    t.add_argument("before")
    t.add_argument("after")
    a = ap.parse_args(argv)
    if a.cmd == "run":
        run(a.code, a.out, a.limits, a.only)
    else:
        table(a.before, a.after)


if __name__ == "__main__":
    main()
