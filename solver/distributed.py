"""One sign-tree proof spread over processes or a Dask cluster, resumable.

:func:`solver.search.frontier` expands the tree to open subtrees whose
construction does not depend on the number of workers; each subtree is solved
from a fresh, deterministic state by :func:`solver.search.solve_subtree`, a
pure function of ``(W, b, task, pool)``. So the spliced certificate is the
same whatever runs the tasks, and a task can be re-run anywhere:

* ``dask.distributed`` re-runs the task of a worker that dies (its futures are
  retried on the remaining workers), so a killed worker loses nothing;
* with a checkpoint file every finished subtree is appended (one JSON line)
  as soon as it arrives, and a later run of the same layer skips the tasks
  already there: an interrupted long proof resumes with its finished subtrees.

The checkpoint starts with a header naming the layer (its fingerprint) and
the frontier (a hash of its tasks); a file written for another layer or
frontier is refused, never mixed in.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time

from .deadline import Deadline
from .errors import InputError
from .search import (Frontier, SearchOutcome, SearchStopped, WitnessFound, frontier, prepare,
                     solve_subtree, splice)

__all__ = ["parallel_search", "frontier_key", "Checkpoint", "run_frontier", "dask_client"]

#: open subtrees a frontier is expanded to; fixed, so that the certificate does
#: not depend on how many workers solve them (enough for 128 workers to share)
MIN_TASKS = 256


def parallel_search(W, b, *, time_limit=None, workers=2, client=None, checkpoint=None,
                    task_times=None, min_tasks=MIN_TASKS, progress=None,
                    prepared=None) -> SearchOutcome:
    """:func:`solver.search.sign_tree_search` spread over ``workers`` local
    processes or the Dask ``client``, optionally resumable through the JSON
    lines file ``checkpoint``. The certificate does not depend on the number
    of workers. ``task_times``: dict filled with each subtree's seconds.
    ``progress``: a :class:`solver.progress.Progress` (subtrees open/done).
    ``prepared``: ``(tree, outcome)`` from :func:`solver.search.prepare`."""
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    T, done = prepare(W, b, deadline, reuse=prepared)
    if done is not None:
        return done
    stats = T.stats
    try:
        fr = frontier(W, b, min_tasks=min_tasks, deadline=deadline, tree=T)
        stats = fr.stats
        if not fr.tasks:
            cert = T.certificate(fr.skeleton, fr.pool)
        else:
            results = run_frontier(W, b, fr, deadline, workers=workers, client=client,
                                   checkpoint=checkpoint, task_times=task_times,
                                   progress=progress)
            cert = splice(W, b, fr, results)
    except WitnessFound as f:
        return SearchOutcome("not_injective", f.witness, None,
                             "active rows of a sign pattern are rank-deficient", stats)
    except SearchStopped as s:
        return SearchOutcome("unknown", None, None, s.reason, stats)
    return SearchOutcome("injective", None, cert, "every sign pattern closed", stats)


def frontier_key(W, b, fr: Frontier) -> dict:
    """What a checkpoint must match: the layer and the frontier's tasks."""
    from .certificates.checker import layer_fingerprint
    h = hashlib.sha256()
    for sigma, basis in fr.tasks:
        h.update(json.dumps([sorted(sigma.items()), basis]).encode())
    return {"layer_sha256": layer_fingerprint(W, b), "tasks": len(fr.tasks),
            "split_rank": fr.split_rank, "frontier_sha256": h.hexdigest()}


class Checkpoint:
    """Finished subtrees of one frontier, appended to a JSON-lines file."""

    def __init__(self, path, key):
        self.path, self.key, self.done = path, key, {}
        if path is None:
            return
        if os.path.exists(path) and os.path.getsize(path) > 0:
            try:
                with open(path) as fh:
                    lines = [json.loads(line) for line in fh if line.strip()]
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read checkpoint {path}: {exc}") from None
            if not lines or lines[0].get("header") != key:
                raise InputError(f"checkpoint {path} was written for another layer or frontier")
            for rec in lines[1:]:
                self.done[int(rec["task"])] = (rec["tokens"], rec["circuits"])
        else:
            self._append({"header": key})

    def _append(self, rec):
        try:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise InputError(f"cannot write checkpoint {self.path}: {exc}") from None

    progress = None
    total = 0

    def add(self, k, result, seconds):
        self.done[k] = result
        if self.progress is not None:
            self.progress.update(subtrees=f"{len(self.done)}/{self.total}",
                                 open=self.total - len(self.done))
        if self.path is not None:
            tokens, circuits = result
            self._append({"task": k, "seconds": round(seconds, 4), "tokens": tokens,
                          "circuits": circuits})


@contextlib.contextmanager
def dask_client(address, workers=None, connect_timeout=10.0):
    """A ``distributed.Client``: ``"local"`` starts a ``LocalCluster`` of
    ``workers`` single-threaded worker processes, anything else is a
    scheduler address (given up after ``connect_timeout`` seconds)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--dask needs the optional extra: pip install 'reluinj[dask]'") from None
    if address == "local":
        cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(address, timeout=max(0.1, connect_timeout))
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach Dask scheduler {address!r}: {exc}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_frontier(W, b, fr: Frontier, deadline, *, workers=1, client=None, checkpoint=None,
                 task_times=None, progress=None):
    """Solve every open task of ``fr`` (skipping those in the checkpoint) in
    ``workers`` local processes, or on the Dask ``client``. Returns the list
    of results for :func:`solver.search.splice`; raises ``WitnessFound`` (a
    witness) or ``SearchStopped`` (a limit). ``task_times``: a dict filled with the
    seconds each task took, for scaling studies."""
    ck = Checkpoint(checkpoint, frontier_key(W, b, fr))
    todo = [k for k in range(len(fr.tasks)) if k not in ck.done]
    deadline_wall = Deadline(deadline).wall()
    if task_times is None:
        task_times = {}
    ck.progress = progress
    ck.total = len(fr.tasks)
    if todo:
        if client is not None:
            _run_dask(W, b, fr, todo, deadline_wall, client, ck, task_times)
        else:
            _run_processes(W, b, fr, todo, deadline_wall, workers, ck, task_times)
    return [ck.done[k] for k in range(len(fr.tasks))]


def _timed(W, b, task, pool, deadline_wall):
    """``solve_subtree`` with a wall-clock deadline (monotonic clocks differ
    between machines) and its own duration."""
    deadline = Deadline.from_wall(deadline_wall).at
    t = time.perf_counter()
    out = solve_subtree(W, b, task, pool, deadline)
    return out, time.perf_counter() - t


#: what a local worker process was given once by :func:`_init_worker`
_WORKER = {}


def _init_worker(W, b, pool):
    _WORKER.update(W=W, b=b, pool=pool)


def _timed_in_worker(task, deadline_wall):
    return _timed(_WORKER["W"], _WORKER["b"], task, _WORKER["pool"], deadline_wall)


def _collect(k, out, seconds, fr, ck, task_times):
    kind, val, st = out
    fr.stats.add(st)
    task_times[k] = seconds
    if kind == "witness":
        raise WitnessFound(val)
    if kind == "stop":
        raise SearchStopped(val)
    ck.add(k, val, seconds)


def _run_processes(W, b, fr, todo, deadline_wall, workers, ck, task_times):
    import concurrent.futures as cf

    from .parallel import process_pool
    if int(workers) <= 1:
        for k in todo:
            out, sec = _timed(W, b, fr.tasks[k], fr.pool, deadline_wall)
            _collect(k, out, sec, fr, ck, task_times)
        return
    # the layer and the frontier's circuit pool go to each worker once (its
    # initializer), not with every task: pickling the pool per task made 2,747
    # tasks of an n = 8 proof take 227 s on 2 workers instead of 17 s on one
    with process_pool(workers, initializer=_init_worker, initargs=(W, b, fr.pool)) as pool:
        futs = {pool.submit(_timed_in_worker, fr.tasks[k], deadline_wall): k for k in todo}
        for fut in cf.as_completed(futs):
            out, sec = fut.result()
            _collect(futs[fut], out, sec, fr, ck, task_times)


def _shared(W, b, pool):
    return W, b, pool


def _timed_shared(shared, task, deadline_wall):
    W, b, pool = shared
    return _timed(W, b, task, pool, deadline_wall)


def _run_dask(W, b, fr, todo, deadline_wall, client, ck, task_times):
    from distributed import as_completed
    # The layer and the circuit pool are the result of one task that every
    # subtree task depends on: they are pickled once (into that task) and each
    # worker fetches them once, instead of travelling with every task. Not
    # scattered: data scattered to a worker that dies cannot be recomputed,
    # while the scheduler re-runs a lost task's result anywhere.
    shared = client.submit(_shared, W, b, fr.pool, pure=False, retries=3)
    futs = {client.submit(_timed_shared, shared, fr.tasks[k], deadline_wall, pure=False,
                          retries=3): k for k in todo}
    try:
        for fut in as_completed(list(futs)):
            out, sec = fut.result()
            _collect(futs[fut], out, sec, fr, ck, task_times)
    finally:
        client.cancel(list(futs) + [shared])
