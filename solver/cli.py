"""Command line: ``reluinj check | verify | ...`` (also ``python -m solver``).

Bad input prints one line ``reluinj: error: ...`` on stderr and exits 2.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

from .cli_args import OneLineParser, count, nonneg_seconds, positive_number  # noqa: F401
from .errors import CertificateError, InputError
from .snap import DEFAULT_RTOL as SNAP_RTOL

__all__ = ["build_parser", "BENCH_HELP", "main"]


def _fmt_vec(v, k=6):
    vals = ", ".join(f"{x:.6g}" for x in v[:k])
    return f"[{vals}{', ...' if len(v) > k else ''}]"


def _print_layer_result(res, args):
    print(f"verdict: {res.verdict.value}")
    if res.witness is not None:
        f1, f2 = res.witness.floats()
        print(f"witness: x1 ~ {_fmt_vec(f1)}")
        print(f"         x2 ~ {_fmt_vec(f2)}")
        gap = max(abs(a - c) for a, c in zip(res.witness.x1, res.witness.x2))
        print(f"         |x2 - x1|_inf = {float(gap):.3g}")
        print("         ReLU(W x1 + b) == ReLU(W x2 + b) checked exactly (--json for exact rationals)")
    if res.certificate is not None:
        leaves = res.stats.get("leaves")
        size = (f"{sum(leaves.values())} leaves" if leaves
                else f"{res.stats['cells']} cells" if "cells" in res.stats else "a tree")
        print(f"proof:   certificate tree ({size})"
              + ("" if args.certificate else " (--certificate FILE to save it)"))
    if res.proved is not None:
        print(f"proved:  {res.proved}"
              + ("" if args.certificate else " (--certificate FILE to save its certificate)"))
    print(f"method:  {res.method}  ({res.message})")
    print(f"time:    {res.seconds:.3f} s")


def _cmd_check(args):
    from .io import load_layer, writable_file
    from .layer import check_layer
    from .network_io import is_network_file
    for path, what in ((args.certificate, "proof"), (args.checkpoint, "checkpoint"),
                       (args.snapped_out, "snapped layer"),
                       (args.snapped_certificate, "snapped proof")):
        if path is not None:           # before the work, not after it
            writable_file(path, what=what)
    if is_network_file(args.model) or args.domain != "all" or args.box is not None:
        from .network_cli import format_network_result, run_check_network
        if args.snap_parallel is not None:
            raise InputError("--snap-parallel applies to a single layer on all of R^n")
        if args.subtrees is not None:
            raise InputError("--subtrees applies to a single layer on all of R^n")
        import time
        t0 = time.monotonic()
        doc = run_check_network(args.model, args)
        if args.box is not None and args.json and doc.get("verdict") == "not_injective":
            from .stability_cli import collapse_for_check
            dl = None if args.time_limit is None else t0 + args.time_limit
            doc["collapse"] = collapse_for_check(args.model, doc, args.box, dl, args.backend)
        print(json.dumps(doc) if args.json else format_network_result(doc))
        return 0
    if args.method in ("layerwise", "regions"):
        raise InputError(f"--method {args.method} applies to networks; {args.model} is one "
                         "layer")
    W, b = load_layer(args.model)
    res = check_layer(W, b, time_limit=args.time_limit, backend=args.backend,
                      method=args.method, max_cells=args.max_cells,
                      max_nodes=args.max_nodes, progress=not args.json and sys.stderr.isatty(),
                      workers=args.workers or os.cpu_count() or 1, dask=args.dask,
                      checkpoint=args.checkpoint, subtrees=args.subtrees)
    _write_proof(res, args.certificate)
    snap_doc = _snapped(W, b, args)
    note = None if snap_doc is not None else _rounding_note(W, b, res)
    if args.json:
        doc = res.to_json()
        if snap_doc is not None:
            doc["snapped"] = snap_doc
        if note is not None:
            doc["notes"] = [note]
        print(json.dumps(doc))
    else:
        _print_layer_result(res, args)
        _print_snap(snap_doc, args)
        if note is not None:
            print(f"note:    {note}")
    return 0


def _write_json(path, doc):
    try:
        with open(path, "w") as fh:
            json.dump(doc, fh)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc}") from None


def _write_proof(res, path):
    """The certificate (injective), the witness document (not_injective), or
    for ``unknown`` the document of what was proved all the same (if any)."""
    if path:
        doc = res.certificate if res.certificate is not None else res.witness_document()
        if doc is None:
            doc = getattr(res, "partial", None)
        if doc is not None:
            _write_json(path, doc)


def _rounding_note(W, b, res):
    """A not_injective layer whose rows are coincident only up to rounding:
    say so, since its bad cells may be rounding artefacts (solver.snap)."""
    from .snap import snap_coincident_rows
    if res.verdict.value != "not_injective" or W.shape[0] > 5000:  # m x m cosines
        return None
    snap = snap_coincident_rows(W, b)
    if not snap.changed:
        return None
    return (f"{len(snap.rows)} row(s) are parallel or antiparallel to another row only up to "
            f"rounding (max relative deviation {snap.max_rel_change:.1e}); --snap-parallel "
            "decides the layer with them made exact")


def _snapped(W, b, args):
    """``--snap-parallel``: decide the layer whose rows coincident up to
    rounding are made exactly coincident (solver.snap); None without the flag."""
    from .layer import check_layer_snapped
    if args.snap_parallel is None:
        return None
    snap, sres = check_layer_snapped(W, b, rtol=args.snap_parallel,
                                     time_limit=args.time_limit, method=args.method,
                                     backend=args.backend, max_nodes=args.max_nodes,
                                     max_cells=args.max_cells,
                                     workers=args.workers or os.cpu_count() or 1)
    if args.snapped_out:
        import numpy as np
        try:
            np.savez(args.snapped_out, W=snap.W, b=snap.b)
        except OSError as exc:
            raise InputError(f"cannot write {args.snapped_out}: {exc}") from None
    doc = {**snap.to_json(), "result": None if sres is None else sres.to_json()}
    if sres is not None:
        _write_proof(sres, args.snapped_certificate)
    return doc


def _print_snap(doc, args):
    if doc is None:
        return
    if doc["result"] is None:
        print(f"snapped: no rows coincident up to rtol {doc['rtol']:g}; nothing to snap")
        return
    r = doc["result"]
    rows = ", ".join(f"{e['row']}->{e['scale']:g}*row{e['from']}" for e in doc["rows"][:6])
    print(f"snapped: {r['verdict']} for the layer with rows made exactly coincident "
          f"({rows}{', ...' if len(doc['rows']) > 6 else ''}; max relative change "
          f"{doc['max_relative_change']:.1e}){'; layer in ' + args.snapped_out if args.snapped_out else ''}")
    print("         (a claim about the snapped layer, not the weights above; "
          "its proof verifies against --snapped-out)")


def _cmd_verify(args):
    """Check any document ``check`` writes against the model, choosing the
    checker by the document's ``format`` (solver.certificates.verify)."""
    from .certificates.verify import verify_document
    from .network_io import load_network
    net = load_network(args.model)
    try:
        with open(args.certificate) as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise InputError(f"no such file: {args.certificate}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"cannot read {args.certificate} as JSON: {exc}") from None
    layers = [(L.W, L.b, str(L.activation)) for L in net.layers]
    from .parallel import ForkExecutor, fork_available
    if (os.cpu_count() or 1) > 1 and fork_available():
        # a forked child checks the circuit table while this process walks the tree
        with ForkExecutor() as pool:
            ok, reason = verify_document(layers, doc, executor=pool)
    else:
        ok, reason = verify_document(layers, doc)
    if args.json:
        print(json.dumps({"valid": ok, "reason": reason}))
    else:
        print(reason if ok else f"invalid: {reason}")
    return 0 if ok else 1


def build_parser(argv=None):
    """The ``reluinj`` parser; ``argv`` (default ``sys.argv[1:]``) only decides
    whether the ``bench`` subcommand's full parser is loaded."""
    p = OneLineParser(prog="reluinj", description="Exact injectivity of ReLU layers and networks.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    c = sub.add_parser("check", help="decide injectivity of a layer (.npz with W, b) or a "
                                     "network (.npz with W0, b0, W1, ... or .onnx)")
    c.add_argument("model")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--time-limit", type=nonneg_seconds, default=None, metavar="SECONDS")
    c.add_argument("--backend", default=None,
                   help="MILP engine for the witness search: scip, highs, cbc, pulp-cbc, "
                        "pulp-highs, scipy-highs (implies --method milp)")
    c.add_argument("--method", default="auto",
                   choices=["auto", "tree", "milp", "enumerate", "bruteforce", "layerwise",
                            "regions"],
                   help="layers: tree, milp, enumerate, bruteforce; networks: layerwise "
                        "(no end-to-end step), regions, milp")
    c.add_argument("--max-cells", type=count(1), default=None)
    c.add_argument("--max-nodes", type=count(1), default=None)
    c.add_argument("--workers", type=count(0), default=1,
                   help="processes for the sign-tree search (0 = all cores)")
    c.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="spread one sign-tree proof over a Dask cluster (scheduler address, "
                        "or 'local' for --workers local worker processes)")
    c.add_argument("--checkpoint", default=None, metavar="FILE",
                   help="keep finished subtrees of the proof in FILE; a rerun resumes from it")
    c.add_argument("--subtrees", type=count(1), default=None, metavar="K",
                   help="split one sign-tree proof into at least K subtrees (default 256); the "
                        "certificate depends on K, not on --workers; use ~16x the workers "
                        "on clusters of more than 32")
    c.add_argument("--box", type=positive_number, default=None, metavar="R",
                   help="networks: decide injectivity on the latent box [-R, R]^n")
    c.add_argument("--domain", default="all", choices=["all", "nonneg"],
                   help="nonneg: injectivity on x >= 0 (Remark 1)")
    c.add_argument("--all-layers", action="store_true",
                   help="networks: decide every layer even after a first-layer witness")
    c.add_argument("--certificate", default=None, metavar="FILE",
                   help="write the proof: a certificate (injective) or the witness")
    c.add_argument("--snap-parallel", type=positive_number, nargs="?", const=SNAP_RTOL,
                   default=None,
                   metavar="RTOL",
                   help="also decide the layer whose rows are parallel/antiparallel up to RTOL "
                        f"(default {SNAP_RTOL:g}) made exactly coincident (e.g. [B; -DB] computed in "
                        "floating point); the verdict on the original weights is unchanged")
    c.add_argument("--snapped-out", default=None, metavar="FILE",
                   help="with --snap-parallel: write the snapped layer (.npz)")
    c.add_argument("--snapped-certificate", default=None, metavar="FILE",
                   help="with --snap-parallel: write the snapped layer's proof")
    c.set_defaults(func=_cmd_check)
    v = sub.add_parser("verify", help="re-check any proof document check writes (certificate, "
                                      "witness, network proof) against its model")
    v.add_argument("model", help="the model the document is about (.npz layer or network, .onnx)")
    v.add_argument("certificate")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_verify)
    _optional_subcommands(sub, argv)
    return p


def _optional_subcommands(sub, argv=None):
    """``invert`` (solver.inversion.cli), ``stability`` and ``bench`` (the
    benchmarks package next to solver/, installed with it).

    ``benchmarks`` builds on ``solver``, not the other way round: it is
    imported only when the command line asks for ``bench`` (``argv``, default
    ``sys.argv[1:]``); otherwise ``bench`` is listed with its help line only.
    """
    try:
        from .inversion.cli import add_invert_subparser
    except ImportError:
        pass
    else:
        add_invert_subparser(sub)
    from .stability_cli import add_stability_subparser
    add_stability_subparser(sub)
    if importlib.util.find_spec("benchmarks") is None:
        return
    if "bench" not in (sys.argv[1:] if argv is None else argv):
        sub.add_parser("bench", help=BENCH_HELP)   # never dispatched: no "bench" in argv
        return
    from benchmarks.cli import add_bench_subparser
    add_bench_subparser(sub)


#: the help line of ``reluinj bench`` (benchmarks.cli's parser says the same)
BENCH_HELP = "run the benchmark suites (results.json, plots)"


def main(argv=None):
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return
    the exit code (0 done, 1 invalid proof, 2 bad input, 3 internal error)."""
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:           # argparse: usage errors (2), --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except (InputError, CertificateError) as exc:
        print(f"reluinj: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except KeyboardInterrupt:
        print("reluinj: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: still one line, unless debugging
        if os.environ.get("RELUINJ_DEBUG"):
            raise
        print(f"reluinj: internal error: {type(exc).__name__}: {exc} "
              "(set RELUINJ_DEBUG=1 for a traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
