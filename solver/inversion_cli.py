"""Old import path, kept as a re-export only: see :mod:`solver.inversion.cli`."""
from .inversion.cli import (METHODS, load_target, cmd_invert, summary_lines,
                            add_invert_subparser)  # noqa: F401

__all__ = ["METHODS", "load_target", "cmd_invert", "summary_lines", "add_invert_subparser"]
