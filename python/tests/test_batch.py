"""lil.GuardianBatch: slots behave as independent guardians of one step each."""

import pytest

import lil
from conftest import F, T, looping_tokens, novel_tokens, reference_stop

np = pytest.importorskip("numpy")


def test_each_slot_equals_a_guardian_fed_alone(rule):
    streams = [looping_tokens(8 * F), novel_tokens(8 * F), looping_tokens(8 * F, prefix=3 * F, seed=4)]
    b = lil.GuardianBatch(len(streams), **rule)
    flags = None
    for step in range(8 * F):
        flags = b.accept_texts([s[step] for s in streams])
    expected = [reference_stop(s, **rule) for s in streams]
    assert flags == [e is not None for e in expected]
    assert [d.stopped_at if d.stop else None for d in b.decisions()] == expected
    assert b.stopped == flags and b.stopped_count == sum(flags)


def test_skipped_slots_accept_nothing(rule):
    b = lil.GuardianBatch(3, **rule)
    b.accept_raw_ids([5, None, -1])
    b.accept_texts(["x", None, "y"])
    assert [b[i].tokens for i in range(3)] == [2, 0, 1]


def test_ids_from_numpy_are_read_in_place(rule):
    b = lil.GuardianBatch(4, check_every=10, min_gain=T)
    rng = np.random.default_rng(3)
    steps = rng.integers(0, 32000, size=(60, 4), dtype=np.int64)
    steps[:, 1] = 7  # slot 1 repeats one id: a loop
    for row in steps:
        flags = b.accept_raw_ids(row)
    assert flags[1] is True and flags[0] is False
    alone = lil.Guardian(check_every=10, min_gain=T)
    alone.accept_raw_ids(steps[:, 1])
    assert b[1].decision().stopped_at == alone.decision().stopped_at


def test_reset_of_one_slot_leaves_the_others(rule):
    b = lil.GuardianBatch(2, **rule)
    for t in looping_tokens(6 * F):
        b.accept_texts([t, t])
    assert b.stopped == [True, True]
    b.reset(1)
    assert b.stopped == [True, False] and b[1].tokens == 0 and b[0].tokens == 6 * F
    b.reset(-2)
    assert b.stopped_count == 0
    b.accept_texts(["a", "b"])
    b.reset()
    assert b[0].tokens == b[1].tokens == 0


def test_a_slot_view_outlives_the_batch_name(rule):
    b = lil.GuardianBatch(2, **rule)
    view = b[-1]
    del b
    for t in looping_tokens(6 * F):
        view.accept(t)
    assert view.stopped


def test_size_and_state(rule):
    b = lil.GuardianBatch(5, **rule)
    assert len(b) == 5 and b.state_bytes >= 5 * lil.Guardian(**rule).state_bytes
    assert len(lil.GuardianBatch(0)) == 0
    assert "GuardianBatch(size=5" in repr(b)
