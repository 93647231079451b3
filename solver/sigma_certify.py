"""A certified lower bound on σ*: every bound leaf of the search of
:mod:`solver.sigma_search` is re-proved exactly, ``W_S^T W_S - t^2 I``
positive definite for the integer rows of ``W_S`` (Sylvester's criterion on
python-flint's fraction-free LU).

References
----------
Puthawala et al., *Globally injective ReLU networks*, JMLR 2022, Theorem 4.
"""
from __future__ import annotations

import math
from fractions import Fraction

import flint
import numpy as np

from .deadline import Deadline

__all__ = ["CERT_RTOL", "pd_exact", "certify_sigma_lower"]

#: the certified bound is t = (1 - CERT_RTOL) * incumbent (then lowered if a
#: leaf's exact check needs it)
CERT_RTOL = 5e-10


def pd_exact(A) -> bool:
    """True iff the symmetric integer matrix ``A`` (``flint.fmpz_mat``) is
    positive definite, by Sylvester's criterion: python-flint's fraction-free
    LU (Bareiss) without a row exchange yields the leading principal minors
    on the diagonal of ``U``; a row exchange means some leading minor is zero.

    Examples
    --------
    >>> import flint
    >>> pd_exact(flint.fmpz_mat([[2, 1], [1, 2]])), pd_exact(flint.fmpz_mat([[1, 1], [1, 1]]))
    (True, False)
    >>> pd_exact(flint.fmpz_mat([[0, 1], [1, 0]]))
    False
    """
    n = A.nrows()
    if n == 0:
        return True
    P, _, _, U = A.fflu()
    for i in range(n):
        for j in range(n):
            if P[i, j] != (1 if i == j else 0):
                return False
    return all(U[i, i] > 0 for i in range(n))


class _IntRows:
    """``S * W`` as integers for one power of two ``S`` (exact: binary64
    entries are dyadic), for exact Gram matrices of row subsets."""

    def __init__(self, W):
        W = np.asarray(W, dtype=np.float64)
        fr = [[Fraction(float(v)) for v in row] for row in W]
        den = 1
        for row in fr:
            for f in row:
                den = max(den, f.denominator)
        self.S = den
        self.rows = [[int(f * den) for f in row] for row in fr]
        self.n = W.shape[1]

    def gram(self, rows):
        M = flint.fmpz_mat([self.rows[i] for i in rows]) if rows else flint.fmpz_mat(0, self.n)
        return M.transpose() * M if rows else flint.fmpz_mat(self.n, self.n)

    def at_least(self, rows, t: Fraction) -> bool:
        """Exact: ``σ_min(W_rows) > t`` (t >= 0 a rational), i.e.
        ``W_rows^T W_rows - t^2 I`` positive definite."""
        G = self.gram(list(rows))
        p, q = t.numerator, t.denominator
        # q^2 S^2 W^T W - p^2 S^2 I = q^2 G - p^2 S^2 I
        c = p * p * self.S * self.S
        q2 = q * q
        n = self.n
        M = flint.fmpz_mat(n, n)
        for i in range(n):
            for j in range(n):
                M[i, j] = q2 * G[i, j] - (c if i == j else 0)
        return pd_exact(M)


def certify_sigma_lower(W, leaves, sigma, *, rtol=CERT_RTOL, deadline=None, stats=None):
    """Largest ``t`` tried (``(1 - rtol) sigma``, lowered by factors of
    ``1 - 1e-6`` if needed) such that every row set in ``leaves`` has
    ``σ_min > t``, proved exactly. Returns a Fraction (dyadic), or None when
    the deadline passes first.

    Examples
    --------
    >>> import numpy as np
    >>> t = certify_sigma_lower(np.eye(2), [(0, 1)], 1.0)
    >>> 0 < 1 - float(t) < 1e-9
    True
    """
    if sigma <= 0:
        return Fraction(0)
    ir = _IntRows(W)
    t = _dyadic_below((1.0 - rtol) * sigma)
    uniq = sorted({tuple(sorted(r)) for r in leaves}, key=len)
    checked = 0
    k = 0
    while k < len(uniq):
        if Deadline(deadline).expired():
            return None
        if ir.at_least(uniq[k], t):
            k += 1
            checked += 1
            continue
        # rare: the float bound was too optimistic for this leaf; lower t
        # (a smaller t keeps every earlier check valid)
        t = _dyadic_below(float(t) * (1 - 1e-6))
        if float(t) < 1e-300:
            return Fraction(0)
    if stats is not None:
        stats["certified_leaves"] = checked
    return t


def _dyadic_below(v: float) -> Fraction:
    """A dyadic rational <= v with 52 significant bits (exactly a float)."""
    if v <= 0:
        return Fraction(0)
    m, e = math.frexp(v)
    num = math.floor(m * 2 ** 52)
    return Fraction(num) * Fraction(2) ** (e - 52)
