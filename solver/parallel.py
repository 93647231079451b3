"""Worker processes that die with their parent.

Every process pool of the package comes from :func:`process_pool`. Its
workers must not outlive the process that started them, whatever kills it:
``timeout``, a batch scheduler's ``SIGKILL`` or a closed terminal. Two
mechanisms, because neither covers every case alone:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker
  when its parent dies (immediate, but tied to the parent *thread*);
* a watchdog thread in every worker that exits the worker when its parent
  process is gone (polls ``os.getppid()`` twice a second; portable).

Programs that a worker's task starts itself (PuLP runs CBC through
``subprocess`` and takes no hook to arm them) inherit neither. A task run by
:func:`in_own_group` leads a process group, and a *group guard* (a forked
process of that group running the same watchdog) kills the whole group once
the worker or the worker's owner is gone; the worker itself is killed by the
kernel at once, so the watchdog cannot do it from inside.

``concurrent.futures.ProcessPoolExecutor`` is used as is (a well-kept pool);
only its initializer is ours.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["process_pool", "die_with_parent", "terminate", "in_own_group", "ForkExecutor",
           "fork_available"]

_PR_SET_PDEATHSIG = 1


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # pragma: no cover - exists, owned by another user
        return True
    return True


#: the process this one must die with (set by :func:`die_with_parent`)
_owner = None


def _watchdog(ppid, owner, on_death=None):
    """Poll until the parent ``ppid`` or the process ``owner`` is gone, then
    run ``on_death()`` (if given) and exit this process."""
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid or not _alive(owner):
            if on_death is not None:
                with contextlib.suppress(Exception):
                    on_death()
            os._exit(1)


def die_with_parent(owner=None, initializer=None, initargs=()):
    """Worker initializer: arrange to die with the process ``owner`` (default:
    the parent) and with the direct parent (a fork server, say), then run
    ``initializer(*initargs)`` if given."""
    global _owner
    ppid = os.getppid()
    owner = ppid if owner is None else owner
    _owner = owner
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if not _alive(owner):               # the owner died before we got here
        os._exit(1)
    threading.Thread(target=_watchdog, args=(ppid, owner), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _kill_own_group():
    os.killpg(0, signal.SIGKILL)


def _group_guard():
    """Fork the guard of this process's group (this process leads it): a
    process of the group that runs :func:`_watchdog` on this process and its
    owner, and kills the whole group (itself included) when either is gone.
    Returns the guard's pid."""
    leader = os.getpid()
    owner = leader if _owner is None else _owner
    pid = os.fork()
    if pid == 0:                        # the guard: nothing of the worker's but its group
        try:
            # close the worker's pipes (pool queues, process sentinels), so that
            # the worker's own death stays visible to its parent
            os.closerange(3, 1 << 16)
            _watchdog(leader, owner, on_death=_kill_own_group)
        finally:
            os._exit(1)
    return pid


def in_own_group(fn, *args):
    """Run ``fn(*args)`` in a worker that first becomes the leader of its own
    process group, so that :func:`terminate` also kills the programs it starts
    (PuLP runs CBC as a subprocess: killed with the worker only, CBC ran on
    for 3-4 s after ``reluinj invert`` had returned), and with a group guard
    (see the module docstring) that kills the group if the worker or its
    owner dies before ``fn`` returns (``reluinj`` killed by ``SIGKILL`` left CBC
    running until its own ``-sec`` limit)."""
    guard = None
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
        if hasattr(os, "fork") and os.getpgid(0) == os.getpid():
            guard = _group_guard()
    try:
        return fn(*args)
    finally:
        if guard is not None:
            with contextlib.suppress(OSError):
                os.kill(guard, signal.SIGKILL)
                os.waitpid(guard, 0)


def terminate(pool):
    """Stop a ``ProcessPoolExecutor`` now: cancel what is queued and kill the
    workers, with their process groups where a worker leads one
    (:func:`in_own_group`). (The executor has no public way to stop running
    tasks before Python 3.14; a decided search must not wait for them.)"""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            if hasattr(os, "killpg") and os.getpgid(p.pid) == p.pid:
                os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            p.kill()


@contextlib.contextmanager
def process_pool(workers, initializer=None, initargs=(), context=None):
    """A ``ProcessPoolExecutor`` of ``workers`` processes that die with this
    one. ``context``: a multiprocessing start method (default: ``fork`` where
    available, it is the cheapest; ``forkserver`` else)."""
    import concurrent.futures as cf
    import multiprocessing as mp
    methods = mp.get_all_start_methods()
    if context is None:
        context = "fork" if "fork" in methods else "spawn"
    ctx = mp.get_context(context)
    pool = cf.ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx,
                                  initializer=die_with_parent,
                                  initargs=(os.getpid(), initializer, tuple(initargs)))
    try:
        yield pool
    finally:
        terminate(pool)


class _Forked:
    """The future of :meth:`ForkExecutor.submit`: ``result()`` waits for the
    forked child's answer (re-raising its exception as a RuntimeError)."""

    def __init__(self, proc, conn):
        self._proc, self._conn = proc, conn

    def result(self):
        try:
            ok, value = self._conn.recv()
        except EOFError:
            raise RuntimeError("the worker process died") from None
        finally:
            self._proc.join()
        if not ok:
            raise RuntimeError(value)
        return value

    def kill(self):
        with contextlib.suppress(Exception):
            self._proc.kill()
            self._proc.join()


def _forked_main(conn, owner, fn, args):
    die_with_parent(owner)
    try:
        conn.send((True, fn(*args)))
    except BaseException as exc:        # the parent must hear about any failure
        conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
        os._exit(0)


class ForkExecutor:
    """``submit(fn, *args)`` runs ``fn(*args)`` in a forked child that dies
    with this process; the arguments are inherited, not pickled (the point:
    a 50 MB certificate's circuit table costs about a second to pickle and
    unpickle). Only the answer travels back, pickled. Linux/macOS (fork);
    :func:`fork_available` says whether it can be used. A context manager:
    leaving it kills children still running."""

    def __init__(self):
        import multiprocessing as mp
        self._ctx = mp.get_context("fork")
        self._children = []

    def submit(self, fn, *args):
        recv, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_forked_main, args=(send, os.getpid(), fn, args),
                                 daemon=True)
        proc.start()
        send.close()
        fut = _Forked(proc, recv)
        self._children.append(fut)
        return fut

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for f in self._children:
            f.kill()
        return False


def fork_available():
    import multiprocessing as mp
    return "fork" in mp.get_all_start_methods()
