"""``check_layer``: the public entry point for one layer.

Methods (one contract, like networkx's ``flow_func``):

* ``"tree"``  sign-tree search (:mod:`solver.search`); proves both ways.
* ``"milp"``  MILP witness search through a backend (:mod:`solver.backends`,
  :mod:`solver.formulations`), every candidate re-derived by a scale-free LP
  and checked exactly; if no witness is found, the sign-tree search proves
  (or not) injectivity. A MILP "infeasible" is never taken as a proof: its box
  and big-M constants make it unsound on thin cells.
* ``"enumerate"``  every open cell (:mod:`solver.enumeration`).
* ``"bruteforce"``  hyperplane enumeration with the exact simplex
  (:mod:`solver.bruteforce`); tiny layers only.
* ``"auto"``  ``"milp"`` when a backend is named, otherwise ``"tree"``.
"""
from __future__ import annotations

import dataclasses
import time

from .deadline import Deadline
from . import exact
from .io import validate_layer
from .errors import InputError
from .result import LayerResult, Verdict, Witness
from .search import sign_tree_search
from .snap import DEFAULT_RTOL as SNAP_RTOL, snap_coincident_rows

__all__ = ["METHODS", "DEPTH_FROM_N", "DEPTH_SHARE", "check_layer", "check_layer_snapped",
           "verify_result"]

METHODS = ("auto", "tree", "milp", "enumerate", "bruteforce")


def _result(verdict, witness, method, start, message, W, certificate=None, stats=None):
    m, n = W.shape
    return LayerResult(Verdict(verdict), Witness.of(witness), method, time.monotonic() - start,
                       message, m, n, certificate, dict(stats or {}))


def _remaining(start, time_limit):
    return Deadline.after(time_limit, start).remaining()


#: the sign tree's reach: beyond this n, with a time limit, part of it goes to
#: certifying how many rows are active everywhere (solver.depth), reported
#: with an ``unknown`` as what was proved
DEPTH_FROM_N = 14
DEPTH_SHARE = 0.25


def _depth_applies(W, time_limit):
    m, n = W.shape
    return time_limit is not None and n >= DEPTH_FROM_N and m >= 4 * n


def _depth_after(W, b, seconds):
    """``(proved text, depth certificate)`` for wide layers past the tree's
    reach, or ``(None, None)``: what :mod:`solver.depth` certifies in
    ``seconds`` after the sign tree stopped."""
    from .depth import certify_depth
    if seconds is None or seconds <= 0:        # (every group sets up an LP: not for free)
        return None, None
    r = certify_depth(W, b, time_limit=seconds)
    if r.total == 0:
        return None, None
    text = (f"every generic x has at least {r.total} active rows (certified, "
            f"{len(r.groups)} groups of rows: {'+'.join(map(str, r.depth))}); a bad point "
            f"needs that many rows in one hyperplane through 0, so the layer is injective "
            f"if no hyperplane holds {r.total} rows (general position, not certified)")
    return text, r.certificate


def _tree(W, b, start, time_limit, max_nodes, label="sign-tree", extra=None, workers=1,
          dask=None, checkpoint=None, progress=None, subtrees=None, prepared=None):
    # past the tree's reach the last DEPTH_SHARE of the limit goes to the depth
    # certificate; the tree (its witness presolve included) runs first, so a
    # cheap witness is never delayed by it
    depth_next = _depth_applies(W, time_limit)
    remaining = _remaining(start, time_limit)
    if depth_next:
        remaining *= 1.0 - DEPTH_SHARE
    if dask is not None:
        from .distributed import dask_client, parallel_search
        with dask_client(dask, workers, 10.0 if remaining is None else min(10.0, remaining)) \
                as client:
            out = parallel_search(W, b, time_limit=remaining, client=client,
                                  checkpoint=checkpoint, progress=progress, prepared=prepared,
                                  **_split(subtrees))
    elif (workers and workers > 1 and max_nodes is None) or checkpoint is not None \
            or subtrees is not None:
        from .distributed import parallel_search
        out = parallel_search(W, b, time_limit=remaining, workers=workers, checkpoint=checkpoint,
                              progress=progress, prepared=prepared, **_split(subtrees))
    else:
        out = sign_tree_search(W, b, time_limit=remaining, max_nodes=max_nodes, progress=progress,
                               prepared=prepared)
    proved = partial = None
    if out.verdict == "unknown" and depth_next:
        proved, partial = _depth_after(W, b, _remaining(start, time_limit))
    stats = out.stats.as_dict()
    stats.update(extra or {})
    res = _result(out.verdict, out.witness, label, start, out.reason, W, out.certificate, stats)
    if out.verdict == "unknown" and proved is not None:
        res = dataclasses.replace(res, proved=proved, partial=partial)
    return res


def _split(subtrees):
    """``parallel_search`` keyword for the number of subtrees (default its own)."""
    return {} if subtrees is None else {"min_tasks": int(subtrees)}


def _milp(W, b, start, time_limit, max_nodes, backend, formulation, box, workers=1, dask=None,
          checkpoint=None, progress=None, subtrees=None):
    from .milp_search import milp_witness_search
    from .search import prepare
    be = backend                  # (resolved by check_layer before its clock started)
    label = f"milp-{formulation}[{be.name}]"
    # the sign tree is set up first: its set-up cannot be interrupted (about
    # 0.5 s on a 3000 x 30 layer, 1.5 s on the loaded machine), and after the
    # MILP it started with the limit nearly spent and overran it
    prepared = prepare(W, b, Deadline.after(time_limit, start).at)
    if prepared[1] is not None:   # the presolve's witness
        return _tree(W, b, start, time_limit, max_nodes, label=label + "+sign-tree",
                     extra={"milp_status": "not run: the tree's presolve found a witness"},
                     prepared=prepared)
    budget = _remaining(start, time_limit)
    with progress.ticking(phase="MILP witness search"):
        found, info = milp_witness_search(W, b, be, formulation=formulation, box=box,
                                          time_limit=budget)
    if found is not None:
        return _result("not_injective", found, label, start,
                       "MILP candidate sign pattern turned into an exact witness", W,
                       stats=info)
    if time_limit is not None and _remaining(start, time_limit) <= 0:
        return _result("unknown", None, label, start, "time_limit", W, stats=info)
    return _tree(W, b, start, time_limit, max_nodes, label=label + "+sign-tree", extra=info,
                 workers=workers, dask=dask, checkpoint=checkpoint, progress=progress,
                 subtrees=subtrees, prepared=prepared)


def check_layer(W, b=None, *, time_limit=None, backend=None, method="auto",
                max_nodes=None, max_cells=None, formulation="rankdef", box=1e3,
                progress=False, workers=1, dask=None, checkpoint=None,
                subtrees=None) -> LayerResult:
    """Decide whether ``x -> ReLU(W x + b)`` is injective on all of R^n.

    Parameters
    ----------
    W : array (m, n); b : array (m,) or None (zeros).
    time_limit : seconds or None. When it is hit the verdict is ``unknown``.
    backend : MILP engine name (``"scip"``, ``"highs"``, ``"cbc"``, ...);
        implies ``method="milp"`` under ``"auto"``.
    method : one of ``METHODS``.
    max_nodes, max_cells : search budgets (tree / enumeration).
    progress : show live progress on stderr (tqdm): nodes explored and closed,
        open subtrees, elapsed time against the limit.
    workers : processes for the sign-tree search (subtrees in parallel; with
        ``dask="local"`` the number of local Dask workers).
    dask : None, ``"local"`` or a Dask scheduler address: one sign-tree proof
        split into subtrees run as Dask tasks (:mod:`solver.distributed`).
    checkpoint : path of a JSON-lines file keeping finished subtrees, so that
        an interrupted proof resumes with them (implies the parallel search).
    subtrees : split one proof into at least this many subtrees (default
        :data:`solver.distributed.MIN_TASKS`, 256; implies the parallel
        search). The certificate depends on it, never on ``workers``; clusters
        of more than ~32 workers need a finer split (measured, n = 10, m = 6n:
        with 256 subtrees the largest bounds 128 workers to 21x; with 2048
        they gain 76x, for 26 % more work in all; see
        benchmarks/results/2026-11-27/perf).
    formulation, box : MILP witness search only (``"rankdef"`` or
        ``"fewactive"``); the box bounds the *search*, never the verdict.

    Returns
    -------
    LayerResult. ``not_injective`` carries a witness checked in exact
    rational arithmetic against the binary64 weights; ``injective`` carries a
    certificate accepted by :func:`solver.certificates.check_certificate`.

    Raises
    ------
    InputError for bad shapes, NaN/inf, empty matrices, unknown options.

    References
    ----------
    Puthawala et al., *Globally injective ReLU networks*, Theorem 1 (affine
    form; the paper's Lemma 1 "only if" is not used: it is false, e.g.
    W = [1; -1], b = [1; -1] is injective).

    Examples
    --------
    >>> import numpy as np
    >>> check_layer(np.array([[1.0], [-1.0]]), np.array([1.0, -1.0])).verdict.value
    'injective'
    >>> r = check_layer(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
    >>> r.verdict.value, r.witness is not None
    ('not_injective', True)
    """
    W, b = validate_layer(W, b)
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    from .deadline import validate_time_limit
    validate_time_limit(time_limit)
    if method == "auto":
        method = "milp" if backend else "tree"
    if method == "milp":
        # the engine's import is start-up, not search (0.4 s, over 1 s on the
        # loaded machine: most of a small limit); an unknown name fails here
        from .backends import DEFAULT_BACKEND, get_backend
        if not hasattr(backend, "solve"):
            backend = get_backend(backend or DEFAULT_BACKEND)
    start = time.monotonic()
    if method in ("tree", "milp"):
        from .progress import Progress
        bar = Progress(progress, time_limit, desc="sign tree" if method == "tree" else "MILP + tree")
        try:
            if method == "tree":
                return _tree(W, b, start, time_limit, max_nodes, workers=workers, dask=dask,
                             checkpoint=checkpoint, progress=bar, subtrees=subtrees)
            return _milp(W, b, start, time_limit, max_nodes, backend, formulation, box, workers,
                         dask, checkpoint, progress=bar, subtrees=subtrees)
        finally:
            bar.close()
    if method == "enumerate":
        from .enumeration import decide_by_enumeration
        d = decide_by_enumeration(W, b, max_cells=max_cells,
                                  time_limit=_remaining(start, time_limit), progress=progress)
        return _result(d.verdict, d.witness, "enumerate", start, d.reason, W, d.certificate,
                       {"cells": d.cells, "complete": d.complete})
    from .bruteforce import decide_bruteforce
    verdict, w = decide_bruteforce(W, b, time_limit=_remaining(start, time_limit))
    msg = {"injective": "no hyperplane spanned by rows admits a bad point (exact simplex)",
           "not_injective": "a hyperplane spanned by rows admits a bad point",
           "unknown": "time_limit"}[verdict]
    if verdict == "not_injective" and w is None:
        verdict, msg = "unknown", "no exact witness produced"
    return _result(verdict, w, "bruteforce", start, msg, W)


def check_layer_snapped(W, b=None, *, rtol=SNAP_RTOL, **options):
    """Decide the layer with its near-coincident rows snapped (see
    :func:`solver.snap.snap_coincident_rows`).

    Returns ``(snap, result)``: ``result`` is the :class:`LayerResult` of
    :func:`solver.check_layer` on ``(snap.W, snap.b)`` (its certificate or
    witness is about the *snapped* layer and verifies against it), or None
    when nothing was snapped (then the snapped layer is the layer itself).
    This never replaces the verdict on the original weights; it says whether
    a bad cell there is only a rounding artefact.

    Examples
    --------
    >>> import numpy as np
    >>> B = np.array([[1.0, 0.1], [0.3, 1.0]])
    >>> snap, res = check_layer_snapped(np.vstack([B, -0.3 * B]))
    >>> len(snap.rows), res.verdict.value
    (2, 'injective')
    """
    W, b = validate_layer(W, b)
    snap = snap_coincident_rows(W, b, rtol)
    if not snap.changed:
        return snap, None
    return snap, check_layer(snap.W, snap.b, **options)


def verify_result(W, b, result: LayerResult):
    """Re-check a result's witness or certificate independently.
    Returns ``(ok, reason)``; ``unknown`` results verify trivially."""
    from .certificates import check_certificate
    W, b = validate_layer(W, b)
    if result.verdict is Verdict.NOT_INJECTIVE:
        return exact.check_layer_witness(W, b, result.witness.x1, result.witness.x2)
    if result.verdict is Verdict.INJECTIVE:
        return check_certificate(W, b, result.certificate)
    return True, "nothing claimed"
