"""``reluinj invert``: command-line front end of :func:`solver.inversion.invert`.

Wire it into the main parser with ``add_invert_subparser(subparsers)``; the
handler prints one JSON object with ``--json`` (else a short summary) and
raises :class:`solver.errors.InputError` for bad input (missing or unreadable
target, wrong length, NaN/inf), which the main CLI turns into one line on
stderr and exit status 2.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from ..errors import InputError
from ..io import existing_file

__all__ = ["METHODS", "load_target", "cmd_invert", "summary_lines", "add_invert_subparser"]

METHODS = ("mip", "enumerate", "gd", "layerwise")


def load_target(path):
    """Read a target vector from ``.npy`` (any shape, flattened), ``.npz``
    (array ``x``, or the only array), or a text file (whitespace/comma
    separated numbers)."""
    p = existing_file(path, what="target file", missing="no such target file")
    try:
        if p.lower().endswith(".npy"):
            x = np.load(p, allow_pickle=False)
        elif p.lower().endswith(".npz"):
            with np.load(p, allow_pickle=False) as d:
                if "x" in d.files:
                    x = d["x"]
                elif len(d.files) == 1:
                    x = d[d.files[0]]
                else:
                    raise InputError(f"{p}: expected an array 'x' (found {', '.join(d.files)})")
        else:
            with open(p) as fh:
                text = fh.read().replace(",", " ")
            x = np.array([float(t) for t in text.split()])
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"cannot read target {p}: {exc}") from None
    try:
        x = np.asarray(x, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(f"target {p} is not numeric: {exc}") from None
    if x.size == 0:
        raise InputError(f"target {p} is empty")
    if not np.all(np.isfinite(x)):
        raise InputError(f"target {p} contains NaN or inf")
    return x


def _fmt(v, k=6):
    vals = ", ".join(f"{t:.6g}" for t in v[:k])
    return f"[{vals}{', ...' if len(v) > k else ''}]"


def cmd_invert(args):
    """Handler of ``reluinj invert``; returns the exit status (0)."""
    from .api import invert
    from ..network_io import load_network
    net = load_network(args.model)
    x = load_target(args.target)
    if args.output is not None:
        from ..io import writable_file
        writable_file(args.output, what="latent point")
    if x.shape[0] != net.n_out:
        raise InputError(f"target has length {x.shape[0]}, the generator {args.model} has "
                         f"{net.n_out} outputs")
    if args.latent_box is not None and not (np.isfinite(args.latent_box) and args.latent_box > 0):
        raise InputError(f"--latent-box must be a finite number > 0; got {args.latent_box}")
    if args.time_limit is not None and not (args.time_limit > 0):
        raise InputError(f"--time-limit must be > 0; got {args.time_limit}")
    box = args.latent_box if args.latent_box is not None else None
    kw = {"norm": args.norm}
    if box is not None:
        kw["latent_box"] = box
    if args.method == "mip":
        res = invert(net, x, time_limit=args.time_limit, backend=args.backend,
                     uniqueness=not args.no_uniqueness, delta=args.delta,
                     peel=not args.no_peel, **kw)
    elif args.method == "enumerate":
        from .baselines import invert_by_enumeration
        res = invert_by_enumeration(net, x, max_regions=args.max_regions,
                                    time_limit=args.time_limit,
                                    progress=not args.json and sys.stderr.isatty(), **kw)
    elif args.method == "gd":
        from .baselines import gradient_descent
        res = gradient_descent(net, x, restarts=args.restarts, seed=args.seed,
                               time_limit=args.time_limit, **kw)
    else:
        from .baselines import layerwise_lp
        res = layerwise_lp(net, x, time_limit=args.time_limit, **kw)
    if args.output:
        if res.z is None:
            raise InputError("no latent point to write (status unknown)")
        try:
            np.save(args.output, np.array(res.z))
        except OSError as exc:
            raise InputError(f"cannot write {args.output}: {exc}") from None
    if args.json:
        print(json.dumps(res.to_json()))
        return 0
    lo, hi = res.latent_box
    box_txt = f"[-{hi[0]:g}, {hi[0]:g}]^{len(hi)}" if isinstance(res.box_json(), float) \
        else "per-coordinate box"
    print(f"status:    {res.status}" + ("  (optimal)" if res.optimal and res.status == "nearest"
                                        else ""))
    if res.z is not None:
        print(f"z:         {_fmt(res.z)}")
    for line in summary_lines(res):
        print(line)
    if res.delta is not None:  # uniqueness was examined
        uniq = {True: f"yes: no second preimage farther than {res.delta:g} in the box "
                      "(to the stated tolerance)",
                False: "no", None: "unknown (not decided: limit hit, problem too large, or no "
                                   "optimal z)"}
        how = f"  [{res.uniqueness_method}]" if res.uniqueness_method else ""
        print(f"unique:    {uniq[res.unique]}{how}")
    if res.second_preimage is not None:
        print(f"z':        {_fmt(res.second_preimage)}"
              + ("  (exact non-injectivity witness, --json for rationals)"
                 if res.witness is not None else "  (not verified exactly)"))
    print(f"box:       {box_txt}")
    print(f"method:    {res.method}  ({res.message})")
    if res.peel is not None:
        p = res.peel
        peeled = p.get("peeled_layers") or []
        txt = (f"layers {peeled} peeled" if peeled else "no layer peeled") + \
            f", {p.get('units_fixed', 0)} hidden units fixed by the target"
        if p.get("stopped_at") is not None and not p.get("empty"):
            txt += f"; stopped: {p.get('reason')}"
        if res.binaries is not None:
            txt += f"; MIP binaries left: {res.binaries}"
        print(f"peel:      {txt}")
    for w in res.warnings:
        print(f"warning:   {w}")
    print(f"time:      {res.seconds:.3f} s")
    return 0


def summary_lines(res):
    """The residual, objective and bound lines of the text output; every
    number names its norm and its space (issue 13, section 5)."""
    from .problem import NORM_NAMES
    out = [f"residual:  {res.residual:.6g} (L-inf of G(z) - x, output space; relative "
           f"{res.relative_residual:.3g})"]
    norm = NORM_NAMES.get(res.norm, res.norm)
    if res.norm != "linf" or res.space != "output":
        out.append(f"objective: {res.objective:.6g} ({norm}, {res.space} space)")
    if res.status == "nearest" and res.bound is not None:
        out.append(f"bound:     {res.bound:.6g} (proved: no z in the box has a smaller {norm} "
                   f"residual, {res.space} space)")
        if not res.optimal and res.gap is not None:
            rel = "" if res.relative_gap is None else f", relative {res.relative_gap:.3g}"
            out.append(f"gap:       {res.gap:.6g} (objective - bound{rel}; not proved optimal)")
    return out


def add_invert_subparser(subparsers):
    """Register ``invert`` on an ``argparse`` subparsers object; returns the
    subparser (its ``func`` default is :func:`cmd_invert`)."""
    from .problem import DEFAULT_DELTA, DEFAULT_LATENT_BOX
    p = subparsers.add_parser(
        "invert", help="invert a generator: z with G(z) = x, or the nearest point (peel + MIP)",
        description="Find z in the latent box with G(z) = x, or the nearest point of the "
                    "range: the target's structure first (layers whose rows pin their input "
                    "are peeled, ReLU signs fixed), then mixed-integer programming on what "
                    "remains (Balestriero et al., Prop. 4).")
    p.add_argument("model", help="generator (.npz with W0, b0, W1, ... or .onnx)")
    p.add_argument("--target", required=True, metavar="X.npy",
                   help="target vector (.npy, .npz with 'x', or a text file)")
    p.add_argument("--norm", choices=["linf", "l1"], default="linf",
                   help="residual norm minimised (default linf)")
    p.add_argument("--latent-box", type=float, default=None, metavar="R",
                   help=f"latent box [-R, R]^n (default {DEFAULT_LATENT_BOX:g})")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS")
    p.add_argument("--backend", default=None,
                   help="MILP engine: scip (default), highs, cbc, pulp-cbc, pulp-highs, "
                        "scipy-highs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-uniqueness", action="store_true",
                   help="skip the second MIP that decides uniqueness")
    p.add_argument("--delta", type=float, default=DEFAULT_DELTA,
                   help=f"uniqueness separation ||z' - z||_inf >= delta (default "
                        f"{DEFAULT_DELTA:g})")
    p.add_argument("--no-peel", action="store_true",
                   help="skip the peeling of the target's structure and run the whole-network "
                        "MIP (the algorithm before issue 15; for comparison)")
    p.add_argument("--method", choices=METHODS, default="mip",
                   help="mip (default), enumerate (regions, small generators), gd "
                        "(gradient descent), layerwise (Lei et al. LP)")
    p.add_argument("--max-regions", type=int, default=10000,
                   help="limit for --method enumerate")
    p.add_argument("--restarts", type=int, default=10, help="for --method gd")
    p.add_argument("--seed", type=int, default=0, help="for --method gd")
    p.add_argument("--output", default=None, metavar="Z.npy", help="save z as .npy")
    p.set_defaults(func=cmd_invert)
    return p
