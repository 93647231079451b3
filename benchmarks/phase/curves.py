"""The curves of the phase study (``--phase-curve``): ``gauss`` (b = 0),
``bias:S`` (b = S z) and ``nonneg`` (injectivity on x >= 0), and how a row
of the harness names its curve and its decider."""
from __future__ import annotations

import math

from ..methods import DECIDED

__all__ = ["DECIDED", "parse_curve", "curve_of_row", "decider_of"]


def parse_curve(text):
    """``"gauss"``, ``"nonneg"`` or ``"bias:S"`` (S > 0) -> a curve dict.

    Raises
    ------
    ValueError on anything else.

    Examples
    --------
    >>> parse_curve("bias:0.5")["family"], parse_curve("bias:0.5")["s"]
    ('phasebias', 0.5)
    """
    text = str(text).strip()
    if text == "gauss":
        return {"name": "gauss", "family": "phase", "decider": "tree", "s": None,
                "c_min": 2.0, "label": "b = 0"}
    if text == "nonneg":
        return {"name": "nonneg", "family": "phasenonneg", "decider": "nonneg", "s": None,
                "c_min": 1.0, "label": "b = 0, on x >= 0"}
    if text.startswith("bias:"):
        try:
            s = float(text[5:])
        except ValueError:
            s = float("nan")
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"bad bias scale in {text!r}: need bias:S with S > 0")
        # the scale is irrelevant to injectivity (x -> t x): kept to demonstrate it
        return {"name": f"bias:{s:g}", "family": "phasebias", "decider": "tree", "s": s,
                "c_min": 2.0, "label": f"b ~ N(0, {s:g}^2)"}
    raise ValueError(f"unknown phase curve {text!r}: gauss, nonneg or bias:S")


def curve_of_row(r):
    """The curve name of a phase row (None for other rows)."""
    fam = r.get("family")
    if fam == "phase":
        return "gauss"
    if fam == "phasenonneg":
        return "nonneg"
    if fam == "phasebias":
        return f"bias:{float(r['bias_scale']):g}"
    return None


def decider_of(curve_name):
    return "nonneg" if curve_name == "nonneg" else "tree"
