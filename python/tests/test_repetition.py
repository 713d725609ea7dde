"""lil.RepetitionDetector: vLLM's repetition rule from Python."""

import copy

import pytest

import lil


def brute_force(ids, lo, hi, count):
    lo = max(lo, 1)
    for p in range(lo, hi + 1):
        if p * count > len(ids):
            return False
        if all(ids[-1 - k] == ids[-1 - k - c * p] for c in range(1, count) for k in range(p)):
            return True
    return False


def test_upstream_case_stops_at_the_third_copy():
    r = lil.RepetitionDetector(min_pattern_size=2, max_pattern_size=3, min_count=3)
    verdicts = [bool(r.accept_id(t)) for t in [1, 2, 3, 1, 2, 3, 1, 2, 3]]
    assert verdicts == [False] * 8 + [True]
    d = r.decision()
    assert d.stop and d.stopped_at == 9 and d.pattern_size == 3
    assert d.as_dict() == {"stop": True, "tokens": 9, "stopped_at": 9, "pattern_size": 3}


def test_matches_brute_force_on_every_prefix():
    import random

    rng = random.Random(5)
    for _ in range(100):
        ids = []
        while len(ids) < 80:
            if ids and rng.random() < 0.3:
                p = min(rng.randint(1, 6), len(ids))
                ids.extend(ids[-p:] * rng.randint(1, 4))
            else:
                ids.append(rng.randint(0, 3))
        r = lil.RepetitionDetector(max_pattern_size=5, min_count=3)
        first = next((n for n in range(1, len(ids) + 1) if brute_force(ids[:n], 0, 5, 3)), 0)
        r.accept_ids(ids)
        assert r.decision().stopped_at == first


def test_texts_rollback_clone_reset():
    r = lil.RepetitionDetector(max_pattern_size=2, min_count=3, rollback_window=4)
    for t in ["a", "b", "a", "b", "a"]:
        assert not r.accept(t)
    fork = copy.deepcopy(r)
    assert r.accept("b")
    assert r.rollback(1) and not r.stopped
    assert not r.rollback(5)
    assert not fork.stopped and fork.tokens == 5
    r.reset()
    assert r.tokens == 0 and not r.decision()


def test_bad_settings_name_the_field():
    with pytest.raises(lil.Error, match="min_count"):
        lil.RepetitionDetector(max_pattern_size=3, min_count=1)
    with pytest.raises(lil.Error, match="min_pattern_size"):
        lil.RepetitionDetector(min_pattern_size=4, max_pattern_size=3, min_count=2)
    with pytest.raises(lil.Error, match="max_pattern_size"):
        lil.RepetitionDetector(max_pattern_size=-1, min_count=2)
