"""One deadline object: how much time is left, and the shares of it that a
method hands to its steps.

Deadlines travel between modules (and to the MILP backends) as plain
``time.monotonic()`` values, ``None`` for "no limit"; :class:`Deadline` wraps
such a value where a module needs the arithmetic, so that every
``deadline - time.monotonic()`` is written once, here.

Examples
--------
>>> d = Deadline.after(10.0)
>>> 9.0 < d.remaining() <= 10.0 and not d.expired()
True
>>> 2.0 < d.share(0.25) <= 2.5                    # a quarter of what is left
True
>>> d.child(1.0).remaining() <= 1.0               # a step limited to 1 s
True
>>> Deadline.after(None).remaining() is None      # no limit
True
>>> Deadline(None).portion(0.3).at is None and not Deadline(None).expired()
True
>>> Deadline.after(0.0).expired(), Deadline.after(-1.0).remaining()
(True, 0.0)
>>> 9.0 < Deadline.from_wall(d.wall()).remaining() <= 10.0   # via another process
True
"""
from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Deadline", "validate_time_limit"]


def validate_time_limit(time_limit):
    """``time_limit`` (seconds) if it is None or a number >= 0, else
    :class:`solver.errors.InputError` (the one check of every entry point
    that takes a time limit).

    >>> validate_time_limit(None), validate_time_limit(2)
    (None, 2)
    """
    import numbers
    if time_limit is not None and not (isinstance(time_limit, numbers.Real)
                                       and not isinstance(time_limit, bool) and time_limit >= 0):
        from .errors import InputError
        raise InputError(f"time_limit must be a non-negative number of seconds; got {time_limit!r}")
    return time_limit


@dataclass(frozen=True)
class Deadline:
    """A point in ``time.monotonic()`` time (``at``), or no limit (``at=None``).

    ``Deadline(d)`` wraps the plain value ``d`` that functions pass around.
    """

    at: float | None = None

    @classmethod
    def after(cls, seconds, start=None) -> "Deadline":
        """``seconds`` after ``start`` (default: now); ``seconds=None``: no limit."""
        if seconds is None:
            return cls(None)
        return cls((time.monotonic() if start is None else start) + float(seconds))

    def remaining(self, floor=0.0):
        """Seconds left, at least ``floor`` (default 0); None without a limit."""
        return None if self.at is None else max(floor, self.at - time.monotonic())

    def expired(self) -> bool:
        """True once the deadline has passed (never without a limit)."""
        return self.at is not None and time.monotonic() >= self.at

    def share(self, fraction):
        """``fraction`` of the seconds left (>= 0); None without a limit."""
        left = self.remaining()
        return None if left is None else fraction * left

    def portion(self, fraction) -> "Deadline":
        """The deadline of a step given ``fraction`` of the time left:
        ``now + fraction * remaining``; no limit stays no limit."""
        if self.at is None:
            return self
        now = time.monotonic()
        return Deadline(now + fraction * max(0.0, self.at - now))

    def child(self, limit) -> "Deadline":
        """A step limited to ``limit`` seconds from now and by this deadline
        (the earlier of the two); ``limit=None``: this deadline."""
        if limit is None:
            return self
        end = time.monotonic() + float(limit)
        return Deadline(end if self.at is None else min(self.at, end))

    def wall(self):
        """This deadline on the wall clock (``time.time()``), to hand to other
        processes or machines, whose monotonic clocks have other origins;
        None without a limit."""
        return None if self.at is None else time.time() + (self.at - time.monotonic())

    @classmethod
    def from_wall(cls, wall) -> "Deadline":
        """The deadline of a wall-clock time from :meth:`wall` (None: no limit)."""
        return cls(None if wall is None else time.monotonic() + (wall - time.time()))
