"""Benchmark harness: suites, a parallel runner, ``results.json`` and plots.

Every solve is one *task* (a small dict: how to regenerate the layer, which
method, the time limit) run by :func:`run_task`, a pure function that
returns one *row*. Tasks run in parallel on local processes
(``concurrent.futures.ProcessPoolExecutor``), on a Dask cluster, or in
process; the rows do not depend on which (they are sorted, and layers are
regenerated from seeded generators in the worker).

Inside the worker every claim is re-checked independently:

* ``injective``: the certificate by :func:`solver.certificates.check_certificate`
  (exact rational arithmetic); a missing or rejected certificate makes the
  row ``verified: false``. Only ``bruteforce`` (the exact reference, which
  has no certificate format) is exempt.
* ``not_injective``: the witness by :func:`solver.certificates.check_witness`.

After the run, rows of the same instance are compared: ``agree`` is false
when a row's verdict differs from any other decided verdict on the instance
(``unknown`` never counts). Disagreements, failed verifications and
crashes are reported loudly and :func:`run_benchmark` returns exit code 1.

Sizes grow on *ladders*: one ladder per (suite, family, ratio, method) with
one rung per n; the next rung is submitted only if the method decided
something on the current one, so the full suites run until every method has
hit its time limit. A ladder may also build its next rung from the rows of
the last one (:meth:`Ladder.next_rung`; the adaptive sampling of the phase
study, :mod:`benchmarks.phase`).

With an output directory every row is appended to ``DIR/rows.jsonl`` as it
finishes (:class:`RowStream`); ``--resume`` continues a killed run from that
file, solving only what is missing (one mechanism for every suite).

Suites: ``layers``, ``inversion`` (when :mod:`solver.inversion` exists) and
``papers`` (:mod:`benchmarks.papers`).
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import json
import math
import os
import pathlib
import signal
import statistics
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

SUITES = ("layers", "inversion", "papers")
DECIDED = ("injective", "not_injective")
#: row keys that hold wall times (everything else must be identical across runs)
TIMING_KEYS = frozenset({"seconds", "milp_seconds", "check_seconds"})
#: methods that decide without an injectivity certificate (exact references)
NO_CERTIFICATE = {"bruteforce"}
QUICK_BACKENDS = ("scip", "highs", "cbc")

_FAMILY_CODE = {"gauss": 1, "gaussbias": 2, "construct": 3, "shifted": 4, "tilt": 5,
                "int": 6, "intbias": 7, "phase": 8, "phasebias": 9, "phasenonneg": 10}
FAMILIES = tuple(f for f in _FAMILY_CODE if not f.startswith("phase"))


# ================================================================ instances

def _construct(rng, n, m, bias):
    """[B; -D B; M] with D a positive diagonal of powers of two (D B is exact
    in binary64, so the antiparallel rows are exactly antiparallel:
    injective by Corollary 2), rows shuffled. With ``bias`` the pairs get
    biases [beta; -D beta] (an exact shift) and the extra rows random ones."""
    B = rng.standard_normal((n, n))
    D = 2.0 ** rng.integers(-3, 4, n)
    W = np.vstack([B, -D[:, None] * B, rng.standard_normal((m - 2 * n, n))])
    b = np.zeros(m)
    if bias:
        beta = rng.standard_normal(n)
        b = np.concatenate([beta, -D * beta, rng.standard_normal(m - 2 * n)])
    perm = rng.permutation(m)
    return W[perm], b[perm], perm


def _integer(rng, n, m, bias):
    """Small-integer degenerate layer: entries in {-2..2}, with duplicated,
    doubled and negated rows (exactly parallel / antiparallel) and a zero row."""
    k = max(n, m // 2)
    rows = [r for r in rng.integers(-2, 3, (k, n)).astype(float)]
    zero_used = False
    while len(rows) < m:
        op = int(rng.integers(0, 4))
        r = rows[int(rng.integers(0, len(rows)))]
        if op == 0:
            rows.append(r.copy())
        elif op == 1:
            rows.append(2.0 * r)
        elif op == 2:
            rows.append(-r)
        elif not zero_used:
            rows.append(np.zeros(n))
            zero_used = True
    W = np.array(rows[:m])
    b = rng.integers(-1, 2, m).astype(float) if bias else np.zeros(m)
    perm = rng.permutation(m)
    return W[perm], b[perm]


def make_layer(spec):
    """Regenerate ``(W, b)`` from a spec ``{"family", "n", "m", "seed", "eps"?}``.

    Families: ``gauss`` (b = 0), ``gaussbias``, ``construct`` ([B; -DB] +
    extra rows, injective), ``shifted`` (the same with exact biases),
    ``tilt`` (a construct with one antiparallel row moved by ``eps``
    relative: a thin bad cell), ``int`` / ``intbias`` (small-integer
    degenerate layers), ``phase`` (Gaussian, b = 0, a separate stream for
    the phase-transition study), ``phasenonneg`` (the same ``W`` as
    ``phase``, to be decided on x >= 0) and ``phasebias`` (the same ``W`` as
    ``phase`` with ``b = s z``, ``z ~ N(0, I)`` from its own stream, ``s =
    spec["s"]``): the phase curves are paired on one set of matrices.
    """
    fam, n, m, seed = spec["family"], int(spec["n"]), int(spec["m"]), int(spec["seed"])
    rng = np.random.default_rng([_FAMILY_CODE[fam], n, m, seed])
    if fam in ("phasebias", "phasenonneg"):
        W, _ = make_layer({"family": "phase", "n": n, "m": m, "seed": seed})
        if fam == "phasenonneg":
            return W, np.zeros(m)
        return W, float(spec["s"]) * rng.standard_normal(m)
    if fam in ("gauss", "phase"):
        return rng.standard_normal((m, n)), np.zeros(m)
    if fam == "gaussbias":
        return rng.standard_normal((m, n)), rng.standard_normal(m)
    if fam in ("construct", "shifted"):
        W, b, _ = _construct(rng, n, m, fam == "shifted")
        return W, b
    if fam == "tilt":
        base = np.random.default_rng([_FAMILY_CODE["construct"], n, m, seed])
        W, b, perm = _construct(base, n, m, False)
        k = int(rng.integers(0, n))
        j = int(np.nonzero(perm == n + k)[0][0])     # the row -d_k B_k
        u = rng.standard_normal(n)
        W[j] = W[j] + float(spec["eps"]) * np.linalg.norm(W[j]) * u / np.linalg.norm(u)
        return W, b
    if fam in ("int", "intbias"):
        return _integer(rng, n, m, fam == "intbias")
    raise ValueError(f"unknown family {fam!r}")


def instance_name(spec):
    s = f"{spec['family']}_n{spec['n']}_m{spec['m']}_s{spec['seed']}"
    if spec.get("eps"):
        s += f"_eps{spec['eps']:g}"
    if spec.get("s") is not None:
        s += f"_bias{spec['s']:g}"
    return s


# ================================================================ methods

_CUSTOM = {}


def register_method(label, fn, *, certifies=True):
    """Add a method ``fn(W, b, time_limit) -> LayerResult`` under ``label``
    (used by the tests to inject a disagreeing method). Registrations live in
    this process: use in-process runs (``workers=1``) for custom methods."""
    _CUSTOM[label] = fn
    if not certifies:
        NO_CERTIFICATE.add(label)


def _solve(label, W, b, time_limit):
    from solver import check_layer
    if label in _CUSTOM:
        return _CUSTOM[label](W, b, time_limit)
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


class _HardTimeout(BaseException):
    """Raised by SIGALRM when a method ignores its time limit by far."""


@contextlib.contextmanager
def _hard_limit(seconds):
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def handler(signum, frame):
        raise _HardTimeout()
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _base_row(task):
    keys = ("suite", "family", "instance", "n", "m", "seed", "ratio", "eps", "bias", "method")
    row = {k: task.get(k) for k in keys}
    row.update({"verdict": None, "seconds": None, "agree": None, "verified": None,
                "check": None, "cells": None, "nodes": None, "lps": None, "cert_bytes": None,
                "cert_leaves": None, "milp_status": None, "milp_seconds": None,
                "message": None, "overran": False, "time_limit": task.get("time_limit")})
    row.update(task.get("row_extra") or {})
    return row


def run_task(task):
    """Run one task and return its row (never raises for a solver failure:
    a crash becomes ``verdict: "error"``)."""
    if task.get("kind") == "inversion":
        return run_inversion_task(task)
    row = _base_row(task)
    W, b = make_layer(task["spec"])
    tl = task.get("time_limit")
    hard = None if tl is None else 3.0 * tl + 30.0
    t0 = time.perf_counter()
    try:
        with _hard_limit(hard):
            res = _solve(task["method"], W, b, tl)
    except _HardTimeout:
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
    _verify(row, W, b, res)
    return row


#: methods deciding injectivity on x >= 0 only: their proofs are checked as such
ORTHANT_METHODS = frozenset({"nonneg"})


def _check_orthant_witness(W, b, witness):
    """A witness of non-injectivity on x >= 0: a valid witness with both points >= 0."""
    from fractions import Fraction

    from solver.certificates import check_witness
    ok, why = check_witness(W, b, witness)
    if ok and any(Fraction(v) < 0 for v in (*witness["x1"], *witness["x2"])):
        return False, "witness leaves the orthant x >= 0"
    return ok, why


def _verify(row, W, b, res):
    """Independent re-check of the claim, inside the worker."""
    from solver.certificates import check_certificate, check_witness
    if row["method"] in ORTHANT_METHODS:
        from solver.certificates.nonneg import check_nonneg_certificate
        check_certificate, check_witness = check_nonneg_certificate, _check_orthant_witness
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


# ================================================================ agreement

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


# ================================================================ scheduling

@dataclass
class Ladder:
    """Rungs of tasks; rung k+1 is submitted only if ``keep_going`` holds on rung k."""
    key: tuple
    rungs: list
    rule: str = "any"          # "any": something decided on the rung; "all": always

    def next_rung(self, ri, rows):
        """The tasks of rung ``ri + 1`` once rung ``ri`` has given ``rows``
        (None: the ladder ends). Subclasses may build rungs from the results
        (adaptive sampling, :class:`benchmarks.phase.AdaptiveLadder`)."""
        if ri + 1 < len(self.rungs) and self.keep_going(rows):
            return self.rungs[ri + 1]
        return None

    def keep_going(self, rows):
        if self.rule == "all":
            return True
        return any(r["verdict"] in DECIDED for r in rows)


class _Deferred:
    """A task of :class:`SerialExecutor`: it runs when its result is asked for."""

    def __init__(self, fn, arg):
        self._fn, self._arg, self._done, self._value, self._exc = fn, arg, False, None, None

    def result(self):
        if not self._done:
            try:
                self._value = self._fn(self._arg)
            except BaseException as exc:  # noqa: BLE001 (mirrors a worker)
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self._exc = exc
            self._done = True
        if self._exc is not None:
            raise self._exc
        return self._value


class SerialExecutor:
    """In process, one task at a time, in submission order. Tasks run when
    :meth:`wait` hands them out (not when submitted), so each row is
    finished, streamed and counted before the next solve starts."""
    name = "serial"

    def submit(self, fn, arg):
        return _Deferred(fn, arg)

    def wait(self, fs):
        f = next(iter(fs))
        try:
            f.result()
        except Exception:  # noqa: BLE001 (re-raised by the caller's result())
            pass
        return {f}

    def close(self):
        pass


class LocalExecutor:
    """A process pool on the local cores (forkserver: workers start clean)."""

    def __init__(self, workers):
        import multiprocessing as mp
        self.name = f"processes[{workers}]"
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("forkserver" if "forkserver" in methods else methods[0])
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["numpy", "scipy.optimize", "solver",
                                        "benchmarks.harness"])
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def submit(self, fn, arg):
        return self.pool.submit(fn, arg)

    def wait(self, fs):
        return cf.wait(fs, return_when=cf.FIRST_COMPLETED).done

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a dask.distributed cluster (address, ``"local"``, or a Client)."""

    def __init__(self, address=None, client=None, workers=None):
        try:
            import distributed
        except ImportError as exc:  # optional extra
            raise RuntimeError("--dask needs dask.distributed: pip install 'reluinj[dask]'") from exc
        self._distributed = distributed
        self._own = client is None
        self._cluster = None
        if client is None:
            if address in (None, "", "local"):
                self._cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                                         threads_per_worker=1,
                                                         processes=True)
                client = distributed.Client(self._cluster)
            else:
                client = distributed.Client(address)
        self.client = client
        self.name = f"dask[{getattr(client, 'scheduler', None) and client.scheduler.address}]"

    def submit(self, fn, arg):
        return self.client.submit(fn, arg, pure=False)

    def wait(self, fs):
        return set(self._distributed.wait(fs, return_when="FIRST_COMPLETED").done)

    def close(self):
        if self._own:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()


def make_executor(workers=None, dask=None, client=None):
    if client is not None or dask:
        return DaskExecutor(dask, client, workers=workers)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers <= 1:
        return SerialExecutor()
    return LocalExecutor(workers)


def _error_row(task, exc):
    row = _base_row(task)
    row.update(verdict="error", seconds=0.0, message=f"worker failed: {type(exc).__name__}: {exc}")
    return row


# ================================================================ streaming / resume

ROWS_FILE = "rows.jsonl"


def load_rows(path):
    """The rows of a ``rows.jsonl`` file (one JSON object a line). A torn last
    line (a run killed while writing it) is dropped; a bad line elsewhere
    raises ValueError."""
    lines = pathlib.Path(path).read_text().split("\n")
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == last:
                break
            raise ValueError(f"{path}: line {i + 1} is not a JSON row") from None
    return rows


class RowStream:
    """Every finished row appended to ``path`` (``DIR/rows.jsonl``) at once,
    flushed and fsynced: a killed run loses only the solves in progress.

    With ``resume`` the rows already in the file are kept and
    :meth:`stored` returns them by task, so :func:`run_ladders` does not
    solve them again (rows with ``verdict: "error"`` are dropped and rerun).
    Without it an existing file is moved to ``rows.jsonl.prev``.
    """

    def __init__(self, path, resume=False):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        old = []
        if self.path.exists():
            if resume:
                old = [r for r in load_rows(self.path) if r.get("verdict") != "error"]
            else:
                self.path.replace(self.path.with_name(self.path.name + ".prev"))
        self.done = {row_key(r): r for r in old}
        self.used = set()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:       # rewritten: drops a torn line and the error rows
            for r in self.done.values():
                fh.write(json.dumps(r, default=_json_default) + "\n")
        os.replace(tmp, self.path)
        self._fh = open(self.path, "a")

    def stored(self, task):
        """The row stored for ``task`` (None if it must be solved)."""
        row = self.done.get(row_key(task))
        if row is not None:
            self.used.add(row_key(task))
        return row

    def unused(self):
        """Stored rows that no task of this run asked for (kept in the results)."""
        return [r for k, r in self.done.items() if k not in self.used]

    def write(self, row):
        self._fh.write(json.dumps(row, default=_json_default) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self):
        self._fh.close()


def run_ladders(ladders, executor, progress=True, budget=None, status=None, stream=None):
    """Run every ladder to its end on ``executor``; returns the rows.

    ``budget`` (wall seconds, or None): after it, no further rung is
    submitted; rungs already running finish (each solve is bounded by its
    own time limit), so every row that is returned is complete. A
    KeyboardInterrupt stops waiting and returns the rows finished so far.
    ``status`` (a dict, optional) receives ``stopped_by``: None, ``"budget"``
    or ``"interrupt"``, and ``reused`` (rows taken from ``stream``).
    ``stream`` (a :class:`RowStream`, optional) receives every new row as it
    finishes and supplies the rows of a resumed run."""
    from collections import deque

    from tqdm import tqdm
    status = {} if status is None else status
    status["stopped_by"] = None
    status["reused"] = 0
    deadline = None if budget is None else time.monotonic() + float(budget)
    rows = []
    pending = {}
    ready = deque()             # (li, ri, row) of stored rows (resume)
    rung_rows = {}
    total = sum(len(ld.rungs[0]) for ld in ladders if ld.rungs)
    bar = tqdm(total=total, disable=not progress, unit="solve", dynamic_ncols=True,
               file=sys.stderr, desc="bench")

    def submit(li, ri):
        rung_rows[(li, ri)] = []
        for task in ladders[li].rungs[ri]:
            old = stream.stored(task) if stream is not None else None
            if old is not None:
                ready.append((li, ri, old))
            else:
                pending[executor.submit(run_task, task)] = (li, ri, task)

    def finish(li, ri, row):
        rows.append(row)
        rung_rows[(li, ri)].append(row)
        bar.update(1)
        bar.set_postfix_str(f"{row['method']} {row['instance']}"[:40], refresh=False)
        ld = ladders[li]
        if len(rung_rows[(li, ri)]) != len(ld.rungs[ri]):
            return
        nxt = ld.next_rung(ri, rung_rows[(li, ri)])
        if not nxt:
            return
        if deadline is not None and time.monotonic() > deadline:
            status["stopped_by"] = "budget"
            return
        if ri + 1 == len(ld.rungs):
            ld.rungs.append(nxt)
        bar.total += len(nxt)
        bar.refresh()
        submit(li, ri + 1)

    try:
        for li, ld in enumerate(ladders):
            if ld.rungs:
                submit(li, 0)
        while pending or ready:
            while ready:
                status["reused"] += 1
                finish(*ready.popleft())
            if not pending:
                continue
            for f in executor.wait(list(pending)):
                li, ri, task = pending.pop(f)
                try:
                    row = f.result()
                except BaseException as exc:  # noqa: BLE001 (worker died)
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    row = _error_row(task, exc)
                if stream is not None:
                    stream.write(row)
                finish(li, ri, row)
    except KeyboardInterrupt:
        status["stopped_by"] = "interrupt"
        print(f"[bench] interrupted: keeping the {len(rows)} finished solves", file=sys.stderr)
    finally:
        bar.close()
    return rows


# ================================================================ suites

@dataclass
class Config:
    quick: bool = False
    time_limit: float | None = None
    seeds: int | None = None
    max_n: int | None = None
    backends: list | None = None       # None: available ones
    methods: list | None = None        # restrict methods (labels or prefixes)
    families: list | None = None
    ratios: list | None = None         # restrict the layers suite to these m/n
    extra: dict = field(default_factory=dict)

    def tl(self):
        return self.time_limit if self.time_limit is not None else (20.0 if self.quick else 60.0)


N_FULL = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 24, 28, 32, 40, 48, 64)

# (family, ratio c = m/n, eps, sizes)
QUICK_LAYERS = (
    ("gauss", 2, None, (2, 3, 4)), ("gauss", 4, None, (2, 3, 4)), ("gauss", 6, None, (2, 3, 4)),
    ("gaussbias", 4, None, (2, 3)),
    ("construct", 2, None, (2, 3, 4)), ("construct", 4, None, (2, 3)),
    ("shifted", 3, None, (2, 3)),
    ("tilt", 2, 1e-3, (2, 3, 4)),
    ("int", 4, None, (2, 3)), ("intbias", 4, None, (2, 3)),
)
FULL_LAYERS = (
    [("gauss", c, None, N_FULL) for c in (2, 2.5, 3, 4, 6, 8)]
    + [("gaussbias", c, None, N_FULL) for c in (2, 4, 6, 8)]
    + [("construct", c, None, N_FULL) for c in (2, 3, 4, 8)]
    + [("shifted", c, None, N_FULL) for c in (2, 4)]
    + [("tilt", 2, 1e-3, N_FULL), ("tilt", 2, 1e-4, N_FULL), ("tilt", 3, 1e-3, N_FULL)]
    + [("int", c, None, N_FULL) for c in (3, 4, 6)]
    + [("intbias", c, None, N_FULL) for c in (3, 6)]
)


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


def layer_methods(cfg, backends=None, enumeration=None):
    """Method labels for the layers suite."""
    if backends is None:
        backends = list(available_backends()) if cfg.backends is None else list(cfg.backends)
    if cfg.quick and cfg.backends is None:
        pref = [b for b in QUICK_BACKENDS if b in backends]
        backends = pref or backends[:3]
    methods = ["tree"] + [f"milp[{b}]" for b in backends]
    if not cfg.quick and "highs" in backends:
        methods.append("milp-fewactive[highs]")
    if enumeration is None:
        enumeration = enumeration_available()
    if enumeration:
        methods.append("enumerate")
    methods.append("bruteforce")
    if cfg.methods:
        methods = [m for m in methods if any(m == s or m.startswith(s) for s in cfg.methods)]
    return methods


def _bruteforce_cost(n, m):
    """Rough work of the exact brute force: C(m, n-1) exact strict systems of ~m rows."""
    return math.comb(m, max(0, n - 1)) * m


def _bruteforce_ok(n, m, quick):
    return _bruteforce_cost(n, m) <= (8000 if quick else 400000)


def layer_ladders(cfg, methods):
    table = QUICK_LAYERS if cfg.quick else FULL_LAYERS
    seeds = cfg.seeds or (2 if cfg.quick else 5)
    tl = cfg.tl()
    ladders = []
    for fam, c, eps, sizes in table:
        if cfg.families and fam not in cfg.families:
            continue
        if cfg.ratios and not any(abs(c - r) < 1e-9 for r in cfg.ratios):
            continue
        sizes = [n for n in sizes if cfg.max_n is None or n <= cfg.max_n]
        for meth in methods:
            rungs, seen = [], set()
            for n in sizes:
                m = int(round(c * n))
                if meth == "bruteforce" and not _bruteforce_ok(n, m, cfg.quick):
                    break
                if (n, m) in seen:
                    continue
                seen.add((n, m))
                rung = []
                for s in range(seeds):
                    spec = {"family": fam, "n": n, "m": m, "seed": s, "eps": eps}
                    rung.append({"kind": "layer", "suite": "layers", "family": fam,
                                 "instance": instance_name(spec), "n": n, "m": m, "seed": s,
                                 "ratio": c, "eps": eps,
                                 "bias": fam in ("gaussbias", "shifted", "intbias"),
                                 "method": meth, "time_limit": tl, "spec": spec})
                rungs.append(rung)
            if rungs:
                ladders.append(Ladder(("layers", fam, c, eps, meth), rungs))
    return ladders


def phase_settings(cfg):
    """Settings of the phase study (:func:`benchmarks.phase.settings`)."""
    from .phase import settings
    return settings(cfg)


def phase_ladders(cfg):
    """The exact phase transition: adaptive ladders, one per (curve, n)
    (:class:`benchmarks.phase.AdaptiveLadder`)."""
    from .phase import ladders
    return ladders(cfg)


SHARED = pathlib.Path(os.environ.get("RELUINJ_SHARED",
                                    pathlib.Path(__file__).resolve().parents[2] / "shared"))
DECODER = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"
#: the canonical MNIST VAE decoder, 20 -> 400 -> 784, sigmoid head (issue 15)
VAE400 = SHARED / "models" / "mnist_vae_decoder_20_400_784.npz"
#: the DCGAN generator fixture 64 -> 256x3x3 -> 128x6x6 -> 64x13x13 -> 1x28x28, tanh
DCGAN = pathlib.Path(__file__).resolve().parents[1] / "examples" / "dcgan_generator.onnx"
#: generators of issue 15: time limit 60 s, absolute noise N(0, 0.05^2) in the output space
#: (``vae400id``: the same decoder with its sigmoid head replaced by the identity, the form
#: today's code at 41e5efc accepted, for the ratio against it)
ISSUE15_GENERATORS = {"vae400": (20, (400, 784)), "vae400id": (20, (400, 784)),
                      "dcgan": (64, (2304, 4608, 10816, 784))}
#: the path before issue 15, kept callable: ``invert(peel=False)``
NOPEEL = "mip-nopeel"

# (latent n0, hidden+output widths): random generators, ReLU everywhere
QUICK_GENERATORS = ((2, (8, 16)), (3, (10, 20)), (5, (20, 50)))
FULL_GENERATORS = ((2, (10, 20)), (3, (12, 30)), (4, (12, 24)), (5, (20, 50)),
                   (10, (40, 100)), (20, (60, 200)), (3, (8, 16, 32)), (5, (20, 40, 80)),
                   (10, (30, 60, 120)))


def make_generator(spec):
    """A :class:`solver.network.Network` from ``{"gen": "rand", "n0", "widths", "seed"}``
    (weights N(0, 1/fan_in), biases N(0, 0.1^2), ReLU) or ``{"gen": "mnist"}``
    (the shared MNIST VAE decoder 20 -> 60 -> 784)."""
    from solver.network import make_network
    from solver.network_io import load_network
    if spec["gen"] == "mnist":
        return load_network(DECODER)
    if spec["gen"] == "vae400":
        return load_network(VAE400)
    if spec["gen"] == "vae400id":
        from solver.inversion.problem import pre_activation_network
        return pre_activation_network(load_network(VAE400))
    if spec["gen"] == "dcgan":
        return load_network(DCGAN)
    rng = np.random.default_rng([11, spec["n0"], *spec["widths"], spec["seed"]])
    dims = [spec["n0"], *spec["widths"]]
    Ws = [rng.standard_normal((b, a)) / math.sqrt(a) for a, b in zip(dims[:-1], dims[1:])]
    bs = [0.1 * rng.standard_normal(b) for b in dims[1:]]
    return make_network(Ws, bs)


def make_target(net, spec):
    """``x = G(z0)`` with ``z0 ~ N(0, I)`` clipped to [-4, 4] (inside the default
    box [-5, 5]), or (``target == "noise"``) that plus 5 % noise. Returns (x, z0)."""
    rng = np.random.default_rng([12, spec["tseed"], net.n_in, net.n_out])
    z0 = np.clip(rng.standard_normal(net.n_in), -4, 4)
    x = net.forward(z0)
    if spec["target"] == "noise":
        # issue 15's generators: N(0, 0.05^2) in the output space; else 5 % of the range
        scale = 1.0 if spec["gen"] in ISSUE15_GENERATORS else max(1e-3, float(np.max(np.abs(x))))
        x = x + 0.05 * scale * rng.standard_normal(len(x))
    return x, z0


def _inversion_methods(cfg, n0, widths, gen):
    try:
        from solver.backends import DEFAULT_BACKEND
    except ImportError:
        DEFAULT_BACKEND = None
    avail = list(available_backends())
    if cfg.backends is not None:
        mips = [b for b in cfg.backends if b in avail]
    elif cfg.quick:
        mips = [DEFAULT_BACKEND] if DEFAULT_BACKEND in avail else avail[:1]
    else:
        mips = [b for b in QUICK_BACKENDS if b in avail] or avail[:1]
    meths = [f"mip[{b}]" for b in mips]
    # today's whole-network MIP (invert(peel=False)) on the default backend, for the ratio;
    # it cannot read a sigmoid/tanh head or sparse layers (today's loader refused them)
    if gen not in ("vae400", "dcgan"):
        meths.append(f"{NOPEEL}[{mips[0]}]" if mips else NOPEEL)
    if gen == "rand" and (n0 == 2 or (not cfg.quick and n0 == 3 and sum(widths) <= 42)):
        meths.append("enumeration")
    if gen != "dcgan":
        meths.append("gradient-descent")
    if gen not in ("vae400", "dcgan"):
        meths.append("layerwise-lp")
    if cfg.methods:
        meths = [m for m in meths if any(m == t or m.startswith(t) for t in cfg.methods)]
    return meths


def inversion_ladders(cfg):
    """Inversion suite: the MIP (per backend) against region enumeration
    (small generators), gradient descent and layer-wise LP, on random
    generators and the MNIST decoder; targets in the range and off it.
    Needs :mod:`solver.inversion` (skipped with a note if missing)."""
    try:
        import solver.inversion  # noqa: F401
        import solver.inversion.baselines  # noqa: F401
    except ImportError as exc:
        print(f"[bench] note: inversion suite skipped, solver.inversion not importable ({exc})",
              file=sys.stderr)
        return []
    tl = cfg.tl()
    seeds = cfg.seeds or (2 if cfg.quick else 5)
    gens = [("rand", n0, w) for n0, w in (QUICK_GENERATORS if cfg.quick else FULL_GENERATORS)
            if cfg.max_n is None or n0 <= cfg.max_n]
    if DECODER.exists():
        gens.append(("mnist", 20, (60, 784)))
    for g, (n0, w) in ISSUE15_GENERATORS.items():
        if (VAE400 if g.startswith("vae") else DCGAN).exists() and \
                (cfg.max_n is None or n0 <= cfg.max_n):
            gens.append((g, n0, w))
    if cfg.families:
        gens = [g for g in gens if g[0] in cfg.families]
    ladders = []
    for gen, n0, widths in gens:
        rung = []
        big = gen in ("mnist",) + tuple(ISSUE15_GENERATORS)
        # issue 15's targets are stated for --time-limit 60
        tl_g = max(tl, 60.0) if gen in ISSUE15_GENERATORS and cfg.time_limit is None else tl
        for s in range(1 if big and cfg.quick else seeds):
            for target in ("range", "noise"):
                spec = {"gen": gen, "n0": n0, "widths": list(widths), "seed": 0, "tseed": s,
                        "target": target}
                name = (f"{gen}_{'-'.join(map(str, (n0, *widths)))}_{target}_t{s}")
                for meth in _inversion_methods(cfg, n0, widths, gen):
                    rung.append({"kind": "inversion", "suite": "inversion", "family": gen,
                                 "instance": name, "n": n0, "m": widths[-1], "seed": s,
                                 "ratio": None, "eps": None, "bias": True, "method": meth,
                                 "target": target, "depth": len(widths),
                                 "time_limit": tl_g, "spec": spec})
        ladders.append(Ladder(("inversion", gen, n0, tuple(widths)), [rung], rule="all"))
    return ladders


def _invert(method, net, x, time_limit, seed):
    from solver.inversion import baselines as B
    from solver.inversion.api import invert
    if method.startswith("mip["):
        return invert(net, x, backend=method[4:-1], time_limit=time_limit, seed=seed)
    if method.startswith(NOPEEL):
        be = method[len(NOPEEL) + 1:-1] or None
        return invert(net, x, backend=be, time_limit=time_limit, seed=seed, peel=False)
    if method == "enumeration":
        return B.invert_by_enumeration(net, x, time_limit=time_limit, max_regions=50000)
    if method == "gradient-descent":
        return B.gradient_descent(net, x, seed=seed)
    if method == "layerwise-lp":
        return B.layerwise_lp(net, x)
    raise ValueError(f"unknown inversion method {method!r}")


def run_inversion_task(task):
    """One inversion; the residual is recomputed here by a forward pass, an
    ``exact`` claim is checked against the tolerance and a non-injectivity
    witness in rational arithmetic."""
    row = _base_row(task)
    row.update(target=task["target"], depth=task["depth"])
    spec = task["spec"]
    net = make_generator(spec)
    x, z0 = make_target(net, spec)
    tl = task.get("time_limit")
    hard = None if tl is None else 3.0 * tl + 30.0
    t0 = time.perf_counter()
    try:
        with _hard_limit(hard):
            res = _invert(task["method"], net, x, tl, spec["tseed"])
    except _HardTimeout:
        row.update(verdict="unknown", seconds=time.perf_counter() - t0, overran=True,
                   message=f"hard timeout after {hard:g} s")
        return row
    except Exception as exc:  # noqa: BLE001
        row.update(verdict="error", seconds=time.perf_counter() - t0,
                   message=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=6))
        return row
    row["seconds"] = time.perf_counter() - t0
    xn = float(np.max(np.abs(x)))
    tol_abs = 1e-6 * max(1.0, xn)
    peel = getattr(res, "peel", None) or {}
    space = getattr(res, "space", "output")
    row.update(verdict=res.status, optimal=bool(res.optimal), unique=res.unique,
               message=res.message, target_norm=xn, tol_abs=tol_abs,
               z0_residual=float(np.max(np.abs(net.forward(z0) - x))),
               bound=None if res.bound is None or not math.isfinite(res.bound)
               or space != "output" else float(res.bound),
               regions=(res.stats or {}).get("regions"), space=space,
               peeled_layers=peel.get("peeled_layers"), units_fixed=peel.get("units_fixed"),
               peel_stopped=peel.get("reason") if peel.get("stopped_at") is not None else None,
               binaries_left=getattr(res, "binaries", None),
               uniqueness_method=getattr(res, "uniqueness_method", None),
               witness=False)
    ok, why = True, "no claim"
    if res.z is not None:
        z = np.asarray(res.z)
        r = net.forward(z) - x
        row["residual"] = float(np.max(np.abs(r)))
        row["objective"] = float(np.max(np.abs(r))) if res.norm == "linf" else float(np.abs(r).sum())
        row["relative_residual"] = row["residual"] / max(xn, 1e-300)
        if res.status == "exact" and space == "pre-activation":
            # a sigmoid/tanh head: the exact problem is the last layer's
            # pre-activations against act^-1(x); recomputed here layer by layer
            h = z
            for L in net.layers[:-1]:
                h = L.activation.forward(L.W @ h + L.b)
            L = net.layers[-1]
            ystar = L.activation.inverse(x)
            pre = float(np.max(np.abs(L.W @ h + L.b - ystar)))
            tol_pre = 1e-6 * max(1.0, float(np.max(np.abs(ystar))))
            row["pre_activation_residual"] = pre
            ok = pre <= tol_pre * (1 + 1e-9)
            why = "pre-activation residual within tolerance" if ok else \
                f"'exact' but pre-activation residual {pre:.3g} > {tol_pre:.3g}"
        elif res.status == "exact":
            ok = row["residual"] <= tol_abs * (1 + 1e-9)
            why = "residual within tolerance" if ok else \
                f"'exact' but residual {row['residual']:.3g} > {tol_abs:.3g}"
    else:
        row["residual"] = row["objective"] = row["relative_residual"] = None
        if res.status in ("exact", "nearest"):
            ok, why = False, f"{res.status} without a point"
    if ok and res.witness is not None:
        ok, why = net.check_witness(res.witness.x1, res.witness.x2)
        row["witness"] = True
    row["verified"], row["check"] = bool(ok), why
    return row


def mark_inversion_agreement(rows):
    """Cross-check inversion rows (in place): a claim of optimality must not
    be beaten by another method's point (nor, for in-range targets, by the
    planted z0) beyond tolerance. Returns the problems."""
    problems = []
    groups = {}
    for r in rows:
        if r["suite"] == "inversion":
            groups.setdefault(r["instance"], []).append(r)
    for inst, grp in groups.items():
        found = [r["objective"] for r in grp if r.get("objective") is not None]
        best = min(found) if found else math.inf
        if grp[0].get("target") == "range":
            best = min(best, grp[0].get("z0_residual") or 0.0)
        contradicted = []
        for r in grp:
            if r.get("optimal") and r.get("objective") is not None:
                # optimality is claimed to the MIP's relative gap (solver.inversion.MIP_GAP)
                slack = 10 * r["tol_abs"] * (1 if r["objective"] == r["residual"] else
                                             max(1, r["m"])) + 1.01e-4 * r["objective"]
                if r["objective"] > best + slack:
                    contradicted.append(r)
        bad_methods = {r["method"] for r in contradicted}
        for r in grp:
            beats = bool(contradicted) and r.get("objective") is not None and \
                r["objective"] <= best + 1e-12 and r["method"] not in bad_methods
            r["agree_override"] = not (r["method"] in bad_methods or beats)
        if contradicted:
            problems.append({"kind": "disagreement", "suite": "inversion", "instance": inst,
                             "reason": "optimality claimed but a better point exists",
                             "claims": {r["method"]: r["objective"] for r in contradicted},
                             "best": best})
    return problems


def inversion_ratios(rows):
    """Per generator and target kind: median seconds of the peeled inversion
    (``mip[b]``) and of today's whole-network MIP (``mip-nopeel[b]``) on the
    same instances of this run, and the median per-instance ratio
    ``t_nopeel / t_peel`` (both capped at their time limit)."""
    inv = [r for r in rows if r["suite"] == "inversion"]
    out = []
    for fam, target in sorted({(r["family"], r["target"]) for r in inv}):
        grp = [r for r in inv if r["family"] == fam and r["target"] == target]
        for old in sorted({r["method"] for r in grp if r["method"].startswith(NOPEEL)}):
            new = "mip" + old[len(NOPEEL):]
            pairs = []
            for inst in sorted({r["instance"] for r in grp}):
                a = [r for r in grp if r["instance"] == inst and r["method"] == old]
                b = [r for r in grp if r["instance"] == inst and r["method"] == new]
                if a and b:
                    pairs.append((a[0], b[0]))
            if not pairs:
                continue
            out.append({"generator": fam, "target": target, "old_method": old,
                        "new_method": new,
                        "instances": len(pairs),
                        "old_median_seconds": statistics.median(a["seconds"] for a, _ in pairs),
                        "new_median_seconds": statistics.median(b["seconds"] for _, b in pairs),
                        "median_ratio": statistics.median(a["seconds"] / max(b["seconds"], 1e-9)
                                                          for a, b in pairs),
                        "old_counts": {"exact": sum(a["verdict"] == "exact" for a, _ in pairs),
                                "optimal": sum(bool(a.get("optimal")) for a, _ in pairs),
                                "unique_settled": sum(a.get("unique") is not None
                                                      for a, _ in pairs)},
                        "new_counts": {"exact": sum(b["verdict"] == "exact" for _, b in pairs),
                                "optimal": sum(bool(b.get("optimal")) for _, b in pairs),
                                "unique_settled": sum(b.get("unique") is not None
                                                      for _, b in pairs)}})
    return out


def inversion_details(rows):
    """Per-target rows of issue 15's generators: status, unique, seconds,
    peeled layers, units fixed, binaries left."""
    keep = ("instance", "method", "target", "verdict", "optimal", "unique", "uniqueness_method",
            "seconds", "space", "residual", "bound", "peeled_layers", "units_fixed",
            "binaries_left", "peel_stopped", "verified")
    return [{k: r.get(k) for k in keep} for r in sorted(
        (r for r in rows if r["suite"] == "inversion" and r["family"] in ISSUE15_GENERATORS),
        key=lambda r: (r["instance"], r["method"]))]


def inversion_table(rows):
    """Per generator and method: success rate on in-range targets (status
    exact), median residual on off-range targets, median seconds."""
    out = []
    inv = [r for r in rows if r["suite"] == "inversion"]
    for key in sorted({(r["family"], r["n"], r["m"], r["depth"], r["method"]) for r in inv}):
        fam, n, m, depth, meth = key
        grp = [r for r in inv if (r["family"], r["n"], r["m"], r["depth"], r["method"]) == key]
        rng_ = [r for r in grp if r["target"] == "range"]
        noi = [r for r in grp if r["target"] == "noise" and r.get("relative_residual") is not None]
        out.append({"generator": fam, "n0": n, "n_out": m, "depth": depth, "method": meth,
                    "range_success": sum(r["verdict"] == "exact" for r in rng_),
                    "range_total": len(rng_),
                    "range_median_rel_residual": statistics.median(
                        [r["relative_residual"] for r in rng_
                         if r.get("relative_residual") is not None] or [math.nan]),
                    "noise_median_rel_residual": statistics.median(
                        [r["relative_residual"] for r in noi] or [math.nan]),
                    "optimal": sum(bool(r.get("optimal")) for r in grp),
                    "median_seconds": statistics.median(r["seconds"] for r in grp)})
    return out


def plot_inversion(rows, path):
    plt = _plt()
    table = inversion_table(rows)
    if not table:
        return False
    style = _method_style({t["method"] for t in table})
    gens = sorted({(t["generator"], t["n0"], t["n_out"], t["depth"]) for t in table})
    labels = [f"{g}:{n}->{m} (d{d})" for g, n, m, d in gens]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / max(1, len(style))
    for k, meth in enumerate(sorted(style)):
        col, mk = style[meth]
        xs, succ, secs = [], [], []
        for gi, g in enumerate(gens):
            t = [t for t in table if (t["generator"], t["n0"], t["n_out"], t["depth"]) == g
                 and t["method"] == meth]
            if t:
                xs.append(gi)
                succ.append(t[0]["range_success"] / max(1, t[0]["range_total"]))
                secs.append(max(t[0]["median_seconds"], 1e-4))
        a1.bar([x + k * width for x in xs], succ, width, color=col, label=meth)
        a2.plot(xs, secs, marker=mk, color=col, label=meth)
    for a in (a1, a2):
        a.set_xticks(range(len(gens)))
        a.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
    a1.set_ylabel("in-range targets recovered (exact)")
    a2.set_ylabel("median seconds (log)")
    a2.set_yscale("log")
    a1.legend(fontsize=7)
    fig.suptitle("Inversion: MIP vs region enumeration vs gradient descent vs layer-wise LP")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ================================================================ analysis

def largest_decided(rows):
    """Per (family, ratio, eps, method): the largest n at which at least half
    of the seeds were decided, with the median seconds there."""
    groups = {}
    for r in rows:
        if r["suite"] != "layers":
            continue
        groups.setdefault((r["family"], r["ratio"], r["eps"], r["method"], r["n"]), []).append(r)
    best = {}
    for (fam, c, eps, meth, n), grp in groups.items():
        dec = [r for r in grp if r["verdict"] in DECIDED]
        if 2 * len(dec) < len(grp):
            continue
        k = (fam, c, eps, meth)
        if k not in best or n > best[k]["n"]:
            best[k] = {"family": fam, "ratio": c, "eps": eps, "method": meth, "n": n,
                       "m": grp[0]["m"], "decided": len(dec), "seeds": len(grp),
                       "median_seconds": statistics.median(r["seconds"] for r in grp),
                       "verdicts": sorted({r["verdict"] for r in dec})}
    return sorted(best.values(), key=lambda d: (d["family"], d["ratio"], d["eps"] or 0,
                                                d["method"]))


def speedups(rows):
    """Speed-up of every method over exhaustive enumeration on the instances
    enumeration decided, measured in the same run: t_enumerate / t_method
    (the method must also have decided). Returns per-instance records."""
    by = {}
    for r in rows:
        by.setdefault((r["suite"], r["instance"]), {})[r["method"]] = r
    out = []
    for (suite, inst), meths in by.items():
        e = meths.get("enumerate")
        if e is None or e["verdict"] not in DECIDED:
            continue
        for meth, r in meths.items():
            if meth == "enumerate" or r["verdict"] not in DECIDED:
                continue
            out.append({"suite": suite, "instance": inst, "family": r["family"], "n": r["n"],
                        "m": r["m"], "ratio": r["ratio"], "method": meth,
                        "verdict": r["verdict"], "enumerate_seconds": e["seconds"],
                        "seconds": r["seconds"],
                        "speedup": e["seconds"] / max(r["seconds"], 1e-6),
                        "cells": e.get("cells")})
    return out


def speedup_at_largest(sp):
    """Median speed-up per method at the largest size (n, then m) where
    enumeration finished, overall and per family."""
    if not sp:
        return {}
    res = {}
    fams = sorted({s["family"] for s in sp})
    for scope in ["all"] + fams:
        pts = [s for s in sp if scope == "all" or s["family"] == scope]
        n, m = max((s["n"], s["m"]) for s in pts)
        at = [s for s in pts if (s["n"], s["m"]) == (n, m)]
        res[scope] = {"n": n, "m": m, "instances": len({s["instance"] for s in at}),
                      "enumerate_median_seconds": statistics.median(
                          s["enumerate_seconds"] for s in at),
                      "median_speedup": {meth: statistics.median(
                          s["speedup"] for s in at if s["method"] == meth)
                          for meth in sorted({s["method"] for s in at})}}
    return res


#: the performance targets of issue 7: (label, family, ratio, eps, n)
TARGETS = (
    ("Gaussian m = 6n, n = 10", "gauss", 6, None, 10),
    ("Gaussian m = 6n, n = 12", "gauss", 6, None, 12),
    ("Gaussian m = 8n, n = 10", "gauss", 8, None, 10),
    ("Gaussian m = 8n, n = 12", "gauss", 8, None, 12),
    ("[B; -DB] + 2n rows, n = 20", "construct", 4, None, 20),
    ("tilt 1e-3 of [B; -DB], n = 16", "tilt", 2, 1e-3, 16),
    ("tilt 1e-4 of [B; -DB], n = 16", "tilt", 2, 1e-4, 16),
    ("Gaussian m = 2.5n, n = 40 (witness < 5 s)", "gauss", 2.5, None, 40),
)


def targets(rows):
    """The issue-7 targets: per target size and method, decided / seeds, the
    verdicts and the median seconds (unknowns counted at their time)."""
    out = []
    for label, fam, c, eps, n in TARGETS:
        grp = [r for r in rows if r["suite"] == "layers" and r["family"] == fam
               and r["ratio"] == c and r["eps"] == eps and r["n"] == n]
        for meth in sorted({r["method"] for r in grp}):
            mr = [r for r in grp if r["method"] == meth]
            dec = [r for r in mr if r["verdict"] in DECIDED]
            out.append({"target": label, "method": meth, "n": n, "m": mr[0]["m"],
                        "decided": len(dec), "seeds": len(mr),
                        "verdicts": _count(dec, "verdict"),
                        "median_seconds": statistics.median(r["seconds"] for r in mr),
                        "max_seconds": max(r["seconds"] for r in mr)})
        if not grp:
            out.append({"target": label, "method": None, "n": n, "decided": 0, "seeds": 0,
                        "note": "not reached (the ladder stopped earlier, or not in this run)"})
    return out


def speedup_by_size(sp):
    """Median speed-up per method at every n where enumeration finished
    (all families and ratios pooled)."""
    out = []
    for n in sorted({s["n"] for s in sp}):
        at = [s for s in sp if s["n"] == n]
        out.append({"n": n, "instances": len({s["instance"] for s in at}),
                    "median_speedup": {meth: statistics.median(
                        s["speedup"] for s in at if s["method"] == meth)
                        for meth in sorted({s["method"] for s in at})}})
    return out


def summarise(rows, papers_data=None):
    sp = speedups([r for r in rows if r["suite"] == "layers"])
    summary = {
        "rows": len(rows),
        "verdicts": _count(rows, "verdict"),
        "largest_decided": largest_decided(rows),
        "targets": targets(rows),
        "speedup_at_largest_enumeration": speedup_at_largest(sp),
        "speedup_by_n": speedup_by_size(sp),
        "speedups": sp,
    }
    if any(r["suite"] == "inversion" for r in rows):
        summary["inversion"] = inversion_table(rows)
        summary["inversion_vs_nopeel"] = inversion_ratios(rows)
        summary["inversion_issue15"] = inversion_details(rows)
    if any(r["family"] == "phase" for r in rows):
        from .phase import curve_of_row
        from .phase import summarise as phase_summarise
        summary["phase_transition"] = phase_summarise([r for r in rows if curve_of_row(r)])
        dss = [r for r in rows if r["family"] == "phase" and r["method"] == "dss-mean"]
        summary["dss_mean_not_injective"] = sum(r["verdict"] == "not_injective" for r in dss)
        summary["dss_mean_rows"] = len(dss)
    return summary


def _count(rows, key):
    out = {}
    for r in rows:
        out[str(r.get(key))] = out.get(str(r.get(key)), 0) + 1
    return out


def report_text(results):
    """A human-readable summary (also written to ``summary.txt``)."""
    s = results["summary"]
    lines = [f"reluinj bench: {s['rows']} rows, verdicts {s['verdicts']}, "
             f"executor {results['config'].get('executor')}, "
             f"{results['config'].get('wall_seconds', 0):.1f} s wall"]
    stopped = results["config"].get("stopped_by")
    if stopped:
        lines.append(f"  stopped early ({stopped}): larger sizes were not started; "
                     "'largest n' figures are lower bounds")
    ld = s.get("largest_decided") or []
    if ld:
        lines.append("\nLargest n decided (>= half of the seeds) per family / ratio / method:")
        lines.append(f"  {'family':10s} {'c':>5s} {'eps':>6s} {'method':24s} {'n':>4s} {'m':>5s}"
                     f" {'dec':>5s} {'median s':>9s}  verdicts")
        for d in ld:
            eps = f"{d['eps']:g}" if d["eps"] else "-"
            lines.append(f"  {d['family']:10s} {d['ratio']:5g} {eps:>6s} {d['method']:24s} "
                         f"{d['n']:4d} {d['m']:5d} {d['decided']:2d}/{d['seeds']:<2d} "
                         f"{d['median_seconds']:9.3f}  {','.join(d['verdicts'])}")
    tg = [t for t in s.get("targets") or [] if t["seeds"]]
    if tg and not results["config"].get("quick"):
        lines.append("\nIssue-7 targets (decided/seeds, median s):")
        for t in tg:
            lines.append(f"  {t['target']:42s} {t['method']:24s} {t['decided']}/{t['seeds']} "
                         f"{t['median_seconds']:8.2f} s  {t['verdicts']}")
    inv = s.get("inversion") or []
    if inv:
        lines.append("\nInversion (in-range targets recovered exactly; median relative residual "
                     "off range; median s):")
        for t in inv:
            lines.append(f"  {t['generator']:5s} {t['n0']:3d}->{t['n_out']:<4d} d{t['depth']} "
                         f"{t['method']:18s} {t['range_success']}/{t['range_total']} "
                         f"rel.res(noise) {t['noise_median_rel_residual']:.3g} "
                         f"optimal {t['optimal']} {t['median_seconds']:8.3f} s")
    rat = s.get("inversion_vs_nopeel") or []
    if rat:
        lines.append("\nPeeled inversion against today's whole-network MIP (invert(peel=False)), "
                     "same run, median s and median per-instance ratio t_old / t_new:")
        for t in rat:
            o, n = t["old_counts"], t["new_counts"]
            lines.append(f"  {t['generator']:8s} {t['target']:5s} {t['old_method']:>16s} "
                         f"{t['old_median_seconds']:7.2f} s  {t['new_method']:>10s} "
                         f"{t['new_median_seconds']:7.2f} s  ratio {t['median_ratio']:7.1f}x  "
                         f"(exact/optimal/unique settled: old {o['exact']}/{o['optimal']}/"
                         f"{o['unique_settled']}, new {n['exact']}/{n['optimal']}/"
                         f"{n['unique_settled']} of {t['instances']})")
    det = s.get("inversion_issue15") or []
    if det:
        lines.append("\nIssue-15 generators, per target (status, unique, s, peeled, units fixed, "
                     "binaries left):")
        for d in det:
            lines.append(f"  {d['instance']:32s} {d['method']:18s} {d['verdict']:8s} "
                         f"opt={str(d['optimal'])[0]} unique={d['unique']!s:5s} "
                         f"{d['seconds']:7.2f} s peeled={d['peeled_layers']} "
                         f"fixed={d['units_fixed']} binaries={d['binaries_left']}")
    sl = s.get("speedup_at_largest_enumeration") or {}
    if sl:
        lines.append("\nSpeed-up over exhaustive enumeration (t_enum / t_method, same run), "
                     "at the largest size enumeration finished:")
        for scope, d in sl.items():
            sps = ", ".join(f"{k} {v:.1f}x" for k, v in d["median_speedup"].items())
            lines.append(f"  {scope:10s} n={d['n']} m={d['m']} ({d['instances']} inst., "
                         f"enum median {d['enumerate_median_seconds']:.3f} s): {sps}")
        lines.append("  median speed-up per n (all families pooled):")
        for d in s.get("speedup_by_n") or []:
            sps = ", ".join(f"{k} {v:.1f}x" for k, v in d["median_speedup"].items())
            lines.append(f"    n={d['n']:<3d} ({d['instances']} inst.): {sps}")
    p = results.get("papers") or {}
    if "c_star" in p:
        lines.append(f"\nTheorem 6: c* = {p['c_star']:.6f} (root of erfc(1/sqrt(2c))/2 = 1/c)")
    if "figure2" in p:
        lines.append("Figure 2 (P(DSS w.r.t. x = -mean)): c where P crosses 1/2 per n: "
                     + ", ".join(f"n={n}: {v:.2f}" if v is not None else f"n={n}: -"
                                 for n, v in p.get("figure2_c50", {}).items()))
    ph = s.get("phase_transition")
    if ph:
        from .phase import table_text
        lines.append(table_text(ph))
        lines.append(f"  bounds: {p.get('c_star', 3.4):.3f} (Thm 6), 10.5 (upper); "
                     f"statistical physics 6.698")
        lines.append(f"  Figure 2 test refuted injectivity on {s.get('dss_mean_not_injective')} of "
                     f"{s.get('dss_mean_rows')} phase instances (all cross-checked)")
    probs = results.get("problems") or []
    if probs:
        lines.append("\n" + "!" * 72)
        lines.append(f"!!! {len(probs)} PROBLEM(S): DISAGREEMENT / FAILED VERIFICATION / ERROR")
        for pr in probs[:50]:
            lines.append("!!!   " + json.dumps(pr, default=str))
        lines.append("!" * 72)
    else:
        lines.append("\nAll methods agree; every certificate and witness verified.")
    return "\n".join(lines)


# ================================================================ plots

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _method_style(methods):
    plt = _plt()
    cmap = plt.get_cmap("tab10")
    marks = "os^vDP*Xh<>"
    return {m: (cmap(k % 10), marks[k % len(marks)]) for k, m in enumerate(sorted(methods))}


def plot_time_vs_size(rows, path):
    plt = _plt()
    rows = [r for r in rows if r["suite"] == "layers" and r["seconds"] is not None]
    if not rows:
        return False
    fams = sorted({r["family"] for r in rows})
    style = _method_style({r["method"] for r in rows})
    cols = min(3, len(fams))
    nrow = math.ceil(len(fams) / cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(5 * cols, 3.6 * nrow), squeeze=False)
    for ax, fam in zip(axes.flat, fams):
        fr = [r for r in rows if r["family"] == fam]
        for meth in sorted({r["method"] for r in fr}):
            col, mk = style[meth]
            mr = [r for r in fr if r["method"] == meth]
            dec = [r for r in mr if r["verdict"] in DECIDED]
            unk = [r for r in mr if r["verdict"] not in DECIDED]
            jit = 1 + 0.03 * (sorted(style).index(meth) - len(style) / 2)
            ax.scatter([r["n"] * jit for r in dec], [max(r["seconds"], 1e-4) for r in dec],
                       color=col, marker=mk, s=10, alpha=0.5)
            ax.scatter([r["n"] * jit for r in unk], [max(r["seconds"], 1e-4) for r in unk],
                       facecolors="none", edgecolors=col, marker=mk, s=14, alpha=0.7)
            ns = sorted({r["n"] for r in mr})
            med = [statistics.median(max(r["seconds"], 1e-4) for r in mr if r["n"] == n)
                   for n in ns]
            ax.plot(ns, med, "-", color=col, marker=mk, ms=4, lw=1.2, label=meth)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{fam}")
        ax.set_xlabel("n (log)")
        ax.set_ylabel("seconds (log); hollow = unknown")
        ax.grid(True, which="both", lw=0.3)
    for ax in list(axes.flat)[len(fams):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.suptitle("Time to a verified verdict against size (median line over ratios and seeds)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_speedups(sp, path):
    plt = _plt()
    if not sp:
        return False
    style = _method_style({s["method"] for s in sp})
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for meth in sorted(style):
        col, mk = style[meth]
        pts = [s for s in sp if s["method"] == meth]
        ms = sorted({s["m"] for s in pts})
        jit = 1 + 0.02 * (sorted(style).index(meth) - len(style) / 2)
        ax.scatter([s["m"] * jit for s in pts], [s["speedup"] for s in pts], color=col,
                   marker=mk, s=10, alpha=0.35)
        med = [statistics.median(s["speedup"] for s in pts if s["m"] == m) for m in ms]
        ax.plot(ms, med, "-", color=col, marker=mk, ms=4, label=meth)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m (rows), log")
    ax.set_ylabel("t_enumerate / t_method (log)")
    ax.set_title("Speed-up over exhaustive enumeration, same run (instances it decided)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_agreement(rows, path):
    plt = _plt()
    if not rows:
        return False
    meths = sorted({(r["suite"], r["method"]) for r in rows})
    cats = [("agrees (decided)", "tab:green"), ("unknown", "tab:gray"),
            ("disagrees / unverified", "tab:red"), ("error", "black")]

    def cat(r):
        if r["verdict"] == "error":
            return 3
        if r["agree"] is False or r["verified"] is False:
            return 2
        return 0 if r["verdict"] in DECIDED or r["suite"] == "inversion" else 1
    counts = np.zeros((len(meths), len(cats)))
    for r in rows:
        counts[meths.index((r["suite"], r["method"])), cat(r)] += 1
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(meths) + 1.5))
    left = np.zeros(len(meths))
    for k, (lab, col) in enumerate(cats):
        ax.barh(range(len(meths)), counts[:, k], left=left, color=col, label=lab)
        left += counts[:, k]
    ax.set_yticks(range(len(meths)))
    ax.set_yticklabels([f"{s}: {m}" for s, m in meths], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    bad = int(counts[:, 2].sum() + counts[:, 3].sum())
    ax.set_title("Agreement between methods" + (f": {bad} PROBLEMS" if bad else ": all agree"))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.5 / (len(meths) + 4)),
              ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_plots(results, out):
    rows = results["rows"]
    made = []
    try:
        if plot_time_vs_size(rows, out / "time_vs_size.png"):
            made.append("time_vs_size.png")
        if plot_speedups(results["summary"]["speedups"], out / "speedup_vs_enumeration.png"):
            made.append("speedup_vs_enumeration.png")
        if plot_agreement(rows, out / "agreement.png"):
            made.append("agreement.png")
        p = results.get("papers") or {}
        from . import papers as P
        if p.get("figure2"):
            P.plot_figure2(p["figure2"], out / "figure2.png")
            made.append("figure2.png")
        ph = results["summary"].get("phase_transition")
        if ph and ph.get("curves"):
            from .phase import write_plots as phase_plots
            made += phase_plots(ph, out)
        inv = [r for r in rows if r["suite"] == "inversion"]
        if inv:
            if plot_inversion(inv, out / "inversion.png"):
                made.append("inversion.png")
    except ImportError as exc:
        print(f"[bench] note: plots skipped ({exc})", file=sys.stderr)
    return made


# ================================================================ entry point

def papers_numbers(cfg):
    """Theorem 6's c* and Figure 2 (computed in this process: NumPy only)."""
    from . import papers as P
    cstar = P.critical_expansivity()
    if cfg.extra.get("figure2") is False:
        return {"c_star": cstar, "c_star_equation": "erfc(1/sqrt(2c))/2 = 1/c",
                "lower_bound": P.LOWER_BOUND, "upper_bound": P.UPPER_BOUND,
                "statphys": P.STATPHYS}
    if cfg.quick:
        f2 = P.figure2(ns=(5, 10, 20), cs=np.arange(1.5, 8.01, 0.5), trials=40)
    else:
        f2 = P.figure2(ns=(5, 10, 20, 50, 100), cs=np.arange(1.5, 8.01, 0.25), trials=200)
    c50 = {}
    for n in sorted({p["n"] for p in f2}):
        pts = [p for p in f2 if p["n"] == n]
        c50[n] = P.fifty_percent_point([p["c"] for p in pts], [p["p_dss"] for p in pts])
    return {"c_star": cstar, "c_star_equation": "erfc(1/sqrt(2c))/2 = 1/c",
            "lower_bound": P.LOWER_BOUND, "upper_bound": P.UPPER_BOUND,
            "statphys": P.STATPHYS, "figure2": f2, "figure2_c50": c50}


def build_plan(cfg, suites):
    ladders = []
    info = {}
    if "layers" in suites:
        methods = layer_methods(cfg)
        info["layer_methods"] = methods
        ladders += layer_ladders(cfg, methods)
    if "inversion" in suites:
        ladders += inversion_ladders(cfg)
    if "papers" in suites:
        ladders += phase_ladders(cfg)
        info["phase"] = phase_settings(cfg)
    return ladders, info


def run_benchmark(out=None, *, suites=None, quick=False, workers=None, dask=None, client=None,
                  time_limit=None, seeds=None, max_n=None, progress=True, plots=True,
                  ladders=None, cfg=None, verbose=True, budget=None, resume=False):
    """Run the suites and write ``out/results.json`` (+ plots, summary.txt).

    With ``out``, every row is also appended to ``out/rows.jsonl`` as it
    finishes (:class:`RowStream`); ``resume=True`` continues a killed or
    finished run there: the stored rows are reused instead of solved again
    (the plan may be extended: new tasks are solved), and stored rows outside
    the plan are kept in the results.

    Returns ``(results, exit_code)``; the exit code is 1 if any method
    disagreed, any certificate or witness failed its independent check, or
    any solve crashed.
    """
    suites = list(suites or SUITES)
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise ValueError(f"unknown suite(s) {bad}; choose from {', '.join(SUITES)}")
    cfg = cfg or Config(quick=quick, time_limit=time_limit, seeds=seeds, max_n=max_n)
    t0 = time.perf_counter()
    info = {}
    if ladders is None:
        ladders, info = build_plan(cfg, suites)
    papers = papers_numbers(cfg) if "papers" in suites else {}
    if papers and verbose:
        print(f"[bench] Theorem 6: c* = {papers['c_star']:.6f}", file=sys.stderr)
    stream = None if out is None else RowStream(pathlib.Path(out) / ROWS_FILE, resume=resume)
    if stream is not None and resume and verbose:
        print(f"[bench] resuming: {len(stream.done)} stored rows in {stream.path}",
              file=sys.stderr)
    executor = make_executor(workers, dask, client)
    status = {}
    try:
        rows = run_ladders(ladders, executor, progress=progress, budget=budget, status=status,
                           stream=stream)
    finally:
        executor.close()
        if stream is not None:
            stream.close()
    carried = stream.unused() if stream is not None else []
    rows += carried
    rows.sort(key=row_key)
    problems = mark_inversion_agreement(rows) + mark_agreement(rows)
    summary = summarise(rows, papers)
    if summary.get("phase_transition"):
        from .phase import problems as phase_problems
        problems += phase_problems(summary["phase_transition"])
    results = {"rows": rows,
               "summary": summary,
               "papers": papers,
               "problems": problems,
               "config": {"suites": suites, "quick": cfg.quick, "time_limit": cfg.tl(),
                          "seeds": cfg.seeds, "max_n": cfg.max_n, "executor": executor.name,
                          "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                          "budget": budget, "stopped_by": status.get("stopped_by"),
                          "resumed": bool(resume), "rows_reused": status.get("reused", 0),
                          "rows_carried": len(carried),
                          "wall_seconds": time.perf_counter() - t0, **info}}
    text = report_text(results)
    if out is not None:
        out = pathlib.Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if plots:
            results["config"]["plots"] = write_plots(results, out)
        with open(out / "results.json", "w") as fh:
            json.dump(results, fh, indent=1, default=_json_default)
        (out / "summary.txt").write_text(text + "\n")
    if verbose:
        print(text)
        if problems:
            print(f"reluinj bench: {len(problems)} problem(s); see {out or 'results'}",
                  file=sys.stderr)
    return results, (1 if problems else 0)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
