"""The result of :func:`solver.network.check.check_network`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..result import Verdict, Witness

__all__ = ["NetworkResult"]


@dataclass(frozen=True)
class NetworkResult:
    """Outcome of :func:`check_network`.

    Attributes
    ----------
    verdict : Verdict (``injective``, ``not_injective``, ``unknown``,
        ``injective_on_box``).
    witness : Witness or None; ``x1, x2`` are the network inputs ``z1, z2``
        (exact rationals), present iff ``not_injective``.
    method : what decided it (``layerwise``, ``first-layer``, ``regions``,
        ``milp``, ...).
    seconds, message : wall time, human-readable reason.
    layers : tuple of per-layer dicts ``{"index", "shape", "activation",
        "input_set", "domain", "verdict", "method", "proved", "seconds",
        "message"}``: ``input_set`` is the set the layer's inputs come from
        (text, e.g. ``R^20``, ``[0, inf)^400``, ``(0, 1)^64``), ``domain``
        the superset it was decided on (``all`` or ``nonneg``), ``proved``
        what was proved about it in words (None when nothing was).
    domain : ``"all"`` or ``"nonneg"``; box : the box R or None.
    layer_results : per layer the LayerResult (certificates, witnesses) or
        None when the layer was skipped; not part of ``to_json``.
    regions_proof : for ``injective`` / ``injective_on_box`` by the region
        method, its proof (JSON: the region tree with exact certificates for
        every pruned branch, and one certificate per pair of regions;
        checked by :mod:`solver.certificates.regions`); not part of
        ``to_json``.
    stats : counters.
    """
    verdict: Verdict
    witness: Witness | None
    method: str
    seconds: float
    message: str
    layers: tuple = ()
    domain: str = "all"
    box: float | None = None
    layer_results: tuple = field(default=(), repr=False)
    stats: Mapping[str, Any] = field(default_factory=dict)
    regions_proof: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        return self.verdict is not Verdict.UNKNOWN

    def to_json(self) -> dict:
        w = None
        if self.witness is not None:
            j = self.witness.to_json()
            w = {"z1": j["x1"], "z2": j["x2"]}
        return {"verdict": self.verdict.value, "witness": w, "method": self.method,
                "seconds": round(self.seconds, 6), "message": self.message,
                "domain": self.domain, "box": self.box,
                "layers": [dict(L) for L in self.layers], "stats": dict(self.stats)}
