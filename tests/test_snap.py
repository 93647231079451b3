"""Rows coincident only up to rounding (solver.snap): the snapped layer, its
verdict against the shared manifest, and that it never stands in for the
verdict on the original weights."""
import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from solver import check_certificate, check_layer, check_layer_snapped, snap_coincident_rows
from solver.bruteforce import decide_bruteforce
from conftest import INSTANCES, load_instance, manifest


def exact_multiple(a, r):
    k = int(np.argmax(np.abs(r)))
    c = Fraction(a[k]) / Fraction(r[k])
    return all(Fraction(x) == c * Fraction(y) for x, y in zip(a, r))


@pytest.mark.parametrize("entry", manifest(), ids=lambda e: e["file"])
def test_snapped_verdict_matches_manifest(entry):
    """The shared solver treats rows antiparallel up to rounding as coincident.
    Snapped, every instance gets the manifest's label, proved for the snapped
    layer; the exact brute force agrees on the snapped layer."""
    W, b = load_instance(entry["file"])
    snap, res = check_layer_snapped(W, b, time_limit=60)
    expected = "injective" if entry.get("injective_snapped", entry["injective"]) else "not_injective"
    if res is None:                      # nothing snapped: the layer itself
        res = check_layer(W, b, time_limit=60)
    assert res.verdict.value == expected
    assert decide_bruteforce(snap.W, snap.b)[0] == expected
    assert snap.max_rel_change < 1e-15
    if res.certificate is not None:
        assert check_certificate(snap.W, snap.b, res.certificate)[0]
        if snap.changed:   # a certificate for the snapped layer is refused for the original
            assert not check_certificate(W, b, res.certificate)[0]


def test_snapped_rows_are_exact_multiples_and_only_near_ones_move():
    rng = np.random.default_rng(5)
    B = rng.standard_normal((4, 4))
    D = np.array([0.3, 1.7, 2.0, 0.1])          # 2.0: exact; the others round
    far = B[1] * -1.0 + 1e-6 * rng.standard_normal(4)   # antiparallel to 1e-6 only
    W = np.vstack([B, -D[:, None] * B, far, rng.standard_normal((2, 4))])
    snap = snap_coincident_rows(W)
    moved = {j for j, *_ in snap.rows}
    assert 6 not in moved                       # the exact product stays as it is
    assert 8 not in moved                       # 1e-6 is far above the tolerance
    assert moved <= {4, 5, 7}
    for j, i, s, dev in snap.rows:
        assert exact_multiple(snap.W[j], W[i]) and s < 0
        assert 0.0 <= dev < 1e-15
        assert np.log2(abs(s)) == int(np.log2(abs(s)))    # a power of two
    untouched = [k for k in range(W.shape[0]) if k not in moved]
    assert np.array_equal(snap.W[untouched], W[untouched])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(2, 9), st.integers(0, 2**32 - 1))
def test_snap_changes_nothing_on_generic_or_exactly_coincident_rows(n, m, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n))
    W = np.vstack([W, -4.0 * W[:1], 0.5 * W[1:2]])   # exact multiples: already coincident
    b = rng.standard_normal(m + 2)
    b[m], b[m + 1] = -4.0 * b[0], 0.5 * b[1]
    snap = snap_coincident_rows(W, b)
    assert not snap.changed
    assert np.array_equal(snap.W, W) and np.array_equal(snap.b, b)


def test_snap_rejects_a_meaningless_tolerance():
    from solver import InputError
    with pytest.raises(InputError, match="rtol"):
        snap_coincident_rows(np.eye(2), rtol=0.5)


def run(*args):
    p = subprocess.run([sys.executable, "-m", "solver", *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_cli_snap_keeps_the_original_verdict_and_certifies_the_snapped_layer(tmp_path):
    layer = INSTANCES / "construct_n3_m10_0.npz"
    out_layer, cert = tmp_path / "snapped.npz", tmp_path / "c.json"
    code, out, err = run("check", layer, "--json", "--snap-parallel", "--snapped-out", out_layer,
                         "--snapped-certificate", cert)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "not_injective" and doc["witness"] is not None
    assert doc["snapped"]["result"]["verdict"] == "injective"
    assert doc["snapped"]["max_relative_change"] < 1e-15
    assert run("verify", out_layer, cert)[0] == 0
    assert run("verify", layer, cert)[0] == 1
    # without the flag the reader is told why, in both output forms
    code, out, _ = run("check", layer)
    assert code == 0 and "--snap-parallel" in out
    doc = json.loads(run("check", layer, "--json")[1])
    assert "snapped" not in doc and any("--snap-parallel" in s for s in doc["notes"])
    doc = json.loads(run("check", INSTANCES / "gauss_n2_m5_0.npz", "--json")[1])
    assert "notes" not in doc and "snapped" not in doc
    code, _, err = run("check", layer, "--snap-parallel", "2")
    assert code == 2 and err.count("\n") == 1
