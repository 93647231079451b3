"""``reluinj stability MODEL [--json] [--time-limit S] [--box R]`` (and the
``"collapse"`` entry that ``reluinj check --box R --json`` gains).

The CLI (:mod:`solver.cli`) registers :func:`add_stability_subparser`.
"""
from __future__ import annotations

import json
from fractions import Fraction

from .deadline import Deadline

__all__ = ["add_stability_subparser", "format_stability", "collapse_for_check"]



def add_stability_subparser(sub):
    from .cli_args import nonneg_seconds, positive_number
    s = sub.add_parser("stability", help="Theorem 4's inverse Lipschitz constant (sigma*, "
                                         "certified), an upper bound from point pairs, and "
                                         "the collapse of non-injective models")
    s.add_argument("model", help=".npz layer (W, b) or network (W0, b0, W1, ...), or .onnx")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--time-limit", type=nonneg_seconds, default=None, metavar="SECONDS")
    s.add_argument("--box", type=positive_number, default=None, metavar="R",
                   help="collapse box [-R, R]^n for non-injective models (default 5, the "
                        "inversion box)")
    s.add_argument("--backend", default=None, help="MILP engine for the collapse (default scip)")
    s.add_argument("--seed", type=int, default=0, help="seed of the heuristic parts")
    s.set_defaults(func=_cmd_stability)


def _cmd_stability(args):
    from .stability import stability
    res = stability(args.model, time_limit=args.time_limit, box=args.box, backend=args.backend,
                    seed=args.seed)
    doc = res.to_json()
    doc["model"] = str(args.model)
    print(json.dumps(doc) if args.json else format_stability(doc))
    return 0


def _f(v, fmt=".6g"):
    return "-" if v is None else format(v, fmt)


def format_stability(doc: dict) -> str:
    """Human-readable lines for :meth:`StabilityResult.to_json`."""
    lines = [f"verdict:   {doc['verdict']}   (status of the stability figures: {doc['status']})"]
    if doc["kind"] == "layer":
        sig = _f(doc["sigma"], ".10g") if doc["status"] == "exact" else \
            f"<= {_f(doc['sigma'], '.10g')} (best cell found)"
        lines.append(f"sigma*:    {sig}   certified >= "
                     f"{_f(doc['sigma_lower'], '.10g')}   (smallest singular value of the "
                     "active rows, minimised over x)")
        lines.append(f"constant:  {_f(doc['constant'])} = sigma*/sqrt(2m)   (Theorem 4; proved >= "
                     f"{_f(doc['constant_lower'])}; with h = {doc['hyperplanes']} hyperplanes: "
                     f"{_f(doc['constant_sharp'])})")
        if doc["x"] is not None:
            xs = ", ".join(f"{float(Fraction(v)):.4g}" for v in doc["x"][:6])
            lines.append(f"cell:      x ~ [{xs}{', ...' if len(doc['x']) > 6 else ''}], "
                         f"{len(doc['active'])} active rows (--json: exact x and the rows)")
    else:
        lines.append(f"constant:  {_f(doc['constant'])}   (product of layer constants, proved >= "
                     f"{_f(doc['constant_lower'])}; Corollary 1: a bound)")
        for k, L in enumerate(doc["layers"]):
            sig = _f(L["sigma"], ".8g") if L["status"] == "exact" else \
                f"<= {_f(L['sigma'], '.8g')} (not proved)"
            lines.append(f"  layer {k}: {L['m']}x{L['n']} sigma* {sig}, constant "
                         f"{_f(L['constant'])} ({L['status']}; {L['message']})")
    if doc["upper"] is not None:
        lines.append(f"upper:     {_f(doc['upper'])}   (best pair found: |F(x1) - F(x2)| / "
                     f"|x1 - x2|, exact; {doc['pair']['found_by']})")
    c = doc.get("collapse")
    if c is not None:
        if c["value"] is not None:
            how = "optimal" if c["optimal"] else "not proved optimal"
            if c["bound"] is not None:
                how += f", MILP bound {c['bound']:.6g}"
            lines.append(f"collapse:  {c['value']:.6g} = max |z1 - z2|_inf with equal outputs in "
                         f"[-{c['box']:g}, {c['box']:g}]^n ({how})")
        else:
            lines.append(f"collapse:  - ({c['message']})")
    lines.append(f"message:   {doc['message']}")
    lines.append(f"time:      {doc['seconds']:.3f} s")
    return "\n".join(lines)


def collapse_for_check(model_path, doc, box, deadline, backend=None):
    """``reluinj check --box R --json``: the collapse of a non-injective model
    in ``[-R, R]^n`` (None otherwise), within the time left."""
    if box is None or doc.get("verdict") != "not_injective" or not doc.get("witness"):
        return None
    from .collapse import collapse
    from .network_io import load_network
    net = load_network(model_path)
    w = doc["witness"]
    z1 = [Fraction(v) for v in w["z1"]]
    z2 = [Fraction(v) for v in w["z2"]]
    layers = doc.get("layers") or []
    if any(L["verdict"] == "skipped" for L in layers):
        # later layers were not needed for the verdict; decide them now, since
        # equal outputs of an injective tail mean equal inputs to it
        from .network.check import check_network
        left = Deadline(deadline).share(0.3)
        layers = [dict(L) for L in check_network(net, time_limit=left,
                                                 report_all_layers=True).layers]
    k = len(net.layers) - 1
    while k > 0 and k < len(layers) and layers[k]["verdict"] == "injective":
        k -= 1
    left = Deadline(deadline).remaining(floor=0.05)
    return collapse(net, box=box, time_limit=left, backend=backend, injective_after=k,
                    start_pair=(z1, z2)).to_json()
