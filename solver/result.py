"""Result objects: frozen dataclasses with ``to_json()``, in the spirit of
``scipy.optimize.OptimizeResult`` but with a verdict that says exactly what
is known."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from .exact import fmt_rational

__all__ = ["Verdict", "Witness", "LayerResult"]


class Verdict(str, enum.Enum):
    """The one verdict type of every result (its ``value`` is what JSON shows).

    A ``str`` enum: ``Verdict.INJECTIVE == "injective"`` holds.
    """
    INJECTIVE = "injective"              # proved; certificate attached
    NOT_INJECTIVE = "not_injective"      # exact witness attached
    UNKNOWN = "unknown"                  # limit hit or nothing proved
    INJECTIVE_ON_BOX = "injective_on_box"  # networks with --box only
    NOT_PROVED = "not_proved"            # a sufficient condition does not apply (conv, Theorem 3)

    def __str__(self):
        return self.value


@dataclass(frozen=True)
class Witness:
    """Two different inputs with exactly equal outputs (exact rationals)."""
    x1: tuple
    x2: tuple

    def to_json(self) -> dict:
        return {"x1": [fmt_rational(v) for v in self.x1],
                "x2": [fmt_rational(v) for v in self.x2]}

    def floats(self):
        return [float(v) for v in self.x1], [float(v) for v in self.x2]

    @classmethod
    def of(cls, pair):
        return None if pair is None else cls(tuple(Fraction(v) for v in pair[0]),
                                             tuple(Fraction(v) for v in pair[1]))


@dataclass(frozen=True)
class LayerResult:
    """Outcome of :func:`solver.check_layer`.

    Attributes
    ----------
    verdict : Verdict
    witness : Witness or None (present iff not_injective; checked exactly)
    method : str, what decided it
    seconds : float, wall time
    message : str, human-readable reason
    m, n : layer shape
    certificate : dict or None (present iff injective; JSON, checkable by
        :func:`solver.certificates.check_certificate`)
    stats : mapping of counters (nodes, LPs, cells, MILP calls, ...)
    proved : str or None: for ``unknown``, what was proved all the same, in
        words (e.g. a certified number of active rows), with its certificate
        in ``partial``; None otherwise
    partial : dict or None: the proof document of ``proved`` (checkable by
        ``reluinj verify``)
    """
    verdict: Verdict
    witness: Witness | None
    method: str
    seconds: float
    message: str
    m: int
    n: int
    certificate: dict | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)
    proved: str | None = None
    partial: dict | None = None

    @property
    def success(self) -> bool:
        return self.verdict is not Verdict.UNKNOWN

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "witness": None if self.witness is None else self.witness.to_json(),
            "method": self.method,
            "seconds": round(self.seconds, 6),
            "message": self.message,
            "m": self.m,
            "n": self.n,
            "certificate": None if self.certificate is None else "attached",
            "stats": dict(self.stats),
            "proved": self.proved,
        }

    def witness_document(self) -> dict | None:
        """A JSON document ``reluinj verify`` accepts for a witness."""
        if self.witness is None:
            return None
        return {"format": "reluinj.witness", "version": 1, "claim": "not_injective",
                "m": self.m, "n": self.n, **self.witness.to_json()}
