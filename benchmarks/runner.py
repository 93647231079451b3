"""Running a plan: executors (in process, local processes, Dask), the
ladder scheduler (:func:`run_ladders`), and the row stream that makes runs
resumable (:class:`RowStream`, ``rows.jsonl``). :func:`run_task` is the one
function a worker runs: a task in, a row out."""
from __future__ import annotations

import concurrent.futures as cf
import json
import os
import pathlib
import sys
import time

from .inversion_suite import run_inversion_task
from .methods import base_row, row_key, run_layer_task
from .report import json_default

__all__ = ["run_task", "SerialExecutor", "LocalExecutor", "DaskExecutor", "make_executor",
           "ROWS_FILE", "load_rows", "RowStream", "run_ladders"]


def run_task(task):
    """Run one task and return its row (never raises for a solver failure:
    a crash becomes ``verdict: "error"``)."""
    if task.get("kind") == "inversion":
        return run_inversion_task(task)
    return run_layer_task(task)


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
    row = base_row(task)
    row.update(verdict="error", seconds=0.0, message=f"worker failed: {type(exc).__name__}: {exc}")
    return row


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
                fh.write(json.dumps(r, default=json_default) + "\n")
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
        self._fh.write(json.dumps(row, default=json_default) + "\n")
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
