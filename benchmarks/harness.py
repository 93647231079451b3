"""Benchmark harness: suites, a parallel runner, ``results.json`` and plots.

Every solve is one *task* (a small dict: how to regenerate the layer, which
method, the time limit) run by :func:`run_task`, a pure function that
returns one *row*. Tasks run in parallel on local processes
(``concurrent.futures.ProcessPoolExecutor``), on a Dask cluster, or in
process; the rows do not depend on which (they are sorted, and layers are
regenerated from seeded generators in the worker).

Inside the worker every claim is re-checked independently:

* ``injective``: the certificate by :func:`solver.certificates.check_certificate`
  (exact rational arithmetic); a missing or rejected certificate makes the
  row ``verified: false``. Only ``bruteforce`` (the exact reference, which
  has no certificate format) is exempt.
* ``not_injective``: the witness by :func:`solver.certificates.check_witness`.

After the run, rows of the same instance are compared: ``agree`` is false
when a row's verdict differs from any other decided verdict on the instance
(``unknown`` never counts). Disagreements, failed verifications and
crashes are reported loudly and :func:`run_benchmark` returns exit code 1.

Sizes grow on *ladders*: one ladder per (suite, family, ratio, method) with
one rung per n; the next rung is submitted only if the method decided
something on the current one, so the full suites run until every method has
hit its time limit. A ladder may also build its next rung from the rows of
the last one (:meth:`Ladder.next_rung`; the adaptive sampling of the phase
study, :mod:`benchmarks.phase`).

With an output directory every row is appended to ``DIR/rows.jsonl`` as it
finishes (:class:`RowStream`); ``--resume`` continues a killed run from that
file, solving only what is missing (one mechanism for every suite).

Suites: ``layers``, ``inversion`` (when :mod:`solver.inversion` exists) and
``papers`` (:mod:`benchmarks.papers`).

Layout: :mod:`benchmarks.instances` (layers, generators, targets),
:mod:`benchmarks.methods` (layer methods, the re-check, agreement),
:mod:`benchmarks.inversion_suite`, :mod:`benchmarks.ladder`,
:mod:`benchmarks.runner` (executors, scheduler, row stream),
:mod:`benchmarks.suites` (plans), :mod:`benchmarks.report` (analysis, text),
:mod:`benchmarks.plots`; this module is the entry point
:func:`run_benchmark` and re-exports their public names.
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import time

from .instances import (DCGAN, DECODER, FAMILIES, FULL_GENERATORS, ISSUE15_GENERATORS, NOPEEL,
                        QUICK_GENERATORS, SHARED, VAE400, instance_name, make_generator,
                        make_layer, make_target)  # noqa: F401
from .methods import (CUSTOM_METHODS, DECIDED, HardTimeout, NO_CERTIFICATE, ORTHANT_METHODS,
                      QUICK_BACKENDS, TIMING_KEYS, available_backends, base_row,
                      bruteforce_cost, bruteforce_ok, check_orthant_witness, comparable,
                      enumeration_available, hard_limit, mark_agreement, register_method,
                      row_key, run_layer_task, solve_layer, verify_row)  # noqa: F401
from .ladder import (Ladder)  # noqa: F401
from .inversion_suite import (inversion_details, inversion_ladders, inversion_ratios,
                              inversion_table, mark_inversion_agreement,
                              run_inversion_task)  # noqa: F401
from .runner import (DaskExecutor, LocalExecutor, ROWS_FILE, RowStream, SerialExecutor,
                     load_rows, make_executor, run_ladders, run_task)  # noqa: F401
from .suites import (Config, FULL_LAYERS, N_FULL, QUICK_LAYERS, SUITES, build_plan,
                     layer_ladders, layer_methods, papers_numbers, phase_ladders,
                     phase_settings)  # noqa: F401
from .report import (TARGETS, json_default, largest_decided, report_text, speedup_at_largest,
                     speedup_by_size, speedups, summarise, targets)  # noqa: F401
from .plots import (method_style, plot_agreement, plot_inversion, plot_speedups,
                    plot_time_vs_size, pyplot, write_plots)  # noqa: F401

__all__ = ["run_benchmark", "DCGAN", "DECODER", "FAMILIES", "FULL_GENERATORS",
           "ISSUE15_GENERATORS", "NOPEEL", "QUICK_GENERATORS", "SHARED", "VAE400",
           "instance_name", "make_generator", "make_layer", "make_target", "CUSTOM_METHODS",
           "DECIDED", "HardTimeout", "NO_CERTIFICATE", "ORTHANT_METHODS", "QUICK_BACKENDS",
           "TIMING_KEYS", "available_backends", "base_row", "bruteforce_cost",
           "bruteforce_ok", "check_orthant_witness", "comparable", "enumeration_available",
           "hard_limit", "mark_agreement", "register_method", "row_key", "run_layer_task",
           "solve_layer", "verify_row", "Ladder", "inversion_details", "inversion_ladders",
           "inversion_ratios", "inversion_table", "mark_inversion_agreement",
           "run_inversion_task", "DaskExecutor", "LocalExecutor", "ROWS_FILE", "RowStream",
           "SerialExecutor", "load_rows", "make_executor", "run_ladders", "run_task",
           "Config", "FULL_LAYERS", "N_FULL", "QUICK_LAYERS", "SUITES", "build_plan",
           "layer_ladders", "layer_methods", "papers_numbers", "phase_ladders",
           "phase_settings", "TARGETS", "json_default", "largest_decided", "report_text",
           "speedup_at_largest", "speedup_by_size", "speedups", "summarise", "targets",
           "method_style", "plot_agreement", "plot_inversion", "plot_speedups",
           "plot_time_vs_size", "pyplot", "write_plots"]


def run_benchmark(out=None, *, suites=None, quick=False, workers=None, dask=None, client=None,
                  time_limit=None, seeds=None, max_n=None, progress=True, plots=True,
                  ladders=None, cfg=None, verbose=True, budget=None, resume=False):
    """Run the suites and write ``out/results.json`` (+ plots, summary.txt).

    With ``out``, every row is also appended to ``out/rows.jsonl`` as it
    finishes (:class:`RowStream`); ``resume=True`` continues a killed or
    finished run there: the stored rows are reused instead of solved again
    (the plan may be extended: new tasks are solved), and stored rows outside
    the plan are kept in the results.

    Returns ``(results, exit_code)``; the exit code is 1 if any method
    disagreed, any certificate or witness failed its independent check, or
    any solve crashed.
    """
    suites = list(suites or SUITES)
    bad = [s for s in suites if s not in SUITES]
    if bad:
        raise ValueError(f"unknown suite(s) {bad}; choose from {', '.join(SUITES)}")
    cfg = cfg or Config(quick=quick, time_limit=time_limit, seeds=seeds, max_n=max_n)
    t0 = time.perf_counter()
    info = {}
    if ladders is None:
        ladders, info = build_plan(cfg, suites)
    papers = papers_numbers(cfg) if "papers" in suites else {}
    if papers and verbose:
        print(f"[bench] Theorem 6: c* = {papers['c_star']:.6f}", file=sys.stderr)
    stream = None if out is None else RowStream(pathlib.Path(out) / ROWS_FILE, resume=resume)
    if stream is not None and resume and verbose:
        print(f"[bench] resuming: {len(stream.done)} stored rows in {stream.path}",
              file=sys.stderr)
    executor = make_executor(workers, dask, client)
    status = {}
    try:
        rows = run_ladders(ladders, executor, progress=progress, budget=budget, status=status,
                           stream=stream)
    finally:
        executor.close()
        if stream is not None:
            stream.close()
    carried = stream.unused() if stream is not None else []
    rows += carried
    rows.sort(key=row_key)
    problems = mark_inversion_agreement(rows) + mark_agreement(rows)
    summary = summarise(rows, papers)
    if summary.get("phase_transition"):
        from .phase import problems as phase_problems
        problems += phase_problems(summary["phase_transition"])
    results = {"rows": rows,
               "summary": summary,
               "papers": papers,
               "problems": problems,
               "config": {"suites": suites, "quick": cfg.quick, "time_limit": cfg.tl(),
                          "seeds": cfg.seeds, "max_n": cfg.max_n, "executor": executor.name,
                          "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                          "budget": budget, "stopped_by": status.get("stopped_by"),
                          "resumed": bool(resume), "rows_reused": status.get("reused", 0),
                          "rows_carried": len(carried),
                          "wall_seconds": time.perf_counter() - t0, **info}}
    text = report_text(results)
    if out is not None:
        out = pathlib.Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if plots:
            results["config"]["plots"] = write_plots(results, out)
        with open(out / "results.json", "w") as fh:
            json.dump(results, fh, indent=1, default=json_default)
        (out / "summary.txt").write_text(text + "\n")
    if verbose:
        print(text)
        if problems:
            print(f"reluinj bench: {len(problems)} problem(s); see {out or 'results'}",
                  file=sys.stderr)
    return results, (1 if problems else 0)
