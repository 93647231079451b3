"""``python -m benchmarks.phase DIR --out OUT``: read the rows of a run,
write ``summary.json``, ``table.txt``, the plots and the compressed rows
(:func:`report`), optionally the README table."""
from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys

from ..report import json_default
from ..runner import load_rows
from .curves import curve_of_row
from .plots import write_plots
from .summary import problems, summarise
from .tables import README_MARKERS, fill_readme, table_text

__all__ = ["read_rows", "report", "main"]


def _slim(row):
    """A row for the compressed raw rows: null fields dropped, timings rounded
    to 0.1 ms (the digits below are noise, and they are most of the bytes)."""
    from ..methods import TIMING_KEYS
    return {k: (round(v, 4) if k in TIMING_KEYS and isinstance(v, float) else v)
            for k, v in row.items() if v is not None}


def read_rows(source):
    """The rows of a run directory (``DIR/rows.jsonl``), a ``rows.jsonl`` file, or a
    ``rows.jsonl.gz`` written by :func:`report`."""
    from ..runner import ROWS_FILE
    source = pathlib.Path(source)
    if source.is_dir():
        source = source / ROWS_FILE
    if source.suffix == ".gz":
        with gzip.open(source, "rt") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    return load_rows(source)


def report(source, out, resamples=2000, n_min=3, target=0.1):
    """Read the rows of ``source`` (:func:`read_rows`), write ``out/summary.json``,
    ``out/table.txt`` (:func:`table_text`), the plots and ``out/rows.jsonl.gz``
    (the phase rows, :func:`_slim`). Returns the summary."""
    rows = [r for r in read_rows(source) if curve_of_row(r)]
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(rows, resamples=resamples, n_min=n_min, target=target)
    summary["plots"] = write_plots(summary, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=json_default))
    (out / "table.txt").write_text(table_text(summary) + "\n")
    rows.sort(key=lambda r: (r["family"], r.get("bias_scale") or 0, r["n"], r["m"], r["seed"],
                             r["method"]))
    with gzip.open(out / "rows.jsonl.gz", "wt", compresslevel=9) as fh:
        for r in rows:
            fh.write(json.dumps(_slim(r), default=json_default) + "\n")
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.phase",
                                 description="Summarise the phase-transition rows of a bench run "
                                             "(DIR/rows.jsonl, or a rows.jsonl[.gz] file): "
                                             "summary.json, plots, rows.jsonl.gz")
    ap.add_argument("run_dir", metavar="DIR|FILE")
    ap.add_argument("--out", required=True, metavar="OUT")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--n-min", type=int, default=3, help="smallest n in the extrapolation")
    ap.add_argument("--target", type=float, default=0.1, help="wanted half-width of the c50 CI")
    ap.add_argument("--readme", metavar="FILE",
                    help="also write the c50 table into FILE between "
                         f"{README_MARKERS[0]} and {README_MARKERS[1]}")
    a = ap.parse_args(argv)
    try:
        s = report(a.run_dir, a.out, a.resamples, a.n_min, a.target)
        if a.readme:
            fill_readme(a.readme, s)
    except (OSError, ValueError) as exc:
        print(f"benchmarks.phase: error: {exc}", file=sys.stderr)
        return 2
    print(table_text(s))
    bad = problems(s)
    for p in bad:
        print("!!! " + json.dumps(p), file=sys.stderr)
    return 1 if bad else 0
