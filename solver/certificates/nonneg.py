"""Checker for ``reluinj.certificate.nonneg``: a ReLU layer injective on the
non-negative orthant (Remark 1 of Puthawala et al.).

Part of the trusted base, like :mod:`solver.certificates.checker` (whose
layer parsing, rationals and rank it uses): the standard library and NumPy
only, no solver.

Criterion (proved in :mod:`solver.network.orthant` above ``_OrthantTree``):
``x -> ReLU(W x + b)`` is injective on ``{x >= 0}`` iff the rows positive
at every generic point of the open orthant span R^n. The certificate is a
sign tree as in :mod:`solver.certificates.checker` whose Gordan leaves may
also use the orthant constraints ``x_j > 0``.
"""
from __future__ import annotations

from fractions import Fraction

from .checker import Rejected, Layer, rational, int_rank, layer_fingerprint

NONNEG_FORMAT = "reluinj.certificate.nonneg"

__all__ = ["NONNEG_FORMAT", "check_nonneg_certificate"]


def check_nonneg_certificate(W, b, cert):
    """Check a ``reluinj.certificate.nonneg`` certificate exactly: a sign tree
    as in :mod:`solver.certificates.checker` whose Gordan multipliers may also
    use the orthant constraints ``x_j > 0`` (list ``yx`` of ``[j, q]``).

    A Gordan leaf with path rows ``y`` and orthant rows ``yx`` is valid when
    ``sum y_i sigma_i w_i + sum yx_j e_j = 0``, ``sum y_i sigma_i b_i <= 0``,
    all multipliers >= 0 and one > 0: then no x > 0 satisfies the path, since
    ``sum y_i sigma_i (w_i.x + b_i) + sum yx_j x_j`` would be > 0 and <= 0.
    Returns ``(ok, reason)``.
    """
    R = Rejected
    try:
        L = Layer(W, b)
        if not isinstance(cert, dict) or cert.get("format") != NONNEG_FORMAT \
                or cert.get("version") != 1 or cert.get("claim") != "injective_on_nonneg":
            raise R(f"not a {NONNEG_FORMAT} version 1 injective_on_nonneg document")
        if cert.get("m") != L.m or cert.get("n") != L.n:
            raise R("shape mismatch")
        if cert.get("layer_sha256") != layer_fingerprint(W, b):
            raise R("layer fingerprint does not match")
        Wq, bq = L.W, L.b

        q = rational

        def gordan(node, allowed, where):
            y, yx = node.get("y", []), node.get("yx", [])
            if not isinstance(y, list) or not isinstance(yx, list) or not (y or yx):
                raise R(f"{where}: empty multipliers")
            tw = [Fraction(0)] * L.n
            tb = Fraction(0)
            pos = False
            seen = set()
            for e in y:
                i, val = e
                if isinstance(i, bool) or not isinstance(i, int) or i not in allowed or i in seen:
                    raise R(f"{where}: row {i!r} not usable here")
                seen.add(i)
                val = q(val)
                if val < 0:
                    raise R(f"{where}: negative multiplier")
                pos |= val > 0
                s = allowed[i]
                for k in range(L.n):
                    tw[k] += val * s * Wq[i][k]
                tb += val * s * bq[i]
            seenx = set()
            for e in yx:
                j, val = e
                if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < L.n or j in seenx:
                    raise R(f"{where}: bad orthant index {j!r}")
                seenx.add(j)
                val = q(val)
                if val < 0:
                    raise R(f"{where}: negative multiplier")
                pos |= val > 0
                tw[j] += val
            if not pos or any(t != 0 for t in tw) or tb > 0:
                raise R(f"{where}: Gordan combination invalid")

        def positive_independent(rows, sigma, count, where):
            if not isinstance(rows, list) or len(rows) != count or len(set(rows)) != count:
                raise R(f"{where}: need {count} distinct rows")
            for i in rows:
                if sigma.get(i) != 1:
                    raise R(f"{where}: row {i} not positive on this path")
            if count and int_rank([L.Wint[i] for i in rows]) != count:
                raise R(f"{where}: rows not independent")

        stack = [(cert.get("tree"), {}, "root")]
        leaves = 0
        while stack:
            node, sigma, where = stack.pop()
            if not isinstance(node, dict):
                raise R(f"{where}: node is not an object")
            if "branch" in node:
                i = node["branch"]
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < L.m \
                        or i in sigma or not L.nonzero[i]:
                    raise R(f"{where}: bad branch row {i!r}")
                for key, s in (("pos", 1), ("neg", -1)):
                    c = dict(sigma)
                    c[i] = s
                    stack.append((node.get(key), c, f"{where}/{key}{i}"))
                continue
            kind = node.get("leaf")
            if kind == "basis":
                positive_independent(node.get("rows"), sigma, L.n, where)
            elif kind == "gordan":
                gordan(node, sigma, where)
            elif kind == "hyperplane":
                positive_independent(node.get("rows"), sigma, L.n - 1, where)
                v = [q(s) for s in node.get("normal", [])]
                if len(v) != L.n or not any(v):
                    raise R(f"{where}: bad normal")
                for i in node["rows"]:
                    if sum(a * c for a, c in zip(Wq[i], v)) != 0:
                        raise R(f"{where}: normal not orthogonal to row {i}")
                allowed = dict(sigma)
                for j in range(L.m):
                    if j not in sigma and sum(a * c for a, c in zip(Wq[j], v)) != 0:
                        allowed[j] = -1
                gordan(node, allowed, where)
            else:
                raise R(f"{where}: unknown leaf {kind!r}")
            leaves += 1
        return True, f"valid ({leaves} leaves)"
    except Rejected as exc:
        return False, str(exc)
    except (RecursionError, MemoryError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return False, f"malformed certificate: {type(exc).__name__}: {exc}"
