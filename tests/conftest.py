import json
import os
import pathlib
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
INSTANCES = SHARED / "instances" / "layers"
DECODER = SHARED / "models" / "mnist_vae_decoder_20_60_784.npz"


def load_instance(name):
    d = np.load(INSTANCES / name)
    W = d["W"]
    b = d["b"] if "b" in d.files else np.zeros(W.shape[0])
    return W, b


def manifest():
    if not (INSTANCES / "manifest.json").exists():
        return []
    return json.loads((INSTANCES / "manifest.json").read_text())


@pytest.fixture
def tmp_npz(tmp_path):
    def make(name="layer.npz", **arrays):
        p = tmp_path / name
        np.savez(p, **arrays)
        return p
    return make


def _stat(pid):
    """``(state, ppid)`` of process ``pid`` from ``/proc`` (Linux), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


def descendants(root):
    """Pids of every living descendant of process ``root`` (one ``/proc`` scan)."""
    parent = {}
    for name in os.listdir("/proc"):
        st = _stat(name) if name.isdigit() else None
        if st is not None and st[0] != "Z":
            parent[int(name)] = st[1]
    found, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def living(pids):
    """Those of ``pids`` that still run (gone and zombie processes are dead)."""
    return sorted(p for p in pids if (_stat(p) or ("Z",))[0] != "Z")


def wait_until_dead(pids, seconds):
    """Poll until none of ``pids`` lives or ``seconds`` pass; returns the living."""
    deadline = time.monotonic() + seconds
    alive = living(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = living(alive)
    return alive


@pytest.fixture
def frozen_heap():
    """For tests that time a limit: collect, then freeze the test session's
    heap (``gc.freeze``) while the test runs. A full pytest run holds
    millions of objects that a ``reluinj`` process does not, and a full
    garbage collection of them in the middle of a timed call took 0.5 s
    (measured: a 15-million-object heap made a 1.5 s bruteforce call take
    2.06 s, a frozen one 1.52 s); that pause belongs to the test session,
    not to the code under test. The limits themselves are unchanged."""
    import gc
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
