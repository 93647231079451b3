"""The shape of the ``solver`` package (issue 12): no import circles, and the
benchmarks package is a client of ``solver``, never a dependency of it.

The import graph is read from the source with :mod:`ast` (every ``import``
statement, at module level *and* deferred inside functions: a circle hidden
in a function is still a circle between the two modules' concepts), so the
test fails as soon as one edge closes a cycle, whatever the import order.
"""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "solver"


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(name):
    """``(target_module, imported_name_or_None, lineno, at_module_level)`` for
    every import statement of module ``name`` (relative imports resolved)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    top_level = {id(n) for n in tree.body}
    for block in tree.body:          # module level includes if/try blocks at the top
        if isinstance(block, (ast.If, ast.Try)):
            top_level |= {id(n) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, node.lineno, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:               # from . import exact
                    yield sub, None, node.lineno, id(node) in top_level
                else:
                    yield target, a.name, node.lineno, id(node) in top_level


def _graph():
    return {name: {t for t, _, _, _ in _imports(name) if t in MODULES and t != name}
            for name in MODULES}


def _find_cycle(graph):
    """One cycle as a list of modules, or None (iterative depth-first search)."""
    state = {}                      # 1 on the stack, 2 done
    for root in sorted(graph):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def test_the_cycle_finder_finds_cycles():
    """The checker itself, on graphs with a known answer."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    cyc = _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert cyc is not None and cyc[0] == cyc[-1] and set(cyc) == {"a", "b", "c"}
    assert _find_cycle({"a": {"a"}}) == ["a", "a"]


def test_the_graph_sees_deferred_and_relative_imports():
    """Guard against a parser that silently sees no edges."""
    g = _graph()
    assert "solver.search" in g["solver.layer"]             # from .search import ... (top)
    assert "solver.exact" in g["solver.layer"]              # from . import exact
    assert "solver.distributed" in g["solver.layer"]        # deferred, inside a function
    assert "solver.certificates.checker" in g["solver.search"]
    assert sum(map(len, g.values())) > 100


def test_no_import_cycles_in_solver():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_solver_imports_benchmarks_only_for_the_bench_command():
    """benchmarks builds on solver; the one way back is solver.cli loading the
    ``bench`` subcommand when it is asked for."""
    uses = [(name, line) for name in MODULES for t, _, line, _ in _imports(name)
            if t.split(".")[0] == "benchmarks"]
    assert [name for name, _ in uses] == ["solver.cli"], uses


def test_every_module_imports_in_a_fresh_interpreter():
    """Import every module (in sorted order) in a new interpreter, build the
    command-line parser for ``check``, and confirm that benchmarks was not
    loaded on the way; ``bench`` is then loaded on demand."""
    names = sorted(n for n in MODULES if not n.endswith("__main__"))
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "from solver.cli import build_parser, BENCH_HELP\n"
        "build_parser(['check', 'x.npz'])\n"
        "assert not any(m.split('.')[0] == 'benchmarks' for m in sys.modules), 'benchmarks loaded'\n"
        "p = build_parser(['bench', '--help'])\n"
        "assert 'benchmarks.cli' in sys.modules\n"
        "sub = next(a for a in p._actions if a.dest == 'command')\n"
        "helps = {c.dest: c.help for c in sub._choices_actions}\n"
        "assert helps['bench'] == BENCH_HELP, helps['bench']\n"
        "print('ok', len(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"]])
def test_bench_is_listed_and_loads_on_demand(argv, capsys):
    from solver.cli import main
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "bench" in out
    if argv[0] == "bench":
        assert "--quick" in out            # the real parser from benchmarks.cli
