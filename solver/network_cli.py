"""``reluinj check`` on network files (``.npz`` with ``W0, W1, ...`` or
``.onnx``), and on single layers with ``--domain nonneg``.

The CLI (:mod:`solver.cli`) calls :func:`run_check_network` and prints the
dict it returns (``--json``) or :func:`format_network_result` of it.
"""
from __future__ import annotations

import json
from fractions import Fraction

from .errors import InputError

__all__ = ["proof_document", "run_check_network", "format_network_result"]


def _opt(args, name, default=None):
    return getattr(args, name, default) if args is not None else default


def proof_document(res, network) -> dict:
    """The ``reluinj.network_proof`` document (version 2) of a
    :class:`~solver.network.result.NetworkResult`: the network witness, and per
    layer its claim, the domain it holds on and its proof (a sign-tree
    certificate on R^n or on the orthant, a rank certificate, a layer
    witness, or null). Checked by
    :func:`solver.certificates.verify.verify_document`."""
    from .certificates.network import NETWORK_FORMAT, NETWORK_VERSION
    from .certificates.rank import rank_certificate
    layers = []
    for k, (r, rep) in enumerate(zip(res.layer_results, res.layers)):
        entry = {"index": k, "input_set": rep.get("input_set"), "domain": rep.get("domain"),
                 "claim": None, "proof": None}
        if r is None or r.verdict.value == "unknown":
            pass
        elif r.witness is not None:
            entry.update(claim="not_injective", proof=r.witness_document())
        elif r.certificate is not None:
            entry.update(claim="injective", proof=r.certificate)
        elif r.method == "rank" and r.verdict.value == "injective":
            L = network.layers[k]
            cert = rank_certificate(L.W, L.b)
            if cert is not None:
                entry.update(claim="injective", proof=cert, domain="all")
        layers.append(entry)
    return {"format": NETWORK_FORMAT, "version": NETWORK_VERSION, "verdict": res.verdict.value,
            "method": res.method, "domain": res.domain, "box": res.box,
            "widths": network.widths, "activations": [str(L.activation) for L in network.layers],
            "witness": res.to_json()["witness"], "layers": layers,
            "regions_proof": res.regions_proof}


def run_check_network(path, args=None) -> dict:
    """Decide a network file; return :meth:`NetworkResult.to_json` (plus
    ``"model"``).

    Parameters
    ----------
    path : model file (``.npz`` network or layer, ``.onnx``).
    args : an ``argparse.Namespace`` (or anything with attributes), all
        optional: ``time_limit`` (float), ``box`` (float R), ``domain``
        (``"all"``/``"nonneg"``), ``backend`` (MILP engine), ``method``
        (``auto``/``layerwise``/``regions``/``milp``; other values, e.g. the
        layer methods ``tree``, mean ``auto``), ``certificate`` (file to write
        :func:`proof_document` to), ``all_layers`` (bool: decide every layer
        even after a first-layer witness).

    Raises
    ------
    InputError for unreadable models, bad options, unwritable proof files.
    """
    from .network_io import load_network
    from .network.check import check_network
    net = load_network(path)
    method = _opt(args, "method", "auto") or "auto"
    if method not in ("auto", "layerwise", "regions", "milp"):
        method = "auto"
    res = check_network(net, time_limit=_opt(args, "time_limit"), box=_opt(args, "box"),
                        backend=_opt(args, "backend"), domain=_opt(args, "domain", "all") or "all",
                        method=method, report_all_layers=bool(_opt(args, "all_layers", False)))
    out = res.to_json()
    out["model"] = str(path)
    out["n_in"] = net.n_in
    out["widths"] = net.widths
    cert = _opt(args, "certificate")
    if cert:
        try:
            with open(cert, "w") as fh:
                json.dump(proof_document(res, net), fh)
        except OSError as exc:
            raise InputError(f"cannot write {cert}: {exc}") from None
    return out


def format_network_result(doc: dict) -> str:
    """Human-readable lines for a :func:`run_check_network` dict."""
    def vec(v, k=6):
        vals = ", ".join(f"{float(Fraction(x)):.6g}" for x in v[:k])
        return f"[{vals}{', ...' if len(v) > k else ''}]"
    lines = [f"verdict: {doc['verdict']}"]
    if doc.get("witness"):
        lines.append(f"witness: z1 ~ {vec(doc['witness']['z1'])}")
        lines.append(f"         z2 ~ {vec(doc['witness']['z2'])}")
        lines.append("         N(z1) == N(z2) checked exactly (--json for exact rationals)")
    lines.append(f"method:  {doc['method']}  ({doc['message']})")
    for L in doc.get("layers", []):
        m, n = L["shape"]
        dom = {"all": "R^n", "nonneg": "x >= 0", None: "-"}[L["domain"]]
        lines.append(f"  layer {L['index']}: {m}x{n} {L['activation']:<10} on {dom:<6} "
                     f"{L['verdict']:<14} {L['method'] or ''}")
    lines.append(f"time:    {doc['seconds']:.3f} s")
    return "\n".join(lines)
