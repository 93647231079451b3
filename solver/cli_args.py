"""Argument types and the parser class shared by the ``reluinj`` subcommands
(:mod:`solver.cli`, :mod:`solver.stability_cli`, ...): a usage error is one
line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import math

__all__ = ["OneLineParser", "nonneg_seconds", "positive_number", "count"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, exit 2."""

    def error(self, message):  # one line, exit 2 (argparse prints usage too)
        self.exit(2, f"reluinj: error: {message}\n")


def nonneg_seconds(text):
    """argparse type: a finite number of seconds >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return v


def positive_number(text):
    """argparse type: a finite number > 0."""
    v = nonneg_seconds(text)
    if v == 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def count(minimum):
    """argparse type: an integer >= ``minimum``."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return v
    parse.__name__ = f"integer >= {minimum}"
    return parse
