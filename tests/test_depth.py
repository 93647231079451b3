"""Certified depth (a lower bound on the active rows at every point): equal
to the exact minimum over the cells of the arrangement, and its checker
refuses tampered certificates."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import check_layer, enumerate_cells
from solver.certificates.depth import check_depth_certificate
from solver.certificates.verify import verify_document
from solver.depth import certify_depth


def min_active_over_cells(W, b, rows):
    """The exact minimum, over the open cells, of the active rows among ``rows``."""
    cells = enumerate_cells(W, b).cells
    return min(sum(1 for i in rows if c.sign[i] == 1) for c in cells)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 3), st.integers(0, 10**6), st.booleans())
def test_depth_matches_the_cells(n, seed, bias):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(n + 2, 4 * n + 3))
    W = rng.standard_normal((m, n))
    b = rng.standard_normal(m) * 0.5 if bias else np.zeros(m)
    half = list(range(0, m, 2)), list(range(1, m, 2))
    r = certify_depth(W, b, groups=half)
    assert check_depth_certificate(W, b, r.certificate)[0]
    for g, d, exact in zip(half, r.depth, r.exact):
        truth = min_active_over_cells(W, b, g)
        assert d <= truth
        assert exact and d == truth


def test_depth_checker_refuses_tampering():
    W = np.random.default_rng(3).standard_normal((24, 3))
    r = certify_depth(W, None, n_groups=2)
    cert = r.certificate
    assert check_depth_certificate(W, None, cert)[0]
    bad = copy.deepcopy(cert)
    bad["depth"][0] += 1                       # claims more than the circuits cover
    ok, why = check_depth_certificate(W, None, bad)
    assert not ok and "avoids" in why
    bad = copy.deepcopy(cert)
    i, s, q = bad["circuits"][0][0]
    bad["circuits"][0][0] = [i, s, str(int(q) + 1)]
    assert not check_depth_certificate(W, None, bad)[0]
    bad = copy.deepcopy(cert)
    bad["circuits"][0][0][1] = 1                # only negative rows in depth circuits
    assert not check_depth_certificate(W, None, bad)[0]
    bad = copy.deepcopy(cert)
    bad["groups"][1] = bad["groups"][1] + [bad["groups"][0][0]]   # overlapping groups
    ok, why = check_depth_certificate(W, None, bad)
    assert not ok and "shared" in why
    W2 = W.copy()
    W2[0, 0] += 1.0
    assert not check_depth_certificate(W2, None, cert)[0]          # another layer


def test_unknown_wide_layer_reports_what_was_proved():
    W = np.random.default_rng(0).standard_normal((128, 16))
    r = check_layer(W, time_limit=3.0)
    assert r.verdict.value == "unknown"
    assert r.proved is not None and "active rows" in r.proved
    assert r.to_json()["proved"] == r.proved
    ok, why = verify_document([(W, np.zeros(128), "relu")], r.partial)
    assert ok, why
    # small layers decide, and say nothing extra
    small = check_layer(W[:24, :4])
    assert small.proved is None and small.to_json()["proved"] is None
