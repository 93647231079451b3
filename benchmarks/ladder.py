"""A ladder: the unit of a benchmark plan, one rung per size, the next rung
submitted only while the method decides something."""
from __future__ import annotations

from dataclasses import dataclass

from .methods import DECIDED

__all__ = ["Ladder"]


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
