"""Live progress of a long decision on stderr (tqdm), only when asked.

The command line asks when stderr is a terminal and ``--json`` is not given;
library calls never print. One :class:`Progress` per decision: the search
calls :meth:`Progress.update` with its counters as often as it likes (the bar
redraws at most four times a second), and a blocking call (a MILP solve)
runs inside :meth:`Progress.ticking`, which keeps the elapsed time moving
from a thread.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time

__all__ = ["Progress"]


class Progress:
    """A progress bar: elapsed seconds against the time limit (if any), with
    the search's counters as postfix. ``enabled=False`` makes every method a
    no-op."""

    def __init__(self, enabled, time_limit=None, desc="search", file=None):
        self.bar = None
        self.start = time.monotonic()
        self.last = 0.0
        self.fields = {}
        if not enabled:
            return
        from tqdm import tqdm
        total = float(time_limit) if time_limit else None
        fmt = ("{desc}: {n:.0f}/{total:.0f} s |{bar:20}| {postfix}" if total else
               "{desc}: {n:.0f} s {postfix}")
        self.bar = tqdm(total=total, desc=desc, file=file or sys.stderr, bar_format=fmt,
                        leave=False, dynamic_ncols=True)

    def update(self, force=False, **fields):
        """Record counters (``nodes=..., closed=..., open=...``) and redraw."""
        if self.bar is None:
            return
        self.fields.update(fields)
        now = time.monotonic()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        elapsed = now - self.start
        self.bar.n = min(elapsed, self.bar.total) if self.bar.total else elapsed
        self.bar.set_postfix(self.fields, refresh=False)
        self.bar.refresh()

    @contextlib.contextmanager
    def ticking(self, **fields):
        """Keep the elapsed time moving during a blocking call."""
        if self.bar is None:
            yield
            return
        stop = threading.Event()

        def tick():
            while not stop.wait(0.5):
                self.update(force=True, **fields)
        t = threading.Thread(target=tick, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
