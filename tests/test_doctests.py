"""The Examples sections of the docstrings are executed: a documented call
that stops working fails here."""
import doctest
import importlib
import pkgutil

import pytest

import solver
from benchmarks import phase

MODULES = sorted(m.name for m in pkgutil.walk_packages(solver.__path__, "solver.")
                 if not m.name.endswith("__main__")) + [
    "benchmarks.papers", "benchmarks.phasefit"] + sorted(
    m.name for m in pkgutil.walk_packages(phase.__path__, "benchmarks.phase.")
    if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {name}"


def test_the_documented_modules_have_examples():
    """Guard against the parametrisation silently collecting nothing."""
    with_examples = [n for n in MODULES
                     if doctest.DocTestFinder().find(importlib.import_module(n))
                     and any(t.examples for t in
                             doctest.DocTestFinder().find(importlib.import_module(n)))]
    assert {"solver.layer", "solver.snap", "solver.network.check"} <= set(with_examples)
