"""Checker for ``reluinj.network_proof`` documents (what ``reluinj check NET
--certificate F`` writes for networks, and for single layers with
``--domain nonneg`` or ``--box``).

Part of the trusted base: the standard library and NumPy only, no solver.
The network is given as plain data, a list of ``(W, b, activation)`` with
``W`` a NumPy array (or anything with ``tocsr()``, e.g. a scipy.sparse
matrix, read through its CSR arrays only), ``b`` an array and
``activation`` its text form (``relu``, ``identity``, ``leaky_relu:<s>``,
``sigmoid``, ``tanh``).

Document (version 2)::

    {"format": "reluinj.network_proof", "version": 2,
     "verdict": "injective" | "not_injective" | "injective_on_box" | "unknown",
     "method": ..., "domain": "all" | "nonneg", "box": null | R,
     "widths": [n0, n1, ...], "activations": [...],
     "witness": {"z1": [...], "z2": [...]} | null,
     "layers": [{"index": k, "domain": "all" | "nonneg", "claim": "injective" |
                 "not_injective" | null, "proof": <document> | null}, ...]}

What is checked
---------------
* ``not_injective``: ``z1 != z2`` (exact rationals) in the domain (and the
  box), and ``N(z1) == N(z2)`` exactly: both are pushed through the layers
  in rational arithmetic; equal values at a layer give equal outputs from
  there on; a sigmoid or tanh layer is strictly increasing, so equal
  outputs there means equal pre-activations.
* ``injective`` (method ``layerwise``): Corollary 1 of Puthawala et al.
  (injective layers compose). Every layer carries a valid proof on a set
  containing the set its inputs come from: R^n always; the orthant for the
  first layer when the domain is the orthant, and after a relu or sigmoid
  layer (outputs >= 0, Remark 1). Proof kinds: ``reluinj.certificate``
  (relu, R^n; :mod:`.checker`), ``reluinj.certificate.nonneg`` (relu,
  orthant; :mod:`.nonneg`), ``reluinj.certificate.rank`` (strictly
  increasing activation, full column rank, R^n; :mod:`.rank`).
* ``unknown``: nothing is claimed about the network; every layer proof
  present is checked (its claim, on its domain).
* ``injective`` / ``injective_on_box`` with method ``regions``: the
  document's ``regions_proof`` (:mod:`.regions`): every activation region
  of the network on the domain (or box), and for every pair of regions an
  exact certificate that no two points of their closures share an output.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .checker import (FORMAT, Rejected, activation_slope, check_certificate, check_witness,
                      rational)
from .nonneg import NONNEG_FORMAT, check_nonneg_certificate
from .rank import RANK_FORMAT, check_rank_certificate
from .regions import check_regions_proof

NETWORK_FORMAT = "reluinj.network_proof"
NETWORK_VERSION = 2
WITNESS_FORMAT = "reluinj.witness"
#: largest layer (entries) densified for a certificate check
MAX_DENSE = 20_000_000

__all__ = ["NETWORK_FORMAT", "NETWORK_VERSION", "WITNESS_FORMAT", "check_network_proof",
           "check_layer_witness"]


# -- activations, read independently of the solver ---------------------------

def _strictly_increasing(act):
    s = activation_slope(act)
    return s is None or s > 0         # sigmoid/tanh, or a positive negative-side slope


def _nonneg_output(act):
    return act in ("relu", "sigmoid")


# -- exact arithmetic ---------------------------------------------------------

def _pre(W, b, x):
    """Exact ``W x + b`` for binary64 W, b (dense or CSR) and rationals x, in
    integers: x = X / D, each stored entry p / q with q a power of two."""
    den = 1
    for v in x:
        den = den * v.denominator // math.gcd(den, v.denominator)
    X = [int(v * den) for v in x]
    bq = [Fraction(float(v)) for v in np.asarray(b, dtype=np.float64).reshape(-1)]
    out = []
    if hasattr(W, "tocsr"):
        W = W.tocsr()
        ptr, idx = W.indptr.tolist(), W.indices.tolist()
        pq = [float(v).as_integer_ratio() for v in W.data.tolist()]
        for i in range(W.shape[0]):
            lo, hi = ptr[i], ptr[i + 1]
            Q = max((pq[k][1] for k in range(lo, hi)), default=1)
            S = sum(pq[k][0] * (Q // pq[k][1]) * X[idx[k]] for k in range(lo, hi))
            out.append(Fraction(S, Q * den) + bq[i])
        return out
    for i, row in enumerate(np.asarray(W, dtype=np.float64).tolist()):
        pq = [v.as_integer_ratio() for v in row]
        Q = max(q for _, q in pq)
        S = sum(p * (Q // q) * xv for (p, q), xv in zip(pq, X) if p and xv)
        out.append(Fraction(S, Q * den) + bq[i])
    return out


def _apply(act, vals):
    a = activation_slope(act)
    return [v if v > 0 else a * v for v in vals]


def _dense(W, where):
    if hasattr(W, "toarray"):
        m, n = W.shape
        if m * n > MAX_DENSE:
            raise Rejected(f"{where}: layer of {m}x{n} is too large for this certificate check")
        return W.toarray()
    return np.asarray(W, dtype=np.float64)


def _point(v, n, what):
    if not isinstance(v, list) or len(v) != n:
        raise Rejected(f"{what} must be a list of {n} exact rationals")
    return [rational(s) for s in v]


def check_layer_witness(W, b, act, x1, x2, domain="all"):
    """``x1 != x2`` in the domain with ``act(W x1 + b) == act(W x2 + b)``
    exactly (sigmoid/tanh: equal pre-activations). Raises Rejected."""
    if x1 == x2:
        raise Rejected("x1 equals x2")
    if domain == "nonneg" and any(v < 0 for v in x1 + x2):
        raise Rejected("witness outside the non-negative orthant")
    p1, p2 = _pre(W, b, x1), _pre(W, b, x2)
    if activation_slope(act) is None:
        y1, y2 = p1, p2      # strictly increasing: equal outputs iff equal inputs
    else:
        y1, y2 = _apply(act, p1), _apply(act, p2)
    for i, (a, c) in enumerate(zip(y1, y2)):
        if a != c:
            raise Rejected(f"outputs differ at unit {i}")


def _network_witness(layers, z1, z2):
    if z1 == z2:
        raise Rejected("z1 equals z2")
    h1, h2 = z1, z2
    last = len(layers) - 1
    for k, (W, b, act) in enumerate(layers):
        if h1 == h2:
            return
        p1, p2 = _pre(W, b, h1), _pre(W, b, h2)
        if activation_slope(act) is None:
            if p1 == p2:
                return
            if k == last:
                raise Rejected(f"outputs differ (layer {k} pre-activations differ, {act} is "
                               "strictly increasing)")
            raise Rejected(f"not checkable exactly: layer {k} ({act}) outputs differ and are "
                           "irrational")
        h1, h2 = _apply(act, p1), _apply(act, p2)
    if h1 != h2:
        i = next(i for i, (a, c) in enumerate(zip(h1, h2)) if a != c)
        raise Rejected(f"outputs differ at unit {i}")


# -- one layer entry ------------------------------------------------------------

def _check_entry(k, layer, entry, where, executor=None):
    """Check a layer entry; returns (claim, domain it holds on) or (None, None)."""
    W, b, act = layer
    if not isinstance(entry, dict):
        raise Rejected(f"{where}: not an object")
    proof, claim, dom = entry.get("proof"), entry.get("claim"), entry.get("domain")
    if proof is None:
        if claim is not None:
            raise Rejected(f"{where}: claim {claim!r} without a proof")
        return None, None
    if not isinstance(proof, dict):
        raise Rejected(f"{where}: proof is not an object")
    fmt = proof.get("format")
    if fmt == WITNESS_FORMAT:
        if claim != "not_injective" or dom not in ("all", "nonneg"):
            raise Rejected(f"{where}: a witness proves 'not_injective' on 'all' or 'nonneg'")
        n = W.shape[1]
        check_layer_witness(W, b, act, _point(proof.get("x1"), n, "x1"),
                            _point(proof.get("x2"), n, "x2"), dom)
        return claim, dom
    if claim != "injective":
        raise Rejected(f"{where}: a {fmt!r} proof proves 'injective', entry claims {claim!r}")
    if fmt in (FORMAT, NONNEG_FORMAT):
        if act != "relu":
            raise Rejected(f"{where}: a {fmt} certificate is about a relu layer; this one is "
                           f"{act}")
        Wd = _dense(W, where)
        if fmt == FORMAT:
            ok, why = check_certificate(Wd, b, proof, executor=executor)
        else:
            ok, why = check_nonneg_certificate(Wd, b, proof)
        if not ok:
            raise Rejected(f"{where}: {why}")
        return claim, "all" if fmt == FORMAT else "nonneg"
    if fmt == RANK_FORMAT:
        if not _strictly_increasing(act):
            raise Rejected(f"{where}: a rank certificate needs a strictly increasing "
                           f"activation; this layer is {act}")
        ok, why = check_rank_certificate(_dense(W, where), b, proof)
        if not ok:
            raise Rejected(f"{where}: {why}")
        return claim, "all"
    raise Rejected(f"{where}: unknown proof format {fmt!r}")


def check_network_proof(layers, doc, executor=None):
    """Verify a ``reluinj.network_proof`` document against the network
    ``layers`` (list of ``(W, b, activation_text)``).

    Returns ``(True, reason)`` or ``(False, reason)``; never raises on a
    malformed document. ``executor``: see
    :func:`solver.certificates.checker.check_certificate`.
    """
    try:
        if not isinstance(doc, dict) or doc.get("format") != NETWORK_FORMAT:
            raise Rejected(f"not a {NETWORK_FORMAT} document")
        if doc.get("version") != NETWORK_VERSION:
            raise Rejected(f"{NETWORK_FORMAT} version {doc.get('version')!r} is not supported "
                           f"(expected {NETWORK_VERSION}; re-run check)")
        layers = [(W, b, str(a)) for W, b, a in layers]
        widths = [layers[0][0].shape[1]] + [W.shape[0] for W, _, _ in layers]
        if doc.get("widths") != widths:
            raise Rejected(f"document is for widths {doc.get('widths')}, the model has {widths}")
        acts = [a for _, _, a in layers]
        if doc.get("activations") != acts:
            raise Rejected(f"document is for activations {doc.get('activations')}, the model "
                           f"has {acts}")
        domain, box = doc.get("domain"), doc.get("box")
        if domain not in ("all", "nonneg"):
            raise Rejected(f"unknown domain {domain!r}")
        if box is not None and (isinstance(box, bool) or not isinstance(box, (int, float))
                                or not math.isfinite(box) or box <= 0):
            raise Rejected(f"box must be null or a positive number, got {box!r}")
        entries = doc.get("layers")
        if not isinstance(entries, list) or len(entries) != len(layers):
            raise Rejected(f"'layers' must list {len(layers)} entries")
        proved = []
        for k, (layer, entry) in enumerate(zip(layers, entries)):
            proved.append(_check_entry(k, layer, entry, f"layer {k}", executor))
        verdict, method = doc.get("verdict"), doc.get("method")
        if verdict == "not_injective":
            w = doc.get("witness")
            if not isinstance(w, dict):
                raise Rejected("'not_injective' needs a witness {z1, z2}")
            n = widths[0]
            z1, z2 = _point(w.get("z1"), n, "z1"), _point(w.get("z2"), n, "z2")
            for z in (z1, z2):
                if domain == "nonneg" and any(v < 0 for v in z):
                    raise Rejected("witness outside the non-negative orthant")
                if box is not None and any(abs(v) > Fraction(box) for v in z):
                    raise Rejected(f"witness outside the box [-{box}, {box}]^n")
            _network_witness(layers, z1, z2)
            return True, "valid (witness: N(z1) == N(z2) exactly, z1 != z2)"
        if verdict in ("injective", "injective_on_box") and method == "regions":
            if (verdict == "injective_on_box") != (box is not None):
                raise Rejected(f"{verdict!r} does not match box {box!r}")
            ok, why = check_regions_proof(layers, doc.get("regions_proof"), domain, box)
            if not ok:
                raise Rejected(f"regions proof: {why}")
            return True, f"{why[:-1]}; end to end over the activation regions)"
        if verdict in ("injective", "injective_on_box"):
            if method != "layerwise":
                raise Rejected(f"not checkable: the {verdict!r} claim of method {method!r} is "
                               "not recorded in the document")
            for k, (claim, dom) in enumerate(proved):
                if claim != "injective":
                    raise Rejected(f"layer {k} carries no injectivity proof")
                if dom == "nonneg":
                    ok = (domain == "nonneg") if k == 0 else _nonneg_output(layers[k - 1][2])
                    if not ok:
                        raise Rejected(f"layer {k} is proved on x >= 0 only, but its inputs "
                                       "are not >= 0")
            return True, (f"valid (layerwise: all {len(layers)} layers injective on the set "
                          "their inputs come from)")
        if verdict == "unknown":
            got = [f"layer {k} {c} on {'R^n' if d == 'all' else 'x >= 0'}"
                   for k, (c, d) in enumerate(proved) if c is not None]
            return True, ("valid (claims nothing about the network; "
                          + ("verified: " + ", ".join(got) if got else "no layer proofs") + ")")
        raise Rejected(f"unknown verdict {verdict!r}")
    except Rejected as exc:
        return False, str(exc)
    except (RecursionError, MemoryError, TypeError, ValueError, KeyError, AttributeError,
            IndexError, ZeroDivisionError, OverflowError) as exc:
        return False, f"malformed document: {type(exc).__name__}: {exc}"


def check_single_layer_document(layers, doc, executor=None):
    """A layer document (certificate or witness) against a one-layer model
    (``executor``: see :func:`solver.certificates.checker.check_certificate`)."""
    if len(layers) != 1:
        return False, (f"a {doc.get('format')} document is about one layer; the model has "
                       f"{len(layers)} layers")
    W, b, act = layers[0]
    act = str(act)
    fmt = doc.get("format")
    if fmt in (FORMAT, WITNESS_FORMAT) and act != "relu":
        return False, f"a {fmt} document is about a relu layer; this one is {act}"
    try:
        if fmt == FORMAT:
            return check_certificate(_dense(W, "layer"), b, doc, executor=executor)
        if fmt == WITNESS_FORMAT:
            if doc.get("claim") != "not_injective":
                raise Rejected("a witness document claims 'not_injective'")
            return check_witness(_dense(W, "layer"), b, doc)
        entry = {"proof": doc, "domain": "nonneg" if fmt == NONNEG_FORMAT else "all",
                 "claim": "injective"}
        claim, dom = _check_entry(0, (W, b, act), entry, "layer")
        return True, f"valid ({claim} on {'R^n' if dom == 'all' else 'x >= 0'})"
    except Rejected as exc:
        return False, str(exc)
