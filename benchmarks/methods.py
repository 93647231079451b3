"""The layer methods of the benchmarks and the independent re-check of their
claims: one layer task becomes one row (:func:`run_layer_task`), the
certificate or witness checked inside the worker (:func:`verify_row`); rows
of one instance are compared afterwards (:func:`mark_agreement`). Also which
methods exist on this machine (backends, enumeration) and the brute force's
cost model."""
from __future__ import annotations

import contextlib
import functools
import json
import math
import signal
import sys
import threading
import time
import traceback

from .instances import make_layer

__all__ = ["DECIDED", "TIMING_KEYS", "NO_CERTIFICATE", "QUICK_BACKENDS", "CUSTOM_METHODS",
           "register_method", "solve_layer", "HardTimeout", "hard_limit", "base_row",
           "ORTHANT_METHODS", "check_orthant_witness", "verify_row", "mark_agreement",
           "row_key", "comparable", "available_backends", "enumeration_available",
           "bruteforce_cost", "bruteforce_ok", "run_layer_task"]


DECIDED = ("injective", "not_injective")


#: row keys that hold wall times (everything else must be identical across runs)
TIMING_KEYS = frozenset({"seconds", "milp_seconds", "check_seconds"})


#: methods that decide without an injectivity certificate (exact references)
NO_CERTIFICATE = {"bruteforce"}


QUICK_BACKENDS = ("scip", "highs", "cbc")


CUSTOM_METHODS = {}


def register_method(label, fn, *, certifies=True):
    """Add a method ``fn(W, b, time_limit) -> LayerResult`` under ``label``
    (used by the tests to inject a disagreeing method). Registrations live in
    this process: use in-process runs (``workers=1``) for custom methods."""
    CUSTOM_METHODS[label] = fn
    if not certifies:
        NO_CERTIFICATE.add(label)


def solve_layer(label, W, b, time_limit):
    from solver import check_layer
    if label in CUSTOM_METHODS:
        return CUSTOM_METHODS[label](W, b, time_limit)
    if label in ("tree", "enumerate", "bruteforce"):
        return check_layer(W, b, method=label, time_limit=time_limit)
    if label == "dss-mean":
        from .papers import dss_at_minus_mean
        return dss_at_minus_mean(W, b, time_limit)
    if label == "nonneg":
        from solver import check_layer_nonneg
        return check_layer_nonneg(W, b, time_limit=time_limit)
    if label.startswith("milp") and label.endswith("]"):
        path, backend = label[:-1].split("[", 1)
        formulation = path.split("-", 1)[1] if "-" in path else "rankdef"
        return check_layer(W, b, method="milp", backend=backend, formulation=formulation,
                           time_limit=time_limit)
    raise ValueError(f"unknown method {label!r}")


class HardTimeout(BaseException):
    """Raised by SIGALRM when a method ignores its time limit by far."""


@contextlib.contextmanager
def hard_limit(seconds):
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def handler(signum, frame):
        raise HardTimeout()
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def base_row(task):
    keys = ("suite", "family", "instance", "n", "m", "seed", "ratio", "eps", "bias", "method")
    row = {k: task.get(k) for k in keys}
    row.update({"verdict": None, "seconds": None, "agree": None, "verified": None,
                "check": None, "cells": None, "nodes": None, "lps": None, "cert_bytes": None,
                "cert_leaves": None, "milp_status": None, "milp_seconds": None,
                "message": None, "overran": False, "time_limit": task.get("time_limit")})
    row.update(task.get("row_extra") or {})
    return row


#: methods deciding injectivity on x >= 0 only: their proofs are checked as such
ORTHANT_METHODS = frozenset({"nonneg"})


def check_orthant_witness(W, b, witness):
    """A witness of non-injectivity on x >= 0: a valid witness with both points >= 0."""
    from fractions import Fraction

    from solver.certificates import check_witness
    ok, why = check_witness(W, b, witness)
    if ok and any(Fraction(v) < 0 for v in (*witness["x1"], *witness["x2"])):
        return False, "witness leaves the orthant x >= 0"
    return ok, why


def verify_row(row, W, b, res):
    """Independent re-check of the claim, inside the worker."""
    from solver.certificates import check_certificate, check_witness
    if row["method"] in ORTHANT_METHODS:
        from solver.certificates.nonneg import check_nonneg_certificate
        check_certificate, check_witness = check_nonneg_certificate, check_orthant_witness
    t = time.perf_counter()
    if row["verdict"] == "injective":
        cert = res.certificate
        if cert is None:
            if row["method"] in NO_CERTIFICATE:
                row["verified"], row["check"] = None, "exact reference, no certificate format"
            else:
                row["verified"], row["check"] = False, "injective claimed without a certificate"
        else:
            row["cert_bytes"] = len(json.dumps(cert, separators=(",", ":")).encode())
            ok, why = check_certificate(W, b, cert)
            row["verified"], row["check"] = bool(ok), why
            if ok and why.startswith("valid ("):
                row["cert_leaves"] = int(why.split("(")[1].split()[0])
    elif row["verdict"] == "not_injective":
        if res.witness is None:
            row["verified"], row["check"] = False, "not_injective claimed without a witness"
        else:
            ok, why = check_witness(W, b, res.witness.to_json())
            row["verified"], row["check"] = bool(ok), why
    row["check_seconds"] = time.perf_counter() - t


def mark_agreement(rows):
    """Set ``agree`` on every row (in place) and return the list of problems.

    A decided row agrees iff every other decided row of the same instance has
    the same verdict and its own proof verified. Unknown rows agree
    trivially; ``error`` rows and failed verifications are problems.
    """
    groups = {}
    for r in rows:
        groups.setdefault((r["suite"], r["instance"]), []).append(r)
    problems = []
    for key, grp in groups.items():
        decided = {r["verdict"] for r in grp if r["verdict"] in DECIDED}
        conflict = len(decided) > 1
        if conflict:
            problems.append({"kind": "disagreement", "suite": key[0], "instance": key[1],
                             "verdicts": {r["method"]: r["verdict"] for r in grp}})
        for r in grp:
            if r.get("agree_override") is not None:      # inversion rows
                r["agree"] = bool(r.pop("agree_override"))
            elif r["verdict"] in DECIDED:
                r["agree"] = not conflict and r["verified"] is not False
            else:
                r["agree"] = True
            if r["verified"] is False:
                problems.append({"kind": "verification failed", "suite": r["suite"],
                                 "instance": r["instance"], "method": r["method"],
                                 "verdict": r["verdict"], "reason": r["check"]})
            if r["verdict"] == "error":
                problems.append({"kind": "error", "suite": r["suite"], "instance": r["instance"],
                                 "method": r["method"], "reason": r["message"]})
    return problems


def row_key(r):
    return (r["suite"], r.get("family") or "", r["instance"], r["method"])


def comparable(rows):
    """Rows without their timings, sorted: equal for any two runs of one plan."""
    out = []
    for r in sorted(rows, key=row_key):
        out.append({k: v for k, v in r.items() if k not in TIMING_KEYS})
    return out


@functools.lru_cache(maxsize=1)
def available_backends():
    """Names of the installed MILP backends ([] while solver.backends is missing)."""
    try:
        from solver.backends import available_backends as avail
    except ImportError as exc:
        print(f"[bench] note: MILP rows skipped, solver.backends not importable ({exc})",
              file=sys.stderr)
        return []
    try:
        names = list(avail())
    except Exception as exc:  # noqa: BLE001
        print(f"[bench] note: available_backends() failed: {exc}", file=sys.stderr)
        return []
    return tuple(getattr(x, "name", x) for x in names)


def enumeration_available():
    try:
        import solver.enumeration  # noqa: F401
        return True
    except ImportError as exc:
        print(f"[bench] note: enumeration rows skipped, solver.enumeration not importable ({exc})",
              file=sys.stderr)
        return False


def bruteforce_cost(n, m):
    """Rough work of the exact brute force: C(m, n-1) exact strict systems of ~m rows."""
    return math.comb(m, max(0, n - 1)) * m


def bruteforce_ok(n, m, quick):
    return bruteforce_cost(n, m) <= (8000 if quick else 400000)


def run_layer_task(task):
    """Run one layer task (see :func:`benchmarks.runner.run_task`)."""
    row = base_row(task)
    W, b = make_layer(task["spec"])
    tl = task.get("time_limit")
    hard = None if tl is None else 3.0 * tl + 30.0
    t0 = time.perf_counter()
    try:
        with hard_limit(hard):
            res = solve_layer(task["method"], W, b, tl)
    except HardTimeout:
        row.update(verdict="unknown", seconds=time.perf_counter() - t0, overran=True,
                   message=f"hard timeout after {hard:g} s (method ignored its time limit)")
        return row
    except Exception as exc:  # a crash is reported, never hidden
        row.update(verdict="error", seconds=time.perf_counter() - t0,
                   message=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=6))
        return row
    row["seconds"] = time.perf_counter() - t0
    row["verdict"] = res.verdict.value
    row["message"] = res.message
    st = dict(res.stats or {})
    row["nodes"] = st.get("nodes")
    row["lps"] = st.get("lps")
    row["cells"] = st.get("cells")
    row["milp_status"] = st.get("milp_status")
    row["milp_seconds"] = st.get("milp_seconds")
    if st.get("positive_rows") is not None:
        row["positive_rows"] = st["positive_rows"]
    if tl is not None and row["seconds"] > 1.5 * tl + 5.0:
        row["overran"] = True
    verify_row(row, W, b, res)
    return row
