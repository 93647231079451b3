"""MILP backends behind one narrow interface (:mod:`solver.backends.base`).

Registry names
--------------
========== ===================================================
``scip``        SCIP via ortools ``pywraplp`` (the default)
``highs``       HiGHS via ortools MathOpt
``cbc``         CBC via ortools ``pywraplp``
``pulp-cbc``    CBC via PuLP (bundled binary, subprocess)
``pulp-highs``  HiGHS via PuLP (highspy; see below)
``scipy-highs`` HiGHS via :func:`scipy.optimize.milp`
========== ===================================================

Importing this package imports no engine: each backend imports its engine
inside ``available()`` / ``solve()``.

highspy and ortools both ship libhighs and cannot be loaded in one process.
:func:`available_backends` asks the ortools backends first, so in a process
that uses ortools ``"pulp-highs"`` reports itself unavailable (it is also
unavailable whenever highspy is not installed).

Example
-------
>>> import numpy as np
>>> from solver.backends import MilpModel, get_backend
>>> mdl = MilpModel(c=[-1.0, -1.0], A=[[2.0, 2.0]], row_lb=[-np.inf], row_ub=[3.0],
...                 lb=[0, 0], ub=[5, 5], integrality=[True, True])
>>> sol = get_backend("scip").solve(mdl)
>>> sol.status.value, round(sol.objective)
('optimal', -1)
"""
from __future__ import annotations

from ..errors import InputError
from .base import Backend, MilpModel, MilpSolution, MilpStatus
from .ortools_backend import OrtoolsCbcBackend, OrtoolsHighsBackend, OrtoolsScipBackend
from .pulp_backend import PulpCbcBackend, PulpHighsBackend
from .scipy_backend import ScipyHighsBackend

__all__ = ["MilpStatus", "MilpModel", "MilpSolution", "Backend", "BACKENDS", "DEFAULT_BACKEND",
           "get_backend", "available_backends"]

#: registry name -> backend class (instances are cheap and stateless)
BACKENDS: dict[str, type[Backend]] = {
    "scip": OrtoolsScipBackend,
    "highs": OrtoolsHighsBackend,
    "cbc": OrtoolsCbcBackend,
    "pulp-cbc": PulpCbcBackend,
    "pulp-highs": PulpHighsBackend,
    "scipy-highs": ScipyHighsBackend,
}

DEFAULT_BACKEND = "scip"


def get_backend(name: str) -> Backend:
    """The backend registered as ``name``.

    Parameters
    ----------
    name : one of ``BACKENDS`` (case-insensitive).

    Returns
    -------
    Backend instance.

    Raises
    ------
    InputError if the name is unknown (the message lists the valid names) or
    the engine cannot be used in this process.
    """
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key not in BACKENDS:
        raise InputError(f"unknown MILP backend {name!r}; choose one of {', '.join(BACKENDS)}")
    backend = BACKENDS[key]()
    if not backend.available():
        usable = available_backends()
        raise InputError(f"MILP backend {key!r} is not available in this process; "
                         f"available: {', '.join(usable) or 'none'}")
    return backend


def available_backends() -> list[str]:
    """Names of the backends usable in this process, in registry order."""
    out = []
    for name, cls in BACKENDS.items():
        try:
            if cls().available():
                out.append(name)
        except Exception:  # available() must not raise, but never trust an engine
            pass
    return out
