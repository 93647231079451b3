"""Independent checker for depth certificates (``format: "reluinj.depth"``,
written by :func:`solver.depth.certify_depth`).

Claim: for each group j of rows, every generic x has at least ``depth[j]``
rows of the group with ``w_i.x + b_i > 0``. Proof: a table of Gordan circuits
of negative rows (no x makes all the rows of a circuit negative), and for
every set S of at most ``depth[j] - 1`` rows of the group, a circuit inside
the group that avoids S: then at any x the rows of the group outside S are
not all negative, i.e. the active rows of the group are never inside a set of
``depth[j] - 1`` rows. The checker verifies the circuits in integers
(:func:`solver.certificates.checker.check_circuit`) and the covering by
replaying a hitting-set tree: a set takes the first circuit of its group that
avoids it, and its children add one row of that circuit. Any set T of at most
``depth[j] - 1`` rows is covered: follow the children whose added row lies in
T; the sets stay inside T and grow, so some circuit on the way avoids T.

Like the main checker it imports nothing from the solver: only the checker's
exact layer reading and the standard library.
"""
from __future__ import annotations

from .checker import Layer, Rejected, check_circuit, layer_fingerprint

DEPTH_FORMAT = "reluinj.depth"

__all__ = ["DEPTH_FORMAT", "check_depth_certificate", "check_depth_document"]


def check_depth_certificate(W, b, cert):
    """Independent check of a depth certificate: every circuit is a Gordan
    circuit of negative rows (integer arithmetic), and for every group j and
    every set S of at most ``depth[j] - 1`` of its rows some circuit inside
    the group avoids S (the hitting-set tree replayed: each set takes the
    first circuit of the group that avoids it; its children add one row of
    that circuit). Returns ``(ok, reason)``."""
    try:
        L = Layer(W, b)
        if not isinstance(cert, dict) or cert.get("format") != DEPTH_FORMAT \
                or cert.get("version") != 1:
            raise Rejected(f"not a {DEPTH_FORMAT} version 1 document")
        if cert.get("m") != L.m or cert.get("n") != L.n:
            raise Rejected("certificate is for a layer of another shape")
        if cert.get("layer_sha256") != layer_fingerprint(W, b):
            raise Rejected("layer fingerprint does not match")
        groups, depth, table = cert.get("groups"), cert.get("depth"), cert.get("circuits")
        if not (isinstance(groups, list) and isinstance(depth, list) and isinstance(table, list)
                and len(groups) == len(depth)):
            raise Rejected("'groups', 'depth' and 'circuits' must be lists, one depth per group")
        circuits = []
        for k, c in enumerate(table):
            signs = check_circuit(L, c, f"circuit {k}")
            if any(s != -1 for s in signs.values()):
                raise Rejected(f"circuit {k}: depth circuits have negative rows only")
            circuits.append(frozenset(signs))
        seen = set()
        for j, (g, r) in enumerate(zip(groups, depth)):
            if not isinstance(g, list) or isinstance(r, bool) or not isinstance(r, int) or r < 0:
                raise Rejected(f"group {j}: bad group or depth")
            rows = {L.row(i, f"group {j}") for i in g}
            if len(rows) != len(g) or rows & seen:
                raise Rejected(f"group {j}: rows repeated or shared with another group")
            seen |= rows
            own = [c for c in circuits if c <= rows]
            level = [frozenset()]
            for k in range(r):
                nxt = set()
                for S in level:
                    C = next((c for c in own if not (c & S)), None)
                    if C is None:
                        raise Rejected(f"group {j}: no circuit avoids the rows {sorted(S)}")
                    if k + 1 < r:
                        nxt.update(S | {c} for c in C)
                level = nxt
        return True, f"valid (at least {sum(depth)} active rows at every point)"
    except Rejected as exc:
        return False, str(exc)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return False, f"malformed certificate: {type(exc).__name__}: {exc}"


def check_depth_document(layers, doc, executor=None):
    """:func:`check_depth_certificate` against a one-layer model given as
    ``[(W, b, activation)]`` (the form :mod:`.verify` passes; ``executor`` is
    not used: depth documents are checked in this process)."""
    if len(layers) != 1:
        return False, f"a {DEPTH_FORMAT} document is about one layer; the model has {len(layers)}"
    W, b, act = layers[0]
    if str(act) != "relu":
        return False, f"a {DEPTH_FORMAT} document is about a relu layer; this one is {act}"
    if hasattr(W, "toarray"):
        W = W.toarray()
    return check_depth_certificate(W, b, doc)
