"""CPU cost of exact decisions of Gaussian phase-study layers (what a larger n would cost).

``python -m benchmarks.phase_cost N M SEED [SEED ...]`` decides the layers
``(family phase, n = N, m = M, seed)`` one after the other with the sign tree
and the harness's certificate / witness check (:func:`benchmarks.harness.run_task`
on :func:`benchmarks.phase.make_task`, time limit 1800 s) and prints one JSON
line per layer: the row's verdict, timings, nodes and certificate size, plus
``wall`` and ``cpu`` (getrusage of the process and its children: on a shared
machine the wall clock includes waiting). Speed is measured here, never in tests.
"""
import json
import resource
import sys
import time

from . import harness as H
from . import phase

KEYS = ("n", "m", "seed", "verdict", "verified", "seconds", "check_seconds", "nodes", "lps",
        "cert_leaves", "cert_bytes", "message")


def cpu_seconds():
    """User + system CPU seconds of this process and its finished children."""
    a, b = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        n, m, *seeds = (int(a) for a in argv)
        if not seeds or n < 1 or m < 1:
            raise ValueError
    except ValueError:
        print("usage: python -m benchmarks.phase_cost N M SEED [SEED ...]", file=sys.stderr)
        return 2
    curve = phase.parse_curve("gauss")
    for seed in seeds:
        t, cpu = time.perf_counter(), cpu_seconds()
        row = H.run_task(phase.make_task(curve, n, m, seed, "tree", 1800.0))
        out = {k: row.get(k) for k in KEYS}
        out["wall"] = time.perf_counter() - t
        out["cpu"] = cpu_seconds() - cpu
        print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
