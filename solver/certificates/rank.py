"""Certificate ``reluinj.certificate.rank``: ``W`` has full column rank, so
a layer ``act(W x + b)`` with a strictly increasing activation (leaky ReLU,
identity, sigmoid, tanh) is injective on R^n (hence on every subset).

Part of the trusted base: the standard library and NumPy only, no solver.

Proof checked. Scale each row of ``W`` by a power of two to integers (same
rank). Reduce the integers modulo ``p`` (the certificate's ``prime``,
``2 <= p < 2^31``) and eliminate over Z/pZ with invertible pivots. If ``n``
pivots are found, the ``n x n`` minor on the pivot rows is a product of
units modulo p, so it is not divisible by p, so it is a nonzero integer:
``rank W = n`` over Q. (A rank below ``n`` modulo p proves nothing: the
builder then tries another prime.) In NumPy int64 arithmetic: every product
of two residues is below ``2^62``.

Examples
--------
>>> W = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.25]])
>>> cert = rank_certificate(W, None)
>>> cert["rank"], check_rank_certificate(W, None, cert)
(2, (True, 'valid (rank 2 modulo 2147483647)'))
>>> check_rank_certificate(np.array([[1.0, 2.0], [2.0, 4.0]]), None, cert)[0]
False
"""
from __future__ import annotations

import numpy as np

from .checker import Rejected, layer_fingerprint

RANK_FORMAT = "reluinj.certificate.rank"
#: primes the builder tries, largest first (all below 2^31)
PRIMES = (2147483647, 2147483629, 2147483587, 2147483579, 2147483563)

__all__ = ["RANK_FORMAT", "check_rank_certificate", "modular_rank", "rank_certificate"]


def _residues(W, p):
    """Rows of W scaled by powers of two to integers, reduced modulo p
    (float.as_integer_ratio is exact)."""
    out = np.empty(W.shape, dtype=np.int64)
    for i, row in enumerate(np.asarray(W, dtype=np.float64).tolist()):
        fr = [v.as_integer_ratio() for v in row]
        den = max(d for _, d in fr)
        out[i] = [(a * (den // d)) % p for a, d in fr]
    return out


def modular_rank(A, p):
    """Rank over Z/pZ of an int64 matrix with entries in ``[0, p)``, by
    Gaussian elimination with invertible pivots (``p < 2^31``)."""
    A = np.array(A, dtype=np.int64)
    m, n = A.shape
    r = 0
    for c in range(n):
        if r == m:
            break
        nz = np.flatnonzero(A[r:, c])
        if not len(nz):
            continue
        i = r + int(nz[0])
        if i != r:
            A[[r, i]] = A[[i, r]]
        A[r, c:] = (A[r, c:] * pow(int(A[r, c]), -1, p)) % p
        below = r + 1 + np.flatnonzero(A[r + 1:, c])
        if len(below):      # columns before c are zero in rows r.. already
            sub = A[below, c:]
            sub -= (sub[:, :1] * A[r, c:][None, :]) % p
            A[below, c:] = sub % p
        r += 1
    return r


def rank_certificate(W, b):
    """A ``reluinj.certificate.rank`` document for a ``W`` of full column
    rank, or None if no prime of :data:`PRIMES` shows it (W rank-deficient,
    or an unlucky W)."""
    W = np.asarray(W, dtype=np.float64)
    m, n = W.shape
    for p in PRIMES:
        if modular_rank(_residues(W, p), p) == n:
            return {"format": RANK_FORMAT, "version": 1, "claim": "injective", "m": m, "n": n,
                    "layer_sha256": layer_fingerprint(W, b), "rank": n, "prime": p,
                    "argument": "full column rank; a strictly increasing activation is "
                                "injective, so the layer is injective on R^n"}
    return None


def check_rank_certificate(W, b, cert):
    """Verify a ``reluinj.certificate.rank`` document against ``(W, b)``.

    Returns ``(True, reason)`` or ``(False, reason)``; never raises on a
    malformed document. The caller checks that the layer's activation is
    strictly increasing (the certificate is about ``W`` alone).
    """
    try:
        if not isinstance(cert, dict) or cert.get("format") != RANK_FORMAT \
                or cert.get("version") != 1 or cert.get("claim") != "injective":
            raise Rejected(f"not a {RANK_FORMAT} version 1 'injective' document")
        W = np.asarray(W, dtype=np.float64)
        m, n = W.shape
        if cert.get("m") != m or cert.get("n") != n or cert.get("rank") != n:
            raise Rejected(f"certificate is for another shape or rank (layer is {m}x{n})")
        if cert.get("layer_sha256") != layer_fingerprint(W, b):
            raise Rejected("layer fingerprint does not match (certificate made for another layer)")
        p = cert.get("prime")
        if isinstance(p, bool) or not isinstance(p, int) or not 2 <= p < 2 ** 31:
            raise Rejected(f"'prime' must be an integer in [2, 2^31), got {p!r}")
        if m < n:
            raise Rejected(f"{m} rows cannot have rank {n}")
        try:
            r = modular_rank(_residues(W, p), p)
        except ValueError:      # a pivot without inverse: p is not prime
            raise Rejected(f"{p} is not a prime (a pivot has no inverse)") from None
        if r != n:
            raise Rejected(f"rank modulo {p} is {r} < {n}")
        return True, f"valid (rank {n} modulo {p})"
    except Rejected as exc:
        return False, str(exc)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        return False, f"malformed certificate: {type(exc).__name__}: {exc}"
