"""solver.deadline.Deadline against a fake clock: the closed forms of what is
left, shares and child deadlines, and 'no limit' staying no limit."""
import pytest

import solver.deadline as D
from solver.deadline import Deadline


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(D.time, "monotonic", lambda: now[0])
    return now


def test_remaining_share_portion_child(clock):
    d = Deadline.after(10.0)                   # at 110
    assert d.at == 110.0
    clock[0] = 104.0
    assert d.remaining() == 6.0 and not d.expired()
    assert d.share(0.5) == 3.0
    assert d.portion(0.25).at == 104.0 + 1.5
    assert d.child(2.0).at == 106.0            # the step's own limit is earlier
    assert d.child(60.0).at == 110.0           # the deadline is earlier
    assert d.child(None) is d
    assert d.remaining(floor=7.0) == 7.0
    clock[0] = 110.0
    assert d.expired() and d.remaining() == 0.0 and d.share(0.3) == 0.0
    clock[0] = 115.0
    assert d.remaining() == 0.0 and d.portion(0.5).at == 115.0
    assert d.remaining(floor=0.05) == 0.05


def test_after_a_given_start(clock):
    assert Deadline.after(3, start=50.0).at == 53.0
    assert Deadline.after(3).at == 103.0


def test_no_limit(clock):
    for d in (Deadline(), Deadline(None), Deadline.after(None)):
        assert d.at is None
        assert d.remaining() is None and d.remaining(floor=1.0) is None
        assert d.share(0.5) is None and not d.expired()
        assert d.portion(0.3).at is None
        assert d.child(None).at is None
        assert d.child(5.0).at == 105.0
