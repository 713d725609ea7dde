"""lil.Guardian: the verbs, their figures, clone independence, options."""

import copy
import struct
import zlib

import pytest

import lil
from conftest import F, T, looping_tokens, novel_tokens, reference_stop

np = pytest.importorskip("numpy")


def raw_zlib_size(data: bytes, level: int) -> int:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    return len(c.compress(data) + c.flush())


def test_defaults_are_the_papers_rule():
    o = lil.Guardian().options
    assert (o.check_every, o.min_gain, o.patience, o.level, o.profile) == (250, 20.0, 1, 6, "gzip")
    assert (o.warmup_tokens, o.relative_gain, o.relative_checks, o.curve_capacity) == (0, 0.0, 4, 0)


def test_a_loop_is_stopped_at_a_check_and_the_stop_stays(rule):
    g = lil.Guardian(**rule)
    verdicts = [g.accept(t) for t in looping_tokens(20 * F)]
    d = g.decision()
    assert d.stop and bool(d) and d.action == lil.Verdict.stop
    assert d.reason == lil.Reason.plateau
    assert d.stopped_at % F == 0 and d.stopped_at >= 2 * F
    assert d.last.gain < T
    first = next(i for i, v in enumerate(verdicts) if v)
    assert first + 1 == d.stopped_at
    assert all(verdicts[first:])
    assert not any(verdicts[:first])


def test_novel_text_is_never_stopped(rule):
    g = lil.Guardian(**rule)
    for t in novel_tokens(20 * F):
        assert g.accept(t) == lil.Verdict.go
    d = g.decision()
    assert not d.stop and d.stopped_at == 0
    assert d.reason == lil.Reason.gaining
    assert d.last.gain >= T and d.last.threshold == T


def test_reasons_before_and_at_the_first_check(rule):
    g = lil.Guardian(**rule)
    assert g.decision().reason == lil.Reason.no_check_yet
    for t in novel_tokens(F):
        g.accept(t)
    assert g.decision().reason == lil.Reason.first_check
    assert g.decision().last.tokens == F


def test_curve_sizes_are_the_exact_raw_deflate_size_of_the_prefix():
    tokens = looping_tokens(400, prefix=150)
    for profile, level in (("zlib", 6), ("zlib", 1), ("gzip", 9)):
        g = lil.Guardian(check_every=40, min_gain=0, profile=profile, level=level, curve_capacity=100)
        for t in tokens:
            g.accept(t)
        points = g.curve()
        assert [p.tokens for p in points] == list(range(40, 401, 40))
        for p in points:
            prefix = "".join(tokens[: p.tokens]).encode()
            assert p.bytes == len(prefix)
            assert p.size == lil.deflate_size(prefix, level, profile)
            if profile == "zlib":
                assert p.size == raw_zlib_size(prefix, level)
            assert p.ratio == pytest.approx(p.size / p.bytes)


def test_gain_is_the_difference_of_consecutive_checks(rule):
    g = lil.Guardian(curve_capacity=64, **rule)
    gains = []
    for t in looping_tokens(10 * F):
        g.accept(t)
        if g.tokens % F == 0:
            gains.append(g.decision().last.gain)
    sizes = [p.size for p in g.curve()]
    assert gains == [sizes[0]] + [b - a for a, b in zip(sizes, sizes[1:])]


def test_str_and_its_utf8_bytes_are_the_same_token():
    text = ["é", "日本", " naïve", "🙂"] * 100
    a, b = lil.Guardian(check_every=7, curve_capacity=100), lil.Guardian(check_every=7, curve_capacity=100)
    for t in text:
        a.accept(t)
        b.accept(t.encode("utf-8"))
    assert a.curve() == b.curve() and a.bytes == b.bytes == len("".join(text).encode())
    c = lil.Guardian(check_every=7, curve_capacity=100)
    for t in text:
        c.accept(bytearray(t.encode("utf-8")))
    assert c.curve() == a.curve()


def test_an_id_is_its_four_little_endian_bytes():
    ids = [5, 70000, -1, 2**31 - 1, -(2**31)] * 60
    a, b = lil.Guardian(check_every=10, curve_capacity=64), lil.Guardian(check_every=10, curve_capacity=64)
    for i in ids:
        a.accept_raw_id(i)
        b.accept(struct.pack("<i", i))
    assert a.curve() == b.curve() and a.bytes == 4 * len(ids)


def test_batches_of_tokens_equal_one_at_a_time(rule):
    tokens = looping_tokens(6 * F)
    one = lil.Guardian(curve_capacity=32, **rule)
    for t in tokens:
        one.accept(t)
    many = lil.Guardian(curve_capacity=32, **rule)
    for k in range(0, len(tokens), 37):  # chunks that straddle checks
        many.accept_texts(tokens[k:k + 37])
    assert many.curve() == one.curve()
    assert many.decision().stopped_at == one.decision().stopped_at


def test_a_stop_inside_a_batch_is_reported_at_its_check(rule):
    tokens = looping_tokens(10 * F)
    expected = reference_stop(tokens, **rule)
    g = lil.Guardian(**rule)
    assert g.accept_texts(tokens)
    assert g.decision().stopped_at == expected and g.tokens == len(tokens)


def test_ids_from_lists_tuples_and_numpy_arrays_agree():
    ids = [(i * 7919) % 50000 for i in range(600)]
    curves = []
    for form in (ids, tuple(ids), np.array(ids, dtype=np.int32), np.array(ids, dtype=np.int64),
                 np.array(ids, dtype=np.uint16), (x for x in ids)):
        g = lil.Guardian(check_every=50, curve_capacity=20)
        g.accept_raw_ids(form)
        curves.append([p.as_tuple() for p in g.curve()])
    single = lil.Guardian(check_every=50, curve_capacity=20)
    for i in ids:
        single.accept_raw_id(np.int64(i))
    curves.append([p.as_tuple() for p in single.curve()])
    assert all(c == curves[0] for c in curves) and len(curves[0]) == 12


def test_reset_starts_over_with_the_same_options(rule):
    g = lil.Guardian(curve_capacity=16, **rule)
    for t in looping_tokens(8 * F):
        g.accept(t)
    first = (g.decision().stopped_at, [p.as_tuple() for p in g.curve()])
    g.reset()
    assert g.tokens == 0 and g.bytes == 0 and g.curve() == [] and not g.stopped
    assert g.decision().reason == lil.Reason.no_check_yet
    for t in looping_tokens(8 * F):
        g.accept(t)
    assert (g.decision().stopped_at, [p.as_tuple() for p in g.curve()]) == first
    assert g.options.check_every == F


@pytest.mark.parametrize("fork", [lambda g: g.clone(), copy.copy, copy.deepcopy])
def test_clones_are_independent(rule, fork):
    shared = novel_tokens(F + 10)
    g = lil.Guardian(curve_capacity=32, **rule)
    for t in shared:
        g.accept(t)
    c = fork(g)
    assert c is not g and c.tokens == g.tokens and c.bytes == g.bytes
    for t in looping_tokens(6 * F, prefix=0):
        c.accept(t)
    for t in novel_tokens(6 * F, seed=9):
        g.accept(t)
    assert c.stopped and not g.stopped
    alone = lil.Guardian(curve_capacity=32, **rule)
    for t in shared + novel_tokens(6 * F, seed=9):
        alone.accept(t)
    assert g.curve() == alone.curve()


def test_rollback_within_the_limit_is_as_if_never_accepted():
    f = 20
    tokens = novel_tokens(3 * f)
    g = lil.Guardian(check_every=f, curve_capacity=10)
    for t in tokens[: 2 * f + 5]:
        g.accept(t)
    assert g.rollback_limit == 5
    for t in [" draft", " tokens", " rejected"]:
        g.accept(t)
    assert g.rollback_limit == 8
    assert g.rollback(3) is True
    assert g.rollback_limit == 5 and g.tokens == 2 * f + 5
    for t in tokens[2 * f + 5:]:
        g.accept(t)
    straight = lil.Guardian(check_every=f, curve_capacity=10)
    for t in tokens:
        straight.accept(t)
    assert g.curve() == straight.curve() and g.bytes == straight.bytes


def test_rollback_past_the_last_check_is_refused_and_changes_nothing():
    g = lil.Guardian(check_every=10, curve_capacity=10)
    for t in novel_tokens(23):
        g.accept(t)
    before = (g.tokens, g.bytes, g.rollback_limit)
    assert g.rollback(4) is False
    assert (g.tokens, g.bytes, g.rollback_limit) == before == (23, before[1], 3)
    assert g.rollback(0) is True and g.tokens == 23


def test_curve_keeps_its_capacity_and_counts_the_rest(rule):
    g = lil.Guardian(curve_capacity=3, **rule)
    for t in novel_tokens(7 * F):
        g.accept(t)
    assert [p.tokens for p in g.curve()] == [F, 2 * F, 3 * F]
    assert g.curve_dropped == 4
    assert lil.Guardian(**rule).curve() == []


def test_patience_needs_consecutive_low_checks(rule):
    tokens = looping_tokens(20 * F)
    one = reference_stop(tokens, **rule)
    two = reference_stop(tokens, patience=2, **rule)
    assert one is not None and two == one + F


def test_warmup_delays_the_stop(rule):
    tokens = looping_tokens(20 * F)
    plain = reference_stop(tokens, **rule)
    warm = reference_stop(tokens, warmup_tokens=plain + 3 * F, **rule)
    assert warm == plain + 3 * F


def test_relative_threshold_stops_a_dense_model_that_slows_down():
    # The first checks are dense (novel), then the text turns to a mildly
    # repetitive form that still beats t but is far below the early slope.
    rng_tokens = novel_tokens(4 * F)
    slow = [" the", " value", " is", " checked", " and", " ok", ";"] * 200 + novel_tokens(60, seed=5)
    mixed = rng_tokens + [slow[i] if i % 25 else tok for i, tok in enumerate(novel_tokens(len(slow), seed=7))]
    plain = reference_stop(mixed, check_every=F, min_gain=1)
    relative = reference_stop(mixed, check_every=F, min_gain=1, relative_gain=0.5, relative_checks=4)
    assert plain is None and relative is not None and relative > 4 * F


def test_options_round_trip(rule):
    o = lil.GuardianOptions(check_every=40, min_gain=3.5, patience=2, warmup_tokens=100, relative_gain=0.25,
                            relative_checks=3, level=9, profile="zlib", pending_capacity=8192, curve_capacity=5)
    g = lil.Guardian(o)
    assert g.options == o and g.options.as_dict() == o.as_dict()
    assert lil.Guardian(o, min_gain=7).options.min_gain == 7.0
    o.check_every = 12
    assert o.check_every == 12 and lil.Guardian(o).check_every == 12
    assert "check_every=12" in repr(o)


def test_figures_and_dicts_are_consistent(rule):
    g = lil.Guardian(**rule)
    for t in looping_tokens(5 * F):
        g.accept(t)
    d = g.decision()
    as_dict = d.as_dict()
    assert as_dict["stop"] == d.stop and as_dict["stopped_at"] == d.stopped_at
    assert as_dict["reason"] == d.reason.name and as_dict["last"]["gain"] == d.last.gain
    assert d.tokens == g.tokens == 5 * F
    assert g.state_bytes > 100_000  # the compressor's window and chains
    assert "Guardian(" in repr(g) and "Decision(" in repr(d)
