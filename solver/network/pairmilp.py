"""The two-copy MILP: a search for ``z1 != z2`` with equal outputs over a
box (big-M from bound propagation). Witnesses only: a candidate is refined
exactly by :class:`solver.network.pairs.PairDecider`; finding nothing proves
nothing.

References
----------
Tjeng, Xiao, Tedrake, "Evaluating robustness of neural networks with mixed
integer programming", ICLR 2019 (the big-M encoding).
"""
from __future__ import annotations

import time

import numpy as np

from .pairs import PairDecider
from .regions import region_of_pattern

__all__ = ["search_pair_milp", "DEFAULT_DELTA_FRACTION", "MILP_MAX_BOUND"]

DEFAULT_DELTA_FRACTION = 1e-3   # MILP separation delta = fraction * R
MILP_MAX_BOUND = 1e9        # the MILP is not built with pre-activation bounds larger than this


def search_pair_milp(network, *, box, domain="all", delta=None, backend=None,
                     time_limit=None, tighten=True, max_rounds=5):
    """Two copies of the network in one MILP over the box: ``N(z1) = N(z2)``,
    ``z1_j - z2_j >= delta`` for some j (binaries; by symmetry one side
    suffices). Big-M constants from :func:`solver.bounds.propagate_bounds`
    over the box. A solution is only a hint: its two activation patterns
    are re-solved exactly (:class:`PairDecider`) and the pair is checked
    through the network in rational arithmetic. A candidate whose patterns
    hold no exact pair is cut off (no-good cut on the binaries) and the MILP
    solved again, ``max_rounds`` times at most.

    Returns ``(witness_pair or None, info dict)``. Never proves injectivity.
    """
    from ..bounds import propagate_bounds
    from ..netmilp import MilpBuilder, encode_network, solve_model
    start = time.monotonic()
    n = network.n_in
    R = float(box)
    lo = np.zeros(n) if domain == "nonneg" else np.full(n, -R)
    hi = np.full(n, R)
    delta = float(delta if delta is not None else DEFAULT_DELTA_FRACTION * R)
    info = {"milp_box": R, "milp_delta": delta}
    bstats = {}
    left = None if time_limit is None else 0.3 * time_limit
    with np.errstate(all="ignore"):
        bounds = propagate_bounds(network, lo, hi, tighten=tighten, time_limit=left,
                                  stats=bstats)
    info["bound_lps"] = bstats.get("lps", 0)
    top = max(float(np.max(np.abs(np.concatenate([bl, bh])))) for bl, bh in bounds)
    if not top <= MILP_MAX_BOUND:
        info["milp_error"] = (f"the two-copy MILP was not run: pre-activation bounds up to "
                              f"{top:.3g} over the box (above {MILP_MAX_BOUND:g}, solver "
                              "tolerances are meaningless)")
        return None, info
    B = MilpBuilder()
    e1 = encode_network(B, network, bounds, box=(lo, hi), prefix="a_")
    e2 = encode_network(B, network, bounds, box=(lo, hi), prefix="b_")
    B.add_rows([(1.0, e1.post[-1]), (-1.0, e2.post[-1])], 0.0, 0.0)
    width = hi - lo
    p = B.add_binaries(n)
    # z1_j - z2_j >= delta p_j - width_j (1 - p_j)
    B.add_rows([(1.0, e1.z), (-1.0, e2.z), (-(delta + width), p)], -width, np.inf)
    B.add_row(p, np.ones(n), 1.0, np.inf)
    info.update(B.stats())
    pd = PairDecider(network, n)
    bins = np.concatenate([b[b >= 0] for b in e1.binaries + e2.binaries]).astype(int)
    info["milp_rounds"] = 0
    info["milp_seconds"] = 0.0
    for _ in range(max_rounds):
        remaining = None if time_limit is None else time_limit - (time.monotonic() - start)
        if remaining is not None and remaining <= 0.5:
            break
        sol, name = solve_model(B.build(), backend, time_limit=remaining)
        info["milp_rounds"] += 1
        info.update(milp_backend=name, milp_status=str(getattr(sol.status, "value", sol.status)))
        info["milp_seconds"] = round(info["milp_seconds"] +
                                     float(getattr(sol, "seconds", 0.0) or 0.0), 6)
        if sol.x is None:
            return None, info
        x = np.asarray(sol.x)
        ra = region_of_pattern(network, e1.decode_pattern(x), domain, box)
        rb = region_of_pattern(network, e2.decode_pattern(x), domain, box)
        out = pd.decide(ra, rb)
        info["milp_candidate"] = out[0]
        if out[0] == "witness":
            return out[1], info
        if not len(bins):
            break
        # no-good cut: this pair of activation patterns holds no exact pair
        on = np.asarray(x)[bins] > 0.5
        B.add_row(bins, np.where(on, -1.0, 1.0), 1.0 - float(on.sum()), np.inf)
    return None, info
