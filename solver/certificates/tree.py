"""The walk of version-2, -3 and -4 certificates (the flat preorder tree,
the circuit table, ranks modulo a prime along the path); what each token
proves is written in :mod:`.checker`'s docstring.

Part of the trusted base with :mod:`.checker` and :mod:`.exactlayer`: the
standard library and NumPy only, no solver.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .exactlayer import (PRIME, Layer, Rejected, int_or_fraction, int_rank, int_vector,
                         transversals_independent)

__all__ = ["check_circuit", "circuit_signs", "check_circuits", "check_tree", "PARALLEL_CIRCUITS",
           "MAX_TRANSVERSALS"]


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
            self._normal = self.complement()[0]
        return sum(a * y for a, y in zip(v, self._normal)) % PRIME != 0

    def complement(self):
        """A basis modulo p of the vectors orthogonal to every stored row, one
        per free column: back substitution from the last row stored (row r is
        zero in the pivots of earlier rows and before its own pivot, so its
        other nonzeros are free columns or pivots of later rows, solved
        already)."""
        pivots = {c for c, _ in self.rows}
        basis = []
        for free in range(self.n):
            if free in pivots:
                continue
            x = [0] * self.n
            x[free] = 1
            for c, e in reversed(self.rows):
                x[c] = -sum(a * y for a, y in zip(e, x)) % PRIME    # e[c] = 1, x[c] = 0 so far
            basis.append(x)
        return basis


def check_circuit(L, entries, where):
    """Validate one circuit: its structure (:func:`circuit_signs`), its
    multipliers (exact, >= 0, not all zero) and its identity; returns its
    ``{row: sign}``."""
    signs = circuit_signs(L, entries, where)
    coef = []
    for i, s, value in entries:
        q = int_or_fraction(value)
        if q < 0:
            raise Rejected(f"{where}: negative multiplier for row {i}")
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


def _rank_at_least(L, E, S, r, j=None):
    """Is the rank of the rows ``S`` (plus row ``j``) at least ``r``? Modulo
    p first (``E`` holds the echelon form of ``S`` modulo p): enough when it
    says yes; else exactly over the integers."""
    got = len(E.rows)
    if j is not None and got < r and (E.outside(L.Wp[j]) if got == E.n - 1
                                      else any(E.reduce(L.Wp[j]))):
        got += 1
    if got >= r:
        return True
    rows = [L.Wint[i] for i in S + ([] if j is None else [j])]
    return bool(rows) and int_rank(rows) >= r


#: a transversal leaf with more transversals than this is refused (the
#: checker's running time stays bounded; the sign tree writes far fewer)
MAX_TRANSVERSALS = 1 << 20


def _transversal_groups(L, sigma, circuits, ks, where):
    """The groups of a transversal leaf: for each circuit, its entries
    unassigned on the path (each must have sign -1; assigned entries must
    have their sign on the path); the groups must be non-empty and disjoint."""
    groups, seen = [], set()
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(circuits):
            raise Rejected(f"{where}: bad circuit index {k!r}")
        group = []
        for i, s in circuits[k].items():
            if i in sigma:
                if sigma[i] != s:
                    raise Rejected(f"{where}: circuit {k} row {i} does not have sign {s} here")
            elif s != -1:
                raise Rejected(f"{where}: circuit {k} row {i} is unassigned and not negative")
            elif i in seen:
                raise Rejected(f"{where}: row {i} is in two groups")
            else:
                seen.add(i)
                group.append(i)
        if not group:
            raise Rejected(f"{where}: circuit {k} has no unassigned row (a gordan leaf)")
        groups.append(group)
    return groups


def _check_transversals(L, E, S, groups, where):
    """Every transversal (one row of each group) with the positive set S
    has rank n: modulo p first (the rows' coordinates against a basis of
    the complement of S modulo p, :func:`.exactlayer.transversals_independent`),
    else exactly, one transversal at a time (only when p divides a minor)."""
    n = L.n
    count = math.prod(len(g) for g in groups)
    if count > MAX_TRANSVERSALS:
        raise Rejected(f"{where}: {count} transversals (more than {MAX_TRANSVERSALS})")
    K = E.complement()
    if len(K) == len(groups):
        rows = sorted({j for g in groups for j in g})
        at = {j: t for t, j in enumerate(rows)}
        Wp = np.array([L.Wp[j] for j in rows], dtype=np.int64).reshape(len(rows), n)
        Kp = np.array(K, dtype=np.int64).reshape(len(K), n)
        C = np.zeros((len(rows), len(K)), dtype=np.int64)
        for t in range(n):                  # C = Wp Kp^T mod p, term by term (exact in int64)
            C = (C + Wp[:, t, None] * Kp[None, :, t]) % PRIME
        if transversals_independent(C, [[at[j] for j in g] for g in groups]):
            return
    for T in itertools.product(*groups):
        if int_rank([L.Wint[i] for i in S + list(T)]) < n:
            raise Rejected(f"{where}: rows {list(T)} with the positive rows do not span R^{n}")


def check_tree(L, cert, W=None, b=None, executor=None):
    """Walk a version-2, -3 or -4 certificate; returns the number of leaves.
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
    if not _rank_at_least(L, E, S, len(S)):
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
    leaves = _walk(L, version, _tokens_of(cert), circuits, E, S)
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


def _walk(L, version, tokens, circuits, E, S):
    """The preorder walk of a version-2/3 tree (see :func:`check_tree`)."""
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
            if not _rank_at_least(L, E, S, n):
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
                    v = int_vector(tok[2], n, where)
                    for i in S:
                        if L.dot_int(i, v) != 0:
                            raise Rejected(f"{where}: normal not orthogonal to the positive rows")
                    if not _rank_at_least(L, E, S, n - 1):
                        raise Rejected(f"{where}: hyperplane leaf at rank {_exact_rank(L, S)}, "
                                       f"not {n - 1}")
                for i, s in circuits[k].items():
                    if i in sigma:
                        if sigma[i] != s:
                            raise Rejected(f"{where}: circuit {k} row {i} does not have sign {s} here")
                    elif s != -1 or (L.dot_int(i, v) == 0 if version == 2 else
                                     not _rank_at_least(L, E, S, n, i)):
                        raise Rejected(f"{where}: circuit {k} row {i} is unassigned and not "
                                       f"a negative row outside the span of the positive rows")
        elif kind == "T" and version >= 4:
            if len(tok) != 2 or not isinstance(tok[1], list) or not tok[1]:
                raise Rejected(f"{where}: transversal token must be ['T', [k, ...]]")
            _check_transversals(L, E, S, _transversal_groups(L, sigma, circuits, tok[1], where),
                                where)
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
