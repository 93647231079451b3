"""MILP witness search: a MILP proposes a sign pattern, exact arithmetic
decides. Nothing here can produce an "injective" verdict.

A MILP over a box [-R, R]^n with big-M constants is not a decision
procedure: thin bad cells may lie entirely outside any fixed box (a miss), and
large boxes push the solver past its tolerances (spurious "witnesses").
So a solution is decoded to its active set only; the witness is rebuilt from
an exact kernel vector and a scale-free LP and checked in rational
arithmetic (:func:`solver.witness.witness_from_active_set`).
"""
from __future__ import annotations

import time

from .deadline import Deadline
from .netmilp import solve_model
from .witness import witness_from_active_set

__all__ = ["milp_witness_search"]


def milp_witness_search(W, b, backend, *, formulation="rankdef", box=1e3, margin=1e-6,
                        time_limit=None):
    """Return ``(witness_pair or None, info dict)``. ``time_limit`` covers the
    whole call: building the model, the solve and the exact re-derivation."""
    start = time.monotonic()
    deadline = Deadline.after(time_limit, start).at
    from .formulations import few_active_milp, rank_deficient_milp
    build = {"rankdef": rank_deficient_milp, "fewactive": few_active_milp}.get(formulation)
    if build is None:
        from .errors import InputError
        raise InputError(f"formulation must be 'rankdef' or 'fewactive'; got {formulation!r}")
    if Deadline(deadline).expired():    # building takes seconds on large layers
        return None, {"milp_status": "time_limit", "milp_seconds": 0.0,
                      "milp_backend": backend.name, "milp_box": box}
    F = build(W, b, box=box, margin=margin)
    # half of what is left: the engine's own clock starts only after the model
    # is handed over (seconds on large layers), and the exact re-derivation and
    # the sign tree come after it; too little: not started (solve_model)
    sol, _ = solve_model(F.model, backend, time_limit=Deadline(deadline).share(0.5))
    info = {"milp_status": sol.status.value, "milp_seconds": round(sol.seconds, 6),
            "milp_backend": backend.name, "milp_box": box}
    if sol.x is None:
        return None, info
    active = F.decode(sol.x)
    w = witness_from_active_set(W, b, active, deadline=deadline)
    info["milp_candidate_verified"] = w is not None
    return w, info
