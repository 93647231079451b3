"""Independent checker for reluinj certificates and witnesses.

This module, with :mod:`.exactlayer` (rationals, the layer's rows as
integers, ranks) and :mod:`.tree` (the walk of versions 2 to 4), is the
trusted base. They import no solver, no LP code and no other module of this
package: only the standard library (exact rationals, JSON, hashing) and NumPy
to read the layer's binary64 values. Read the three in one sitting;
everything a verdict rests on is there.

What is proved
--------------
Layer ``F(x) = ReLU(W x + b)``, ``W`` m x n. Call ``x`` *generic* when
``w_i . x + b_i != 0`` for every nonzero row ``w_i``. Let ``P(x)`` be the rows
with ``w_i . x + b_i > 0``.

Lemma. ``F`` is injective iff ``P(x)`` spans R^n for every generic ``x``.
  (If): take x1 != x2 with F(x1) = F(x2), d = x2 - x1. Rows positive at x1
  keep their value, so are orthogonal to d; rows at 0 with w.d != 0 have
  w.d < 0. At x = x1 + eps d every row with value >= 0 is orthogonal to d;
  a small generic perturbation of x only shrinks that set. So P(x') lies in
  d-perp for a generic x'. (Only if): if P(x) lies in v-perp, v != 0, then
  x and x + a v (a > 0 small) have the same image.
  This is the affine form of Theorem 1 (directed spanning sets) of
  Puthawala et al., *Globally injective ReLU networks*; note that their
  Lemma 1 reduction for biases is not used (its "only if" is false).

Coincident rows. If ``[w_j, b_j] = lam [w_i, b_i]`` exactly (lam != 0),
then at every generic x, sign(row j) = sign(lam) sign(row i): such rows form
a *class*. A class holding both orientations (lam < 0 for some pair, e.g.
the rows b and -d b of a [B; -DB] construction) is *two-sided*: at every
generic x one of its members is positive, and all members span one line.

Certificate (``claim: "injective"``): a binary tree. An internal node
``{"branch": i, "pos": T, "neg": T}`` splits on a nonzero row i whose class
is not yet assigned on the path: ``w_i.x + b_i > 0`` (sigma_i = +1) or
``< 0`` (sigma_i = -1), and assigns the implied sign to every row of its
class. Every generic x follows exactly one root-leaf path, so the tree
covers all generic points if every leaf is valid:

* ``{"leaf": "basis", "rows": [...], "pairs": [...]}`` : ``rows`` assigned +1
  on the path and ``pairs`` (rows of unassigned two-sided classes), n in
  all, linearly independent (exact elimination). Every x here has a positive
  row on each of these n lines, so P(x) spans R^n.
* ``{"leaf": "gordan", "y": [[i, "q"], ...]}`` : path rows, y_i >= 0, some
  y_i > 0, sum y_i sigma_i w_i = 0 and sum y_i sigma_i b_i <= 0. Then no x
  satisfies the path: summing y_i * (sigma_i (w_i.x + b_i)) > 0 gives
  sum y_i sigma_i b_i > 0. (Gordan / Motzkin alternative.)
* ``{"leaf": "hyperplane", "rows": [...], "pairs": [...], "normal": [n
  rationals], "y": [[i, "q"], ...]}`` : n-1 independent rows, as in a basis
  leaf, with ``normal`` (nonzero) orthogonal to all of them. Let U be the unassigned rows j with
  w_j.normal != 0. Any x on this path either has some j in U positive, so
  P(x) contains n independent rows, or has all of U negative; ``y`` is a
  Gordan certificate (as above) for the path rows plus U with sigma = -1,
  so the second case is empty.

Certificate version 2 (``"version": 2``, what the sign tree writes) says the
same with shared parts written once:

* ``"pairs"``: rows of distinct two-sided classes, linearly independent; no
  row of a two-sided class is ever branched on, so at every generic x each
  pair's line holds a positive row.
* ``"circuits"``: a table of Gordan circuits ``[[i, s, "q"], ...]`` (s = +1
  or -1, q >= 0, some q > 0) with ``sum q s w_i = 0`` and ``sum q s b_i <= 0``:
  no x has ``s (w_i.x + b_i) > 0`` for all its entries. Each is checked once.
* ``"tree"``: the tree in preorder as a flat list of tokens: ``["b", i]`` (a
  branch on row i: its positive subtree follows, then its negative one),
  ``["B"]`` (basis leaf), ``["G", k]`` (circuit k's signs all hold on the
  path), ``["H", k, normal]`` (hyperplane leaf with circuit k: each entry's
  sign holds on the path, or its row is unassigned, its sign is -1 and
  ``w_i.normal != 0``).
The rank a leaf needs is that of the *positive set* S: the pairs plus the rows
branched positive on the path. A basis leaf needs rank S = n; a hyperplane
leaf needs ``normal`` nonzero and orthogonal to every row of S (so rank S <=
n-1) and rank S >= n-1, so that its normal spans the complement of H = span S.
The argument for each leaf is the one above.

Certificate version 3 (``"version": 3``, what the sign tree wrote until version 4) is
version 2 with hyperplane tokens ``["H", k]`` that carry no normal; the leaf
is valid when every entry of circuit k has its sign on the path, or its row j
is unassigned, its sign is -1 and ``rank (S + {w_j}) = n``. Proof: at a
generic x on the path, either some such row j is positive, and then P(x)
contains S and w_j, rank n; or every such row is negative, and then x
satisfies every sign of circuit k, which is impossible. (The normal of a
version-2 leaf only served to show w_j outside span S; the rank says it
directly, and the normals were half of a certificate's bytes.)

Certificate version 4 (``"version": 4``, what the sign tree writes now) is
version 3 with one more leaf, the *transversal* leaf ``["T", [k_1, ..., k_d]]``.
For each circuit k_g, every entry has its sign on the path, or its row is
unassigned and its sign is -1; the unassigned rows of circuit k_g form its
*group* G_g. The groups must be non-empty and pairwise disjoint, and every
transversal (one row j_g from each group) must give rank (S + {j_1, ...,
j_d}) = n. Proof: at a generic x on the path, circuit k_g's signs cannot
all hold, and its assigned entries do, so some row of G_g is positive; so
P(x) contains S and a transversal, rank n. (Depth is super-additive over
disjoint groups: d disjoint circuits put d positive rows outside span S at
every point of the path; the rank check of every transversal is what turns
that count into a rank, without assuming general position. A hyperplane
leaf is the case d = 1.) The transversals' ranks are computed modulo p in
one batched elimination, and exactly for any that falls short modulo p.

Ranks are computed modulo the prime p = 1073741789 (the largest below 2^30, so
that products stay small integers) along the walk (an echelon
form with undo). A rank modulo p is at most the rank over Q (a minor that is
nonzero modulo p is a nonzero integer), so "rank >= r modulo p" proves "rank
>= r". When the rank modulo p falls short, the leaf is re-checked with an
exact fraction-free elimination over the integers, so a valid certificate
is never refused because p divides a minor.

Witness (``claim: "not_injective"``): ``x1 != x2`` (exact rationals) with
ReLU(W x1 + b) = ReLU(W x2 + b) exactly.

Rationals are JSON strings ``"p/q"``, integers, or decimals; JSON floats are
refused because they are already rounded.
"""
from __future__ import annotations

import json
from fractions import Fraction

from .exactlayer import (PRIME, Layer, Rejected, activation_slope, int_rank, int_vector,
                         layer_fingerprint, multipliers, rational)
from .tree import check_circuit, check_tree

__all__ = ["FORMAT", "VERSION", "VERSIONS", "PRIME", "Rejected", "layer_fingerprint", "rational",
           "activation_slope", "int_rank", "Layer", "check_circuit", "check_certificate",
           "check_witness", "check_document", "check_file"]

FORMAT = "reluinj.certificate"
VERSION = 4            # what the sign tree writes; versions 1 to 3 are still accepted
VERSIONS = (1, 2, 3, 4)


def _check_gordan(L, y, sigma, where):
    """y: list of [i, q]; sigma: dict i -> +1/-1 of rows allowed."""
    if not isinstance(y, list) or not y:
        raise Rejected(f"{where}: 'y' must be a non-empty list")
    # accumulate sum y_i sigma_i w_i = sum (y_i sigma_i / scale_i) * Wint_i
    total_w = [Fraction(0)] * L.n
    total_b = Fraction(0)
    positive = False
    for i, _, v in multipliers(L, y, "row, value", rational, where):
        if i not in sigma:
            raise Rejected(f"{where}: row {i} may not be used in this leaf")
        if v > 0:
            positive = True
        c = v * sigma[i] / L.scale[i]
        row = L.Wint[i]
        for k in range(L.n):
            if row[k]:
                total_w[k] += c * row[k]
        total_b += c * L.bint[i]
    if not positive:
        raise Rejected(f"{where}: all multipliers are zero")
    if any(t != 0 for t in total_w):
        raise Rejected(f"{where}: sum of y_i sigma_i w_i is not zero")
    if total_b > 0:
        raise Rejected(f"{where}: sum of y_i sigma_i b_i is positive ({total_b})")


def _independent_positive(L, node, sigma, count, where):
    """'rows' assigned positive on the path, plus 'pairs': rows of unassigned
    two-sided classes (one member of such a class is positive at every
    generic x, and all members span the same line). Together: ``count``
    independent rows. Returns the list of all of them."""
    rows, pairs = node.get("rows"), node.get("pairs", [])
    if not isinstance(rows, list) or not isinstance(pairs, list) or len(rows) + len(pairs) != count:
        raise Rejected(f"{where}: 'rows' and 'pairs' must list {count} row indices")
    for i in rows:
        L.row(i, where)
        if sigma.get(i) != 1:
            raise Rejected(f"{where}: row {i} is not assigned positive on this path")
    for i in pairs:
        L.row(i, where)
        if not L.nonzero[i] or L.key[i] not in L.two_sided or i in sigma:
            raise Rejected(f"{where}: row {i} is not in an unassigned two-sided class")
    every = rows + pairs
    if len(set(every)) != count or (count and int_rank([L.Wint[i] for i in every]) != count):
        raise Rejected(f"{where}: rows {every} are not linearly independent")
    return every


def _check_leaf(L, node, sigma, where):
    kind = node.get("leaf")
    if kind == "basis":
        _independent_positive(L, node, sigma, L.n, where)
    elif kind == "gordan":
        _check_gordan(L, node.get("y"), sigma, where)
    elif kind == "hyperplane":
        every = _independent_positive(L, node, sigma, L.n - 1, where)
        v_int = int_vector(node.get("normal"), L.n, where)
        for i in every:
            if L.dot_int(i, v_int) != 0:
                raise Rejected(f"{where}: normal not orthogonal to row {i}")
        allowed = dict(sigma)
        for j in range(L.m):
            if j not in sigma and L.dot_int(j, v_int) != 0:
                allowed[j] = -1
        _check_gordan(L, node.get("y"), allowed, where)
    else:
        raise Rejected(f"{where}: unknown leaf kind {kind!r}")


def check_certificate(W, b, cert, *, check_fingerprint=True, executor=None):
    """Verify an injectivity certificate against the layer ``(W, b)``.

    Returns ``(True, "valid")`` or ``(False, reason)``; never raises on a
    malformed certificate. ``executor``: optional, an object with
    ``submit(fn, *args)`` returning a future (a one-process pool): a long
    circuit table of a version-2/3 certificate is then checked there while
    the tree is walked here (the same checks, done concurrently).
    """
    try:
        L = Layer(W, b)
        if not isinstance(cert, dict):
            raise Rejected("certificate is not a JSON object")
        if cert.get("format") != FORMAT or cert.get("version") not in VERSIONS:
            raise Rejected(f"not a {FORMAT} document of version {' or '.join(map(str, VERSIONS))}")
        if cert.get("claim") != "injective":
            raise Rejected(f"claim is {cert.get('claim')!r}, expected 'injective'")
        if cert.get("m") != L.m or cert.get("n") != L.n:
            raise Rejected(f"certificate is for a {cert.get('m')}x{cert.get('n')} layer, "
                           f"this layer is {L.m}x{L.n}")
        if check_fingerprint and cert.get("layer_sha256") != layer_fingerprint(W, b):
            raise Rejected("layer fingerprint does not match (certificate made for another layer)")
        if cert.get("version") in (2, 3, 4):
            return True, f"valid ({check_tree(L, cert, W, b, executor)} leaves)"
        # version 1: iterative depth-first walk: (node, path sigma, where)
        stack = [(cert.get("tree"), {}, "root")]
        leaves = 0
        while stack:
            node, sigma, where = stack.pop()
            if not isinstance(node, dict):
                raise Rejected(f"{where}: node is not an object (truncated?)")
            if "branch" in node:
                i = L.row(node["branch"], where)
                if i in sigma:
                    raise Rejected(f"{where}: row {i} branched on twice")
                if not L.nonzero[i]:
                    raise Rejected(f"{where}: branch on zero row {i}")
                for key, s in (("pos", 1), ("neg", -1)):
                    child = dict(sigma)
                    for j in L.members[L.key[i]]:  # the whole coincident class
                        child[j] = s * L.orient[j] * L.orient[i]
                    stack.append((node.get(key), child, f"{where}/{key}{i}"))
            else:
                _check_leaf(L, node, sigma, where)
                leaves += 1
        return True, f"valid ({leaves} leaves)"
    except Rejected as exc:
        return False, str(exc)
    except (RecursionError, MemoryError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return False, f"malformed certificate: {type(exc).__name__}: {exc}"


def check_witness(W, b, witness):
    """Verify ``{"x1": [...], "x2": [...]}``: x1 != x2 and equal outputs, exactly."""
    try:
        L = Layer(W, b)
        if not isinstance(witness, dict):
            raise Rejected("witness is not a JSON object")
        x1 = witness.get("x1")
        x2 = witness.get("x2")
        if not isinstance(x1, list) or not isinstance(x2, list):
            raise Rejected("witness needs lists 'x1' and 'x2'")
        if len(x1) != L.n or len(x2) != L.n:
            raise Rejected(f"witness points must have {L.n} coordinates")
        x1 = [rational(s) for s in x1]
        x2 = [rational(s) for s in x2]
        if x1 == x2:
            raise Rejected("x1 equals x2")
        for i in range(L.m):
            a = sum((w * x for w, x in zip(L.W[i], x1)), L.b[i])
            c = sum((w * x for w, x in zip(L.W[i], x2)), L.b[i])
            if max(a, 0) != max(c, 0):
                raise Rejected(f"outputs differ at row {i}: {max(a, 0)} != {max(c, 0)}")
        return True, "valid"
    except Rejected as exc:
        return False, str(exc)
    except (TypeError, ValueError) as exc:
        return False, f"malformed witness: {exc}"


def check_document(W, b, doc, *, check_fingerprint=True):
    """Dispatch on ``doc["claim"]``: an injectivity certificate or a witness."""
    if isinstance(doc, dict) and doc.get("claim") == "not_injective":
        return check_witness(W, b, doc.get("witness", doc))
    return check_certificate(W, b, doc, check_fingerprint=check_fingerprint)


def check_file(W, b, path):
    """Load a JSON document and check it. Returns ``(ok, reason)``."""
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        return False, f"cannot read certificate: {exc}"
    return check_document(W, b, doc)
