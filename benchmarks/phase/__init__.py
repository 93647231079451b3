"""The exact phase transition of P(injective) for Gaussian ReLU layers.

For ``W`` (m x n) with iid N(0, 1) entries, how does the probability that
``x -> ReLU(W x + b)`` is injective depend on ``c = m / n``? Every layer is
decided exactly by :func:`solver.check_layer` (``injective`` with a
certificate, ``not_injective`` with an exact witness, both re-checked in the
worker by the harness); a layer the solver cannot decide in its time limit is
an ``unknown``, counted and reported, never guessed.

Curves (``--phase-curve``):

* ``gauss``: ``b = 0`` (family ``phase``; with the Figure 2 test
  ``dss-mean`` and, on tiny layers, the brute force on the same layers);
* ``bias:S``: the same matrices with ``b = S z``, ``z ~ N(0, I)`` (family
  ``phasebias``);
* ``nonneg``: the same matrices, injectivity on ``x >= 0`` only (Remark 1 of
  Puthawala et al.; :func:`solver.check_layer_nonneg`, family ``phasenonneg``).

Sampling is adaptive (:class:`AdaptiveLadder`): a coarse grid of ``c`` first,
then rounds of layers where the fitted probability is between 0.05 and 0.95,
until the bootstrap interval of the 50 % point is at most ``+-target``.

:func:`summarise` turns rows into the numbers (:mod:`benchmarks.phasefit`:
logistic fit per n, c50 with a 95 % bootstrap interval, width; finite-size
extrapolation; the n = 2 closed form test; the Figure 2 test against the exact
curve; cross-checks between the curves), the ``plot_*`` functions draw them
from the summary alone, and ``python -m benchmarks.phase DIR --out OUT``
writes ``summary.json``, the plots and the compressed rows of a run.

References
----------
M. Puthawala et al., *Globally injective ReLU networks*, JMLR 2022 (Theorem 6:
c* ~ 3.4; c <= 10.5 suffices; Figure 2; Remark 1).
A. Maillard, A. S. Bandeira, D. Belius, I. Dokmanic, S. Nakajima, *Injectivity
of ReLU networks: perspectives from statistical physics*, 2023 (c ~ 6.698).

Layout: :mod:`~benchmarks.phase.curves` (the curves), :mod:`~benchmarks.phase.sampler`
(settings, tasks, the adaptive sampler), :mod:`~benchmarks.phase.summary` (fits per
(curve, n) and the summary), :mod:`~benchmarks.phase.closedform` (n = 2),
:mod:`~benchmarks.phase.figure2` (Figure 2's test), :mod:`~benchmarks.phase.crosschecks`
(exact relations between curves), :mod:`~benchmarks.phase.extrapolation`,
:mod:`~benchmarks.phase.tables` (text and README tables), :mod:`~benchmarks.phase.plots`,
:mod:`~benchmarks.phase.cli` (``python -m benchmarks.phase``).
"""
from .cli import main, read_rows, report
from .crosschecks import bias_bounds, cross_checks
from .curves import DECIDED, curve_of_row, decider_of, parse_curve
from .plots import plot_c50, plot_dss, plot_transition, plot_variants, write_plots
from .sampler import (FULL, MAX_UNKNOWN_FRACTION, QUICK, AdaptiveLadder, counts_by_m, ladders,
                      layer_tasks, make_task, plan_round, settings)
from .summary import curve_n_summary, problems, summarise
from .tables import README_MARKERS, RESULTS, fill_readme, markdown_table, readme_table, table_text

__all__ = ["DECIDED", "RESULTS", "README_MARKERS", "MAX_UNKNOWN_FRACTION", "QUICK", "FULL",
           "parse_curve", "curve_of_row", "decider_of", "settings", "make_task", "layer_tasks",
           "counts_by_m", "plan_round", "AdaptiveLadder", "ladders", "curve_n_summary",
           "summarise", "problems", "cross_checks", "bias_bounds", "table_text",
           "markdown_table", "fill_readme", "readme_table", "plot_transition", "plot_c50",
           "plot_dss", "plot_variants", "write_plots", "read_rows", "report", "main"]
