"""The exact layer of the certificate checkers: rationals read from JSON, the
layer's rows as integers, ranks (exact, and batched modulo a prime for the
transversal leaves) and multiplier lists.

Part of the trusted base with :mod:`.checker` (what is proved, the leaves
of version 1, the entry points) and :mod:`.tree` (the walk of versions 2
to 4): the standard library and NumPy only, no solver.
"""
from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np

__all__ = ["PRIME", "Rejected", "layer_fingerprint", "int_or_fraction", "rational",
           "activation_slope", "int_rank", "transversals_independent", "Layer", "multipliers",
           "int_vector"]

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


def int_or_fraction(s):
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
    return Fraction(int_or_fraction(s))


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


def _matmul_mod(A, B):
    """``A @ B`` modulo :data:`PRIME` for residues (int64), exactly: ``A`` is
    split into 15-bit halves, so every product is below 2^45 and every sum of
    up to 256 of them below 2^53."""
    hi, lo = A >> 15, A & 0x7FFF
    return (((hi @ B) % PRIME << 15) + lo @ B) % PRIME


def transversals_independent(C, groups):
    """Is every transversal of ``groups`` independent modulo :data:`PRIME`?

    ``C``: int64 array ``(rows, q)`` of residues (row coordinates);
    ``groups``: ``q`` lists of indices into ``C``. A transversal picks one
    row of each group; it is independent when those ``q`` rows have rank
    ``q`` modulo p (then also over Q: a nonzero minor modulo p is a nonzero
    integer). Returns False as soon as one transversal is not (modulo p).

    Level by level for all partial transversals at once: each carries a
    basis ``Q`` (``q - g`` vectors) of the vectors orthogonal to its ``g``
    rows modulo p; a new row ``v`` keeps it independent iff ``Q v != 0``,
    and then ``Q`` shrinks by the fraction-free update ``(Qv)_c Q_i - (Qv)_i
    Q_c`` (pivot ``c``, ``i != c``). The last two groups (the largest) are
    tested together by 2 x 2 determinants in the plane ``Q`` leaves, so
    the work is about one small product per transversal, not an elimination
    (q^3) per transversal. Products of two residues stay below 2^60: exact
    in int64.
    """
    C = np.asarray(C, dtype=np.int64) % PRIME
    q = C.shape[1]
    if len(groups) != q:
        raise ValueError("transversals_independent needs one group per coordinate")
    if q == 0:
        return True
    if q > 256:
        raise ValueError("transversals_independent: at most 256 coordinates")
    groups = sorted((np.asarray(g, dtype=np.int64) for g in groups), key=len)
    if q == 1:
        return bool((C[groups[0], 0] != 0).all())
    Q = np.eye(q, dtype=np.int64)[None]                      # (states, r, q), r = q - level
    for level, g in enumerate(groups):
        S, r, k = Q.shape[0], Q.shape[1], len(g)
        if r == 2:
            # the last two groups at once: in the plane orthogonal to the
            # prefix, rows v (this group) and w (the last) are independent
            # iff the 2 x 2 determinant of their coordinates is nonzero
            h = groups[-1]
            V = _matmul_mod(Q.reshape(S * 2, q), C[g].T).reshape(S, 2, k)
            Wc = _matmul_mod(Q.reshape(S * 2, q), C[h].T).reshape(S, 2, len(h))
            det = (V[:, 0, :, None] * Wc[:, 1, None, :]
                   - V[:, 1, :, None] * Wc[:, 0, None, :]) % PRIME
            return bool(det.all())
        QV = _matmul_mod(Q.reshape(S * r, q), C[g].T).reshape(S, r, k)
        nz = QV != 0
        if not nz.any(axis=1).all():
            return False
        QV = QV.transpose(0, 2, 1).reshape(S * k, r)          # state s, row a -> s * k + a
        nz = nz.transpose(0, 2, 1).reshape(S * k, r)
        Qs = np.repeat(Q, k, axis=0)                         # (S * k, r, q)
        idx = np.arange(S * k)
        c = nz.argmax(axis=1)                                # a pivot (nonzero)
        a = QV[idx, c]
        Qc = Qs[idx, c]
        Q = (a[:, None, None] * Qs - QV[:, :, None] * Qc[:, None, :]) % PRIME
        Q[idx, c] = Q[:, -1]                                 # row c is zero: drop it
        Q = Q[:, :-1]
    return True


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


def multipliers(L, entries, fields, parse, where):
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


def int_vector(values, n, where):
    """A hyperplane normal read exactly (``n`` rationals, not all zero), as
    an integer multiple of it (the same orthogonality)."""
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
