"""Independent checker for reluinj certificates and witnesses.

This module is the trusted base. It imports no solver, no LP code and no
other module of this package: only the standard library (exact rationals,
JSON, hashing) and NumPy to read the layer's binary64 values. Read it in one
sitting; everything a verdict rests on is here.

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

Certificate version 3 (``"version": 3``, what the sign tree writes now) is
version 2 with hyperplane tokens ``["H", k]`` that carry no normal; the leaf
is valid when every entry of circuit k has its sign on the path, or its row j
is unassigned, its sign is -1 and ``rank (S + {w_j}) = n``. Proof: at a
generic x on the path, either some such row j is positive, and then P(x)
contains S and w_j, rank n; or every such row is negative, and then x
satisfies every sign of circuit k, which is impossible. (The normal of a
version-2 leaf only served to show w_j outside span S; the rank says it
directly, and the normals were half of a certificate's bytes.)

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

import hashlib
import json
import math
from fractions import Fraction

import numpy as np

FORMAT = "reluinj.certificate"
VERSION = 3            # what the sign tree writes; versions 1 and 2 are still accepted
VERSIONS = (1, 2, 3)
PRIME = 1073741789     # ranks along a version-2/3 walk are computed modulo this prime (< 2^30)


class Rejected(Exception):
    """The certificate is wrong; the message says where."""


def layer_fingerprint(W, b) -> str:
    """SHA-256 of the shape and the little-endian binary64 bytes of W and b."""
    W = np.ascontiguousarray(W, dtype="<f8")
    b = np.zeros(W.shape[0], dtype="<f8") if b is None else np.ascontiguousarray(b, dtype="<f8")
    h = hashlib.sha256()
    h.update(f"{W.shape[0]}x{W.shape[1]};".encode())
    h.update(W.tobytes())
    h.update(b.tobytes())
    return h.hexdigest()


def _int_or_fraction(s):
    """An exact rational from a JSON string or integer: an ``int`` for an
    integer (the common case, and far cheaper), else a ``Fraction``; floats
    are refused (they are already rounded)."""
    if isinstance(s, bool) or not isinstance(s, (str, int)):
        raise Rejected(f"not an exact rational (string or integer): {s!r}")
    if isinstance(s, int):
        return s
    if s.isdigit() and s.isascii():         # the common case, checked first for speed
        return int(s)
    t = s.strip()
    if t.isascii() and t.lstrip("+-").isdigit() and t.count("-") + t.count("+") <= 1:
        return int(t)
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise Rejected(f"not a rational: {s!r}") from None


def rational(s) -> Fraction:
    """An exact rational (a ``Fraction``) from a JSON string or integer."""
    return Fraction(_int_or_fraction(s))


def activation_slope(act):
    """Negative-side slope of a piecewise linear activation text (``relu`` 0,
    ``identity`` 1, ``leaky_relu:<s>`` s >= 0), None for sigmoid/tanh;
    :class:`Rejected` for anything else. The checkers read activations
    here, independently of the solver's :mod:`solver.activations`."""
    if act == "relu":
        return Fraction(0)
    if act == "identity":
        return Fraction(1)
    if isinstance(act, str) and act.startswith("leaky_relu:"):
        try:
            s = float(act.split(":", 1)[1])
        except ValueError:
            raise Rejected(f"unknown activation {act!r}") from None
        if not math.isfinite(s) or s < 0:
            raise Rejected(f"unknown activation {act!r}")
        return Fraction(s)
    if act in ("sigmoid", "tanh"):
        return None
    raise Rejected(f"unknown activation {act!r}")


def int_rank(rows) -> int:
    """Exact rank of integer rows by fraction-free (Bareiss-style) elimination:
    row_r <- p * row_r - row_r[c] * pivot_row keeps integers and exact zeros."""
    rows = [list(r) for r in rows]
    rank, ncols = 0, len(rows[0]) if rows else 0
    for c in range(ncols):
        piv = next((r for r in range(rank, len(rows)) if rows[r][c] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        p = rows[rank]
        for r in range(rank + 1, len(rows)):
            f = rows[r][c]
            if f != 0:
                new = [p[c] * a - f * e for a, e in zip(rows[r], p)]
                g = 0
                for a in new:
                    g = math.gcd(g, a)
                rows[r] = [a // g for a in new] if g > 1 else new
        rank += 1
    return rank


class Layer:
    """The layer's rows read exactly: Fractions, integer copies (row i times a
    power of two), classes of coincident rows."""
    def __init__(self, W, b):
        W = np.asarray(W, dtype=np.float64)
        self.m, self.n = W.shape
        b = np.zeros(self.m) if b is None else np.asarray(b, dtype=np.float64)
        self.W = [[Fraction(float(v)) for v in row] for row in W]
        self.b = [Fraction(float(v)) for v in b]
        # Integer copies for speed: row i times its largest denominator (a
        # power of two) is integral; ``Wint[i] = scale[i] * W[i]`` exactly.
        self.scale, self.Wint, self.bint = [], [], []
        for wr, bi in zip(self.W, self.b):
            d = max([f.denominator for f in wr] + [bi.denominator])
            self.scale.append(d)
            self.Wint.append([int(f * d) for f in wr])
            self.bint.append(int(bi * d))
        self.nonzero = [any(v != 0 for v in row) for row in self.Wint]
        self.Wp = [[a % PRIME for a in row] for row in self.Wint]     # residues modulo p
        # Coincident hyperplanes: rows with [w_j, b_j] = lam [w_i, b_i] exactly
        # share the primitive integer vector up to sign. At a generic x,
        # sign(row j) = sign(lam) * sign(row i).
        self.key, self.orient, self.members = [None] * self.m, [0] * self.m, {}
        for i in range(self.m):
            if not self.nonzero[i]:
                continue
            r = self.Wint[i] + [self.bint[i]]
            g = 0
            for a in r:
                g = math.gcd(g, a)
            o = 1 if next(a for a in r if a != 0) > 0 else -1
            k = tuple(o * a // g for a in r)
            self.key[i], self.orient[i] = k, o
            self.members.setdefault(k, []).append(i)
        self.two_sided = {k for k, rows in self.members.items()
                          if len({self.orient[i] for i in rows}) == 2}

    def dot_int(self, i, v_int):
        """scale[i] * (w_i . v) for an integer vector v (same sign, same zero)."""
        return sum(a * c for a, c in zip(self.Wint[i], v_int))

    def row(self, i, where):
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.m:
            raise Rejected(f"{where}: bad row index {i!r}")
        return i


def _multipliers(L, entries, fields, parse, where):
    """The entries ``[row, ..., value]`` of a multiplier list (``fields`` names
    them, e.g. ``"row, value"``): every row a valid index of ``L``, no row
    twice, every value an exact rational ``>= 0`` read by ``parse``. Returns
    ``[(row, entry, value)]`` in order; :class:`Rejected` on the first defect."""
    width = len(fields.split(","))
    out, seen = [], set()
    for e in entries:
        if not isinstance(e, list) or len(e) != width:
            raise Rejected(f"{where}: entry {e!r} is not [{fields}]")
        i = L.row(e[0], where)
        if i in seen:
            raise Rejected(f"{where}: row {i} repeated")
        seen.add(i)
        v = parse(e[-1])
        if v < 0:
            raise Rejected(f"{where}: negative multiplier for row {i}")
        out.append((i, e, v))
    return out


def _check_gordan(L, y, sigma, where):
    """y: list of [i, q]; sigma: dict i -> +1/-1 of rows allowed."""
    if not isinstance(y, list) or not y:
        raise Rejected(f"{where}: 'y' must be a non-empty list")
    # accumulate sum y_i sigma_i w_i = sum (y_i sigma_i / scale_i) * Wint_i
    total_w = [Fraction(0)] * L.n
    total_b = Fraction(0)
    positive = False
    for i, _, v in _multipliers(L, y, "row, value", rational, where):
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
        normal = node.get("normal")
        if not isinstance(normal, list) or len(normal) != L.n:
            raise Rejected(f"{where}: 'normal' must have {L.n} entries")
        v = [rational(s) for s in normal]
        if all(x == 0 for x in v):
            raise Rejected(f"{where}: normal is zero")
        den = 1  # integer multiple of the normal: same orthogonality
        for x in v:
            den = den * x.denominator // math.gcd(den, x.denominator)
        v_int = [int(x * den) for x in v]
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


class _Echelon:
    """Row echelon form modulo :data:`PRIME` of integer rows, with undo.

    ``push(v)`` reduces v against the stored rows (each stored row is monic
    at its pivot and zero in the pivot columns of the rows stored before it)
    and stores the remainder when it is nonzero; the number of stored rows is
    the rank modulo p of everything pushed, a lower bound of the rank over Q.
    ``pop()`` undoes the last successful push. ``outside(v)``: at rank n-1,
    is v outside the span modulo p (then rank + v = n modulo p, so over Q)?"""

    def __init__(self, n):
        self.n = n
        self.rows = []                      # (pivot column, row mod p, monic at pivot)
        self._normal = None                 # kernel vector mod p at rank n-1, cached

    def reduce(self, v):
        """v (residues modulo p), reduced against the stored rows."""
        for c, e in self.rows:
            f = v[c]
            if f:
                v = [(a - f * x) % PRIME for a, x in zip(v, e)]
        return v

    def push(self, v):
        v = self.reduce(v)
        for c, a in enumerate(v):
            if a:
                inv = pow(a, -1, PRIME)
                self.rows.append((c, [x * inv % PRIME for x in v]))
                self._normal = None
                return True
        return False

    def pop(self):
        self.rows.pop()
        self._normal = None

    def outside(self, v):
        if len(self.rows) != self.n - 1:
            return False
        if self._normal is None:
            # back substitution from the last row stored: row r is zero in the
            # pivots of earlier rows and before its own pivot, so its other
            # nonzeros are the free column or pivots of later rows, solved already
            x = [0] * self.n
            free = (set(range(self.n)) - {c for c, _ in self.rows}).pop()
            x[free] = 1
            for c, e in reversed(self.rows):
                x[c] = -sum(a * y for a, y in zip(e, x)) % PRIME    # e[c] = 1, x[c] = 0 so far
            self._normal = x
        return sum(a * y for a, y in zip(v, self._normal)) % PRIME != 0


def _int_vector(values, n, where):
    v = [rational(s) for s in values] if isinstance(values, list) and len(values) == n else None
    if v is None:
        raise Rejected(f"{where}: 'normal' must have {n} entries")
    den = 1
    for x in v:
        den = den * x.denominator // math.gcd(den, x.denominator)
    v_int = [int(x * den) for x in v]   # an integer multiple: same orthogonality
    if not any(v_int):
        raise Rejected(f"{where}: normal is zero")
    return v_int


def check_circuit(L, entries, where):
    """Validate one circuit; returns its ``{row: sign}``."""
    if not isinstance(entries, list) or not entries:
        raise Rejected(f"{where}: a circuit must be a non-empty list")
    signs, coef = {}, []
    for i, e, q in _multipliers(L, entries, "row, sign, value", _int_or_fraction, where):
        s = e[1]
        if isinstance(s, bool) or s not in (1, -1):
            raise Rejected(f"{where}: sign of row {i} must be 1 or -1")
        signs[i] = s
        coef.append((i, q * s))
    if all(c == 0 for _, c in coef):
        raise Rejected(f"{where}: all multipliers are zero")
    # w_i = Wint_i / scale_i with scale_i a power of two: multiply the identity
    # through by D = lcm(denominators of q) * max(scale) to stay in integers
    top = max(L.scale[i] for i, _ in coef)
    den = 1
    for _, c in coef:
        d = c.denominator
        den = den * d // math.gcd(den, d)
    ints = [(i, int(c * den) * (top // L.scale[i])) for i, c in coef]
    total = [0] * L.n
    for i, a in ints:
        total = [t + a * w for t, w in zip(total, L.Wint[i])]
    if any(total):
        raise Rejected(f"{where}: sum of q s w_i is not zero")
    if sum(a * L.bint[i] for i, a in ints) > 0:
        raise Rejected(f"{where}: sum of q s b_i is positive")
    return signs


def circuit_signs(L, entries, where):
    """The ``{row: sign}`` of one circuit, from its structure only (rows valid
    and distinct, signs +-1); its values and its identity are checked by
    :func:`check_circuit`, which must also pass."""
    if not isinstance(entries, list) or not entries:
        raise Rejected(f"{where}: a circuit must be a non-empty list")
    signs = {}
    for e in entries:
        if not isinstance(e, list) or len(e) != 3:
            raise Rejected(f"{where}: entry {e!r} is not [row, sign, value]")
        i, s = L.row(e[0], where), e[1]
        if i in signs:
            raise Rejected(f"{where}: row {i} repeated")
        if isinstance(s, bool) or s not in (1, -1):
            raise Rejected(f"{where}: sign of row {i} must be 1 or -1")
        signs[i] = s
    return signs


def check_circuits(W, b, table):
    """:func:`check_circuit` on every circuit of ``table`` for the layer
    ``(W, b)``: None when all are valid, else the first rejection's message.
    A plain function of plain data, so that it can run in another process
    while the tree is walked (see ``executor`` of :func:`check_certificate`)."""
    try:
        L = Layer(W, b)
        for k, c in enumerate(table):
            check_circuit(L, c, f"circuit {k}")
        return None
    except Rejected as exc:
        return str(exc)
    except (MemoryError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"malformed certificate: {type(exc).__name__}: {exc}"


#: circuit tables at least this long are checked in the executor, if one is given
PARALLEL_CIRCUITS = 2000


def _exact_rank(L, S):
    return int_rank([L.Wint[i] for i in S]) if S else 0


def _rank_at_least(L, E, S, extra, r):
    """Is the rank of the rows ``S`` plus the rows ``extra`` (indices) at
    least ``r``? Modulo p first (``E`` holds the echelon form of ``S`` modulo
    p): enough when it says yes; else exactly over the integers."""
    got = len(E.rows)
    for j in extra:             # (only one extra row is ever passed)
        if got < r and (E.outside(L.Wp[j]) if got == E.n - 1 else any(E.reduce(L.Wp[j]))):
            got += 1
    if got >= r:
        return True
    rows = [L.Wint[i] for i in list(S) + list(extra)]
    return bool(rows) and int_rank(rows) >= r


def _check_v2(L, cert, W=None, b=None, executor=None):
    """Walk a version-2 or version-3 certificate; returns the number of leaves.
    With an ``executor`` (anything with ``submit``, e.g. a process pool) and
    a long circuit table, the circuits' values and identities are checked
    there (:func:`check_circuits` on ``W, b``) while the tree is walked with
    their signs; the walk's verdict waits for that check."""
    version = cert.get("version")
    pairs = cert.get("pairs")
    if not isinstance(pairs, list):
        raise Rejected("'pairs' must be a list of row indices")
    E = _Echelon(L.n)
    S = []              # the positive set: pairs, then rows branched positive on the path
    seen_lines = set()
    for i in pairs:
        L.row(i, "pairs")
        if not L.nonzero[i] or L.key[i] not in L.two_sided:
            raise Rejected(f"pairs: row {i} is not in a two-sided class")
        if L.key[i] in seen_lines:
            raise Rejected(f"pairs: rows {pairs} are not linearly independent")
        seen_lines.add(L.key[i])
        E.push(L.Wp[i])
        S.append(i)
    if not _rank_at_least(L, E, S, [], len(S)):
        raise Rejected(f"pairs: rows {pairs} are not linearly independent")
    table = cert.get("circuits")
    if not isinstance(table, list):
        raise Rejected("'circuits' must be a list")
    pending = None
    if executor is not None and len(table) >= PARALLEL_CIRCUITS:
        pending = executor.submit(check_circuits, W, b, table)
        circuits = [circuit_signs(L, c, f"circuit {k}") for k, c in enumerate(table)]
    else:
        circuits = [check_circuit(L, c, f"circuit {k}") for k, c in enumerate(table)]
    leaves = _walk(L, cert, version, _tokens_of(cert), circuits, E, S)
    if pending is not None:
        try:
            reason = pending.result()
        except Exception as exc:            # the pool broke (a killed worker, say)
            raise Rejected(f"the circuit check did not finish: {type(exc).__name__}: {exc}")
        if reason is not None:
            raise Rejected(reason)
    return leaves


def _tokens_of(cert):
    tokens = cert.get("tree")
    if not isinstance(tokens, list) or not tokens:
        raise Rejected("'tree' must be a non-empty list of tokens")
    return tokens


def _walk(L, cert, version, tokens, circuits, E, S):
    """The preorder walk of a version-2/3 tree (see :func:`_check_v2`)."""
    n = L.n
    h_len = 3 if version == 2 else 2
    h_form = "['H', k, normal]" if version == 2 else "['H', k]"
    sigma = {}
    stack = []          # [row, pushed, phase]: phase 0 = in pos subtree, 1 = in neg
    leaves = 0
    pos = 0
    while True:
        if pos >= len(tokens):
            raise Rejected("tree ends inside a branch (truncated?)")
        tok = tokens[pos]
        where = f"token {pos}"
        pos += 1
        if not isinstance(tok, list) or not tok or not isinstance(tok[0], str):
            raise Rejected(f"{where}: not a token")
        kind = tok[0]
        if kind == "b":
            if len(tok) != 2:
                raise Rejected(f"{where}: branch token must be ['b', row]")
            i = L.row(tok[1], where)
            if i in sigma:
                raise Rejected(f"{where}: row {i} branched on twice")
            if not L.nonzero[i]:
                raise Rejected(f"{where}: branch on zero row {i}")
            if L.key[i] in L.two_sided:
                raise Rejected(f"{where}: branch on row {i} of a two-sided class")
            for j in L.members[L.key[i]]:
                sigma[j] = L.orient[j] * L.orient[i]
            S.append(i)
            stack.append([i, E.push(L.Wp[i]), 0])
            continue
        if kind == "B":
            if not _rank_at_least(L, E, S, [], n):
                raise Rejected(f"{where}: basis leaf at rank {_exact_rank(L, S)}, not {n}")
        elif kind in ("G", "H"):
            k = tok[1] if len(tok) >= 2 else None
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(circuits):
                raise Rejected(f"{where}: bad circuit index {k!r}")
            if kind == "G":
                if len(tok) != 2:
                    raise Rejected(f"{where}: gordan token must be ['G', k]")
                for i, s in circuits[k].items():
                    if sigma.get(i) != s:
                        raise Rejected(f"{where}: circuit {k} row {i} does not have sign {s} here")
            else:
                if len(tok) != h_len:
                    raise Rejected(f"{where}: hyperplane token must be {h_form}")
                if version == 2:
                    v = _int_vector(tok[2], n, where)
                    for i in S:
                        if L.dot_int(i, v) != 0:
                            raise Rejected(f"{where}: normal not orthogonal to the positive rows")
                    if not _rank_at_least(L, E, S, [], n - 1):
                        raise Rejected(f"{where}: hyperplane leaf at rank {_exact_rank(L, S)}, "
                                       f"not {n - 1}")
                for i, s in circuits[k].items():
                    if i in sigma:
                        if sigma[i] != s:
                            raise Rejected(f"{where}: circuit {k} row {i} does not have sign {s} here")
                    elif s != -1 or (L.dot_int(i, v) == 0 if version == 2 else
                                     not _rank_at_least(L, E, S, [i], n)):
                        raise Rejected(f"{where}: circuit {k} row {i} is unassigned and not "
                                       f"a negative row outside the span of the positive rows")
        else:
            raise Rejected(f"{where}: unknown token {kind!r}")
        leaves += 1
        # climb: finish positive subtrees (switch to negative), pop finished branches
        while stack:
            frame = stack[-1]
            i = frame[0]
            if frame[2] == 0:
                if frame[1]:
                    E.pop()
                S.pop()
                for j in L.members[L.key[i]]:
                    sigma[j] = -sigma[j]
                frame[2] = 1
                break
            for j in L.members[L.key[i]]:
                del sigma[j]
            stack.pop()
        else:
            if pos != len(tokens):
                raise Rejected(f"token {pos}: tokens after the end of the tree")
            return leaves


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
        if cert.get("version") in (2, 3):
            return True, f"valid ({_check_v2(L, cert, W, b, executor)} leaves)"
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
