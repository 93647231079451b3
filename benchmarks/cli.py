"""``reluinj bench``: the benchmark harness on the command line.

Wire it into the main CLI with :func:`add_bench_subparser`; standalone:
``python -m benchmarks.cli [--quick] [--suite NAME] --out DIR``.
"""
from __future__ import annotations

import argparse
import sys

from .suites import SUITES


def add_bench_subparser(subparsers):
    """Register ``bench`` on an argparse subparsers object; returns the parser.

    The command's handler is stored as ``func`` (``args.func(args)`` returns
    the exit code: 0 all agree, 1 disagreement / failed verification /
    crash, 2 bad arguments).
    """
    p = subparsers.add_parser(
        "bench", help="run the benchmark suites (results.json, plots)",
        description="Run the benchmark suites: every method on every instance, every "
                    "certificate and witness re-checked, disagreements reported loudly "
                    "(exit 1).")
    _add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return p


def _add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help="small settings: under 3 minutes on 2 cores")
    p.add_argument("--suite", action="append", choices=SUITES + ("perf",), default=None,
                   metavar="NAME",
                   help=f"suite to run ({', '.join(SUITES)}, perf); repeatable; default all "
                        "but perf (the sign tree's performance targets, benchmarks/perf.py)")
    p.add_argument("--baseline", default=None, metavar="DIR",
                   help="perf suite: also solve every target with the older reluinj whose "
                        "'solver' package is in DIR (git archive REV solver | tar -x -C DIR)")
    p.add_argument("--part", action="append", default=None, metavar="NAME",
                   choices=("targets", "wedges", "mnist", "scaling"),
                   help="perf suite: parts to run (repeatable; default all)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--workers", type=int, default=None, metavar="K",
                   help="local worker processes (default: all cores; 1 = in process)")
    p.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="run on a dask.distributed scheduler (tcp://host:port, or 'local')")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="seconds per solve (default 20 with --quick, else 60)")
    p.add_argument("--seeds", type=int, default=None, metavar="K",
                   help="instances per size (default 2 with --quick, else 5)")
    p.add_argument("--max-n", type=int, default=None, metavar="N", help="largest n to try")
    p.add_argument("--family", action="append", default=None, metavar="NAME",
                   help="restrict the layers suite to these families, the inversion suite to "
                        "these generators (rand, mnist, vae400, vae400id, dcgan); repeatable")
    p.add_argument("--ratio", action="append", type=float, default=None, metavar="C",
                   help="restrict the layers suite to m/n = C (repeatable)")
    p.add_argument("--method", action="append", default=None, metavar="LABEL",
                   help="restrict the layers suite to methods with this label or prefix "
                        "(tree, milp, milp[scip], enumerate, bruteforce), the inversion suite "
                        "likewise (mip[scip], mip-nopeel, gradient-descent, ...); repeatable")
    p.add_argument("--backend", action="append", default=None, metavar="NAME",
                   help="MILP backends to run (repeatable; default: the available ones)")
    p.add_argument("--phase-n", type=int, nargs="+", default=None, metavar="N",
                   help="papers suite: the n of the exact phase transition")
    p.add_argument("--phase-seeds", type=int, default=None, metavar="K",
                   help="papers suite: layers per m on the first (coarse) grid")
    p.add_argument("--phase-curve", action="append", default=None, metavar="CURVE",
                   help="papers suite: gauss (b = 0), bias:S (b ~ N(0, S^2)), nonneg "
                        "(injectivity on x >= 0); repeatable; default gauss")
    p.add_argument("--phase-ci", type=float, default=None, metavar="H",
                   help="papers suite: sample until the 95%% interval of c50 is within +-H "
                        "(default 0.1; 0.5 with --quick)")
    p.add_argument("--phase-max-layers", type=int, default=None, metavar="K",
                   help="papers suite: at most K layers per (curve, n)")
    p.add_argument("--phase-min-band", type=int, default=None, metavar="K",
                   help="papers suite: keep sampling until K decided layers lie where the "
                        "fitted P is in [0.05, 0.95] (default 400; 0 with --quick)")
    p.add_argument("--phase-c-min", type=float, default=None, metavar="C",
                   help="papers suite: smallest c (default 2; 1 for nonneg)")
    p.add_argument("--phase-c-max", type=float, default=None, metavar="C",
                   help="papers suite: largest c (default 10)")
    p.add_argument("--phase-c-step", type=float, default=None, metavar="C",
                   help="papers suite: step of the coarse grid in c (default 0.5)")
    p.add_argument("--no-figure2", action="store_true",
                   help="papers suite: skip the Figure 2 Monte Carlo (minutes at n = 100)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out DIR: the rows in DIR/rows.jsonl (written as "
                        "solves finish) are reused, the rest is solved")
    p.add_argument("--budget", type=float, default=None, metavar="S",
                   help="wall-clock budget: after S seconds no larger size is started; the "
                        "solves running finish and the results are written (Ctrl-C also "
                        "writes what has finished)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")


def cmd_bench(args):
    from .harness import Config, run_benchmark
    if args.time_limit is not None and not args.time_limit > 0:
        print("reluinj: error: --time-limit must be positive", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print("reluinj: error: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.suite and "perf" in args.suite:
        from .perf import run_perf
        if args.baseline is not None and not (
                __import__("pathlib").Path(args.baseline) / "solver" / "__init__.py").exists():
            print(f"reluinj: error: --baseline {args.baseline}: no solver package there",
                  file=sys.stderr)
            return 2
        rows = run_perf(args.out, parts=tuple(args.part or ("targets", "wedges", "mnist",
                                                             "scaling")),
                        seeds=range(args.seeds or 5), time_limit=args.time_limit or 60.0,
                        baseline=args.baseline)
        bad = [r for r in rows if r.get("verified") is False]
        args.suite = [s for s in args.suite if s != "perf"]
        if not args.suite:
            return 1 if bad else 0
    extra = {}
    if args.phase_n:
        extra["phase_ns"] = args.phase_n
    if args.phase_seeds:
        extra["phase_seeds"] = args.phase_seeds
    if args.phase_curve:
        from .phase import parse_curve
        try:
            extra["phase_curves"] = [parse_curve(c)["name"] for c in args.phase_curve]
        except ValueError as exc:
            print(f"reluinj: error: {exc}", file=sys.stderr)
            return 2
    if args.no_figure2:
        extra["figure2"] = False
    if args.phase_min_band is not None:
        if args.phase_min_band < 0:
            print("reluinj: error: --phase-min-band must be >= 0", file=sys.stderr)
            return 2
        extra["phase_min_band"] = args.phase_min_band
    for key in ("ci", "max_layers", "c_min", "c_max", "c_step"):
        v = getattr(args, "phase_" + key)
        if v is not None:
            if not v > 0:
                print(f"reluinj: error: --phase-{key.replace('_', '-')} must be positive",
                      file=sys.stderr)
                return 2
            extra["phase_" + key] = v
    cfg = Config(quick=args.quick, time_limit=args.time_limit, seeds=args.seeds,
                 max_n=args.max_n, backends=args.backend, methods=args.method,
                 families=args.family, ratios=args.ratio, extra=extra)
    _, code = run_benchmark(args.out, suites=args.suite, cfg=cfg, workers=args.workers,
                            dask=args.dask, progress=not args.no_progress,
                            plots=not args.no_plots, budget=args.budget, resume=args.resume)
    return code


def main(argv=None):
    parser = argparse.ArgumentParser(prog="reluinj")
    sub = parser.add_subparsers(dest="command", required=True)
    add_bench_subparser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "bench":
        argv = ["bench"] + argv
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
