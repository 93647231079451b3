"""Time to an exactly verified witness for Gaussian layers with m = 4n.

Usage: python benchmarks/witness_times.py [--max-n 40] [--seeds 3] [--methods tree,milp:scip,...]

Prints one line per (n, seed, method) and a median table. Every reported
witness is re-checked exactly (solver.exact.check_layer_witness).
"""
import argparse
import statistics
import time

import numpy as np

from solver import check_layer
from solver.exact import check_layer_witness


def run(method, W, time_limit):
    kw = {"time_limit": time_limit}
    if method.startswith("milp:"):
        kw.update(method="milp", backend=method.split(":", 1)[1])
    else:
        kw.update(method=method)
    t = time.perf_counter()
    r = check_layer(W, **kw)
    dt = time.perf_counter() - t
    if r.witness is not None:
        ok, why = check_layer_witness(W, np.zeros(W.shape[0]), r.witness.x1, r.witness.x2)
        assert ok, why
    return r.verdict.value, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-n", type=int, default=40)
    ap.add_argument("--ratio", type=float, default=4.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--methods", default="tree,milp:scip,milp:highs,milp:cbc")
    args = ap.parse_args()
    methods = args.methods.split(",")
    sizes = [n for n in (2, 5, 10, 20, 30, 40, 60, 80) if n <= args.max_n]
    table = {}
    for n in sizes:
        m = int(round(args.ratio * n))
        for seed in range(args.seeds):
            W = np.random.default_rng(1000 * n + seed).standard_normal((m, n))
            for meth in methods:
                verdict, dt = run(meth, W, args.time_limit)
                table.setdefault((n, meth), []).append(dt)
                print(f"n={n:3d} m={m:4d} seed={seed} {meth:12s} {verdict:14s} {dt:8.3f} s", flush=True)
    print("\nmedian seconds to a verified verdict (m = %.1f n)" % args.ratio)
    print("n     " + "".join(f"{m:>14s}" for m in methods))
    for n in sizes:
        print(f"{n:<6d}" + "".join(f"{statistics.median(table[(n, m)]):14.3f}" for m in methods))


if __name__ == "__main__":
    main()
