"""The performance suite of the sign tree (``reluinj bench --suite perf``).

What it measures, in one run, on the same instances:

* **targets**: Gaussian layers (b = 0, m = 6n and 8n, seeds 0-4) at the sizes
  the project aims for (n = 11 on one core, n = 12 on both cores), decided,
  verified, with seconds, nodes and LPs;
* **baseline**: the same instances solved by an older reluinj (``--baseline
  DIR``, a directory holding its ``solver`` package, e.g. made by ``git
  archive REV solver | tar -x -C DIR``), in a subprocess; its answers are
  verified by today's checker (version-1 certificates are still accepted),
  and the ratio of the median times is reported;
* **peer**: the exact Tukey depth of the origin among the rows by
  ``data-depth`` (the Python port of R's ddalpha, Dyckerhoff-Mozharovskyi),
  the outside baseline. For rows in general position (Gaussian, b = 0, with
  probability one) injective iff that depth is at least n; depth is not a
  proof for given binary64 rows, so the peer's verdict is compared with ours,
  never trusted. It runs in a subprocess (its C code cannot be interrupted)
  and is skipped when ``data-depth`` is not installed;
* **wedges**: ``[B; -DB]`` with ``DB`` rounded, plus ``2n`` Gaussian rows
  (n = 20, 40): time to an exact witness;
* **mnist**: the first layer (400 x 20, with bias) of the shared 20 -> 400 ->
  784 VAE decoder: the tree's answer within the limit, and the certified
  number of active rows (:mod:`solver.depth`);
* **scaling**: one proof split into subtrees: wall time with 1 and 2 worker
  processes, and the makespan for 8, 32 and 128 workers simulated by list
  scheduling of the recorded subtree times.

Every row is appended to ``DIR/perf_rows.jsonl`` as it finishes.
"""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from .instances import make_layer

__all__ = ["run_perf", "list_schedule", "reach", "plot_scaling", "TARGETS"]

#: (family, m/n, n, workers): issue-10 targets
TARGETS = [("gauss", 6, 11, 1), ("gauss", 8, 11, 1), ("gauss", 6, 12, 2), ("gauss", 8, 12, 2)]


def _verify(W, b, verdict, certificate=None, witness=None):
    from solver.certificates import check_certificate
    from solver.exact import check_layer_witness
    if verdict == "injective":
        return bool(certificate is not None and check_certificate(W, b, certificate)[0])
    if verdict == "not_injective":
        return bool(witness is not None and check_layer_witness(W, b, *witness)[0])
    return None


def solve_current(W, b, time_limit, workers=1):
    from solver import check_layer
    t = time.perf_counter()
    r = check_layer(W, b, time_limit=time_limit, workers=workers)
    sec = time.perf_counter() - t
    wit = None if r.witness is None else (r.witness.x1, r.witness.x2)
    return {"verdict": r.verdict.value, "seconds": sec, "nodes": r.stats.get("nodes"),
            "lps": r.stats.get("lps"),
            "verified": _verify(W, b, r.verdict.value, r.certificate, wit)}


_BASELINE_SCRIPT = r"""
import json, sys, time
import numpy as np
d = np.load(sys.argv[1])
from solver import check_layer
t = time.perf_counter()
r = check_layer(d["W"], d["b"], time_limit=float(sys.argv[2]), workers=int(sys.argv[3]))
sec = time.perf_counter() - t
out = {"verdict": r.verdict.value, "seconds": sec, "nodes": r.stats.get("nodes"),
       "lps": r.stats.get("lps"), "certificate": r.certificate,
       "witness": None if r.witness is None else r.witness.to_json()}
print(json.dumps(out))
"""


def solve_baseline(basedir, W, b, time_limit, workers=1):
    """An older reluinj (its ``solver`` package in ``basedir``) in a
    subprocess; its answer verified here."""
    from solver.exact import parse_rational
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.npz")
        np.savez(path, W=W, b=b)
        env = dict(os.environ, PYTHONPATH=str(basedir))
        try:
            p = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, path, str(time_limit),
                                str(workers)], capture_output=True, text=True, env=env,
                               timeout=3 * time_limit + 60, cwd=tmp)
            out = json.loads(p.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            return {"verdict": "error", "seconds": None, "nodes": None, "lps": None,
                    "verified": None}
    wit = out.pop("witness")
    if wit is not None:
        wit = ([parse_rational(v) for v in wit["x1"]], [parse_rational(v) for v in wit["x2"]])
    out["verified"] = _verify(W, b, out["verdict"], out.pop("certificate"), wit)
    return out


_PEER_SCRIPT = r"""
import sys, time, numpy as np
d = np.load(sys.argv[1])
from depth.model.multivariate.Halfspace import halfspace
W = d["W"]
t = time.perf_counter()
dep = halfspace(np.zeros((1, W.shape[1])), W, exact=True, method=sys.argv[2])
print(time.perf_counter() - t, float(dep[0]))
"""


def peer_available():
    import importlib.util
    return importlib.util.find_spec("depth") is not None


def solve_peer(W, time_limit, method="line"):
    """data-depth's exact Tukey depth of the origin among the rows (b = 0).
    Returns ``{"verdict", "seconds", "depth"}``; verdict by depth >= n, which
    is injectivity only for rows in general position (not checked)."""
    m, n = W.shape
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "layer.npz")
        np.savez(path, W=W)
        try:
            p = subprocess.run([sys.executable, "-c", _PEER_SCRIPT, path, method],
                               capture_output=True, text=True, timeout=time_limit + 30, cwd=tmp)
            sec, dep = map(float, p.stdout.strip().splitlines()[-1].split())
        except subprocess.TimeoutExpired:
            return {"verdict": "unknown", "seconds": None, "depth": None}
        except (ValueError, IndexError):
            return {"verdict": "error", "seconds": None, "depth": None}
    count = int(round(dep * m)) if dep <= 1.0 else int(round(dep))
    if sec > time_limit:
        return {"verdict": "unknown", "seconds": sec, "depth": count}
    return {"verdict": "injective" if count >= n else "not_injective", "seconds": sec,
            "depth": count}


def rounded_construction(n, seed, extra=2):
    """``[B; -D B]`` with ``D`` uniform in [0.5, 2] (so ``D B`` is rounded and
    the pairs are antiparallel only up to rounding), plus ``extra * n``
    Gaussian rows, shuffled; b = 0."""
    rng = np.random.default_rng([9, n, seed])
    B = rng.standard_normal((n, n))
    D = rng.uniform(0.5, 2.0, n)
    W = np.vstack([B, -D[:, None] * B, rng.standard_normal((extra * n, n))])
    return W[rng.permutation(len(W))], np.zeros(len(W))


def list_schedule(durations, workers):
    """Makespan of list scheduling: each task, in order, goes to the worker
    that is free first (Graham's bound: at most 2 - 1/p times optimal)."""
    import heapq
    free = [0.0] * int(workers)
    for d in durations:
        t = heapq.heappop(free)
        heapq.heappush(free, t + d)
    return max(free)


class _Rows:
    def __init__(self, out):
        self.path = None if out is None else pathlib.Path(out) / "perf_rows.jsonl"
        self.rows = []
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, row):
        self.rows.append(row)
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def _median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def run_targets(rows, seeds, time_limit, baseline=None, peer=False, targets=TARGETS):
    for fam, c, n, workers in targets:
        for seed in seeds:
            spec = {"family": fam, "n": n, "m": int(c * n), "seed": seed}
            W, b = make_layer(spec)
            base = {"part": "targets", "n": n, "ratio": c, "seed": seed, "workers": workers}
            rows.add({**base, "method": "tree", **solve_current(W, b, time_limit, workers)})
            if baseline is not None:
                rows.add({**base, "method": "baseline",
                          **solve_baseline(baseline, W, b, time_limit, workers)})
            if peer:
                rows.add({**base, "method": "data-depth", **solve_peer(W, time_limit)})


def run_wedges(rows, seeds, time_limit, ns=(20, 40)):
    for n in ns:
        for seed in seeds:
            W, b = rounded_construction(n, seed)
            rows.add({"part": "wedges", "n": n, "m": len(W), "seed": seed, "method": "tree",
                      **solve_current(W, b, time_limit)})


def run_mnist(rows, time_limit, model=None):
    from solver.depth import certify_depth
    model = model or pathlib.Path(__file__).resolve().parents[2] / "shared" / "models" / \
        "mnist_vae_decoder_20_400_784.npz"
    d = np.load(model)
    W, b = d["W0"], d["b0"]
    rows.add({"part": "mnist", "layer": "W0 (400x20)", "method": "tree",
              **solve_current(W, b, time_limit, workers=2)})
    r = certify_depth(W, b, time_limit=time_limit)
    rows.add({"part": "mnist", "layer": "W0 (400x20)", "method": "depth",
              "active_rows_at_least": r.total, "depth": list(r.depth), "seconds": r.seconds,
              "lps": r.lps, "complete": r.complete})


def run_scaling(rows, n, c, seed, time_limit, workers=(1, 2), simulate=(1, 2, 8, 32, 128),
                subtrees=None):
    from solver.distributed import MIN_TASKS, parallel_search
    subtrees = MIN_TASKS if subtrees is None else int(subtrees)
    W, b = make_layer({"family": "gauss", "n": n, "m": int(c * n), "seed": seed})
    times = {}
    for w in workers:
        t = time.perf_counter()
        tt = {}
        out = parallel_search(W, b, time_limit=time_limit, workers=w, task_times=tt,
                              min_tasks=subtrees)
        wall = time.perf_counter() - t
        if w == 1:
            times = tt
        rows.add({"part": "scaling", "n": n, "ratio": c, "seed": seed, "workers": w,
                  "subtrees": subtrees, "measured": True, "verdict": out.verdict, "seconds": wall,
                  "tasks": len(tt), "nodes": out.stats.nodes})
    if times:
        durations = [times[k] for k in sorted(times)]
        total = sum(durations)
        for p in simulate:
            rows.add({"part": "scaling", "n": n, "ratio": c, "seed": seed, "workers": p,
                      "subtrees": subtrees, "measured": False, "subtree_seconds": total,
                      "makespan": list_schedule(durations, p),
                      "speedup": total / list_schedule(durations, p)})


def reach(subtree_seconds, n0, speedup, budget=600.0, growth=3.0):
    """Largest n whose proof fits in ``budget`` seconds of wall time, from the
    total subtree time of one proof at ``n0``, a speedup, and a growth factor
    of the tree per unit of n (about 3, measured: see the README). An
    extrapolation, stated as such wherever it is printed."""
    n, t = n0, subtree_seconds / speedup
    if t > budget:
        return None
    while t * growth <= budget:
        n, t = n + 1, t * growth
    return n


def _by_split(rows, measured):
    """Scaling rows grouped by the number of subtrees (rows written before
    the split was recorded used 256)."""
    out = {}
    for r in rows:
        if r.get("part") == "scaling" and bool(r.get("measured")) == measured:
            out.setdefault(r.get("subtrees", 256), []).append(r)
    return out


def scaling_lines(rows, budget=600.0, growth=3.0):
    """Strong scaling and the extrapolated reach per cluster size, per split."""
    lines = []
    for k, sim in sorted(_by_split(rows, False).items()):
        lines.append(f"  split into >= {k} subtrees ({sim[0]['subtree_seconds']:.1f} s of "
                     "subtrees in all):")
        for r in sim:
            lines.append(f"  {r['workers']:>4d} workers: makespan {r['makespan']:.1f} s "
                         f"(speedup {r['speedup']:.1f}x), reaches n = "
                         f"{reach(r['subtree_seconds'], r['n'], r['speedup'], budget, growth)}"
                         f" in {budget:.0f} s (extrapolated, tree x{growth:g} per n)")
    return lines


def plot_scaling(rows, path):
    """Makespan against workers, one curve per split: measured (1, 2
    workers) and simulated by list scheduling of the recorded subtree times."""
    from .plots import pyplot
    plt = pyplot()
    sims = _by_split(rows, False)
    if not sims:
        return None
    meas = _by_split(rows, True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k, sim in sorted(sims.items()):
        pts = sorted((r["workers"], r["makespan"]) for r in sim)
        line, = ax.loglog(*zip(*pts), "o-", label=f"{k} subtrees: list scheduling")
        if k in meas:
            ax.loglog(*zip(*sorted((r["workers"], r["seconds"]) for r in meas[k])), "s",
                      color=line.get_color(), label=f"{k} subtrees: measured")
    k0, sim0 = min(sims.items())
    total = sim0[0]["subtree_seconds"]
    ws = sorted(r["workers"] for r in sim0)
    ax.loglog(ws, [total / w for w in ws], ":", color="gray", label=f"ideal ({k0} subtrees)")
    r0 = sim0[0]
    ax.set_xlabel("workers")
    ax.set_ylabel("seconds")
    ax.set_title(f"one proof, Gaussian n = {r0['n']}, m = {r0['ratio']}n")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


_DECIDED = ("injective", "not_injective")


def _paired_ratio(group, meth, decided=_DECIDED):
    """Median over the instances of t_meth / t_tree, the instances that both
    decided, and how many only one of them decided."""
    by = {}
    for r in group:
        by.setdefault(r["seed"], {})[r["method"]] = r
    both, only_tree, only_other = [], 0, 0
    for pair in by.values():
        t, o = pair.get("tree"), pair.get(meth)
        if t is None or o is None:
            continue
        dt, do = t["verdict"] in decided, o["verdict"] in decided
        if dt and do and t["seconds"] and o["seconds"] is not None:
            both.append(o["seconds"] / t["seconds"])
        only_tree += dt and not do
        only_other += do and not dt
    med = f"{statistics.median(both):.1f}x on {len(both)} decided by both" if both else "-"
    return f"{med}; decided by the tree only: {only_tree}, by {meth} only: {only_other}"


def summarise(rows):
    """Plain-text tables: per target decided/seeds, medians, ratio to the
    baseline on the same instances."""
    lines = []
    tg = [r for r in rows if r.get("part") == "targets"]
    if tg:
        lines.append("target (m/n, n, workers) | method | decided | median s | median nodes | "
                     "verified | method/tree, per instance")
        keys = sorted({(r["ratio"], r["n"], r["workers"]) for r in tg})
        for key in keys:
            group = [r for r in tg if (r["ratio"], r["n"], r["workers"]) == key]
            for meth in ("tree", "baseline", "data-depth"):
                g = [r for r in group if r["method"] == meth]
                if not g:
                    continue
                dec = sum(r["verdict"] in _DECIDED for r in g)
                med = _median([r["seconds"] for r in g if r["verdict"] in _DECIDED])
                ratio = "" if meth == "tree" else _paired_ratio(group, meth)
                ver = sum(1 for r in g if r.get("verified"))
                lines.append(f"{key} | {meth} | {dec}/{len(g)} | "
                             f"{'-' if med is None else f'{med:.1f}'} | "
                             f"{_median([r.get('nodes') for r in g])} | {ver} | {ratio}")
    lines.extend(scaling_lines(rows))
    for part in ("wedges", "mnist", "scaling"):
        for r in rows:
            if r.get("part") == part:
                lines.append(f"{part}: " + ", ".join(f"{k}={v}" for k, v in r.items()
                                                    if k not in ("part",)))
    return "\n".join(lines)


def run_perf(out=None, *, parts=("targets", "wedges", "mnist", "scaling"), seeds=range(5),
             time_limit=60.0, baseline=None, peer=None, targets=TARGETS, scaling_n=10):
    """Run the parts; returns the rows (also streamed to ``out/perf_rows.jsonl``)."""
    rows = _Rows(out)
    if peer is None:
        peer = peer_available()
    if "targets" in parts:
        run_targets(rows, seeds, time_limit, baseline, peer, targets)
    if "wedges" in parts:
        run_wedges(rows, seeds, time_limit)
    if "mnist" in parts:
        run_mnist(rows, time_limit)
    if "scaling" in parts:
        run_scaling(rows, scaling_n, 6, 0, None)
    text = summarise(rows.rows)
    if out is not None:
        (pathlib.Path(out) / "perf_summary.txt").write_text(text + "\n")
        try:
            plot_scaling(rows.rows, pathlib.Path(out) / "scaling.png")
        except ImportError:                   # matplotlib is optional ([plots])
            pass
    print(text)
    return rows.rows
