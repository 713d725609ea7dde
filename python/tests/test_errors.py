"""Bad arguments: lil.Error (a ValueError) with the C++ library's message,
naming the field and the value; TypeError for values of the wrong type."""

import math

import pytest

import lil

np = pytest.importorskip("numpy")


def test_error_is_a_value_error():
    assert issubclass(lil.Error, ValueError)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"check_every": 0}, "plateau_options.check_every (f) must be >= 1, got 0"),
        ({"check_every": -5}, "plateau_options.check_every (f) must be >= 1, got -5"),
        ({"check_every": 2**40}, "plateau_options.check_every (f) must be <= 4294967295, got 1099511627776"),
        ({"min_gain": -1}, "plateau_options.min_gain (t) must be a finite number >= 0, got -1"),
        ({"min_gain": math.nan}, "plateau_options.min_gain (t) must be a finite number >= 0, got nan"),
        ({"min_gain": math.inf}, "plateau_options.min_gain (t) must be a finite number >= 0, got inf"),
        ({"patience": 0}, "plateau_options.patience must be >= 1, got 0"),
        ({"warmup_tokens": -1}, "plateau_options.warmup_tokens must be >= 0, got -1"),
        ({"relative_gain": -0.5}, "plateau_options.relative_gain must be a finite number >= 0, got -0.5"),
        ({"relative_checks": 1}, "plateau_options.relative_checks must be >= 2, got 1"),
        ({"level": 0}, "guardian_options.level must be 1..9, got 0"),
        ({"level": 10}, "guardian_options.level must be 1..9, got 10"),
        ({"level": 2**70}, "guardian_options.level must be 1..9, got 1180591620717411303424"),
        ({"profile": "bzip2"}, "guardian_options.profile must be \"gzip\" or \"zlib\", got 'bzip2'"),
        ({"pending_capacity": 2**31}, "guardian_options.pending_capacity must be <= 2^30 bytes, got 2147483648"),
        ({"curve_capacity": -1}, "guardian_options.curve_capacity must be >= 0, got -1"),
        ({"curve_capacity": 2**62}, "guardian_options.curve_capacity must be <= 2^28 points, got 4611686018427387904"),
    ],
)
def test_bad_options_name_the_field_and_value(options, message):
    with pytest.raises(lil.Error) as e:
        lil.Guardian(**options)
    assert message in str(e.value)
    with pytest.raises(lil.Error):
        lil.GuardianBatch(2, **options)


def test_validate_reports_what_construction_would():
    o = lil.GuardianOptions(check_every=0)
    with pytest.raises(lil.Error, match=r"check_every \(f\) must be >= 1, got 0"):
        o.validate()


def test_unknown_options_and_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="unexpected option 'check_evry'"):
        lil.Guardian(check_evry=5)
    with pytest.raises(TypeError, match="must be an int"):
        lil.Guardian(check_every=2.5)
    with pytest.raises(TypeError, match="must be an int"):
        lil.Guardian(check_every="50")
    with pytest.raises(TypeError, match="must be a number"):
        lil.Guardian(min_gain="twenty")
    with pytest.raises(TypeError, match="GuardianOptions"):
        lil.Guardian({"check_every": 5})
    o = lil.GuardianOptions()
    with pytest.raises(lil.Error, match="patience must be >= 1, got -2"):
        o.patience = -2
    assert o.patience == 1


def test_bad_tokens_are_refused_before_anything_is_accepted():
    g = lil.Guardian()
    with pytest.raises(TypeError, match="token text must be str or bytes, got int"):
        g.accept(123)
    with pytest.raises(TypeError, match="must be an int, got str"):
        g.accept_id("7")
    with pytest.raises(lil.Error, match="token id must be in the 32-bit range, got 4294967296"):
        g.accept_id(2**32)
    with pytest.raises(lil.Error, match=r"ids\[1\] = 3000000000 is outside the 32-bit token id range"):
        g.accept_ids([1, 3_000_000_000])
    with pytest.raises(TypeError, match="must hold integers"):
        g.accept_ids(np.zeros(3, dtype=np.float32))
    with pytest.raises(lil.Error, match="one-dimensional"):
        g.accept_ids(np.zeros((2, 2), dtype=np.int32))
    with pytest.raises(TypeError, match="sequence of ints, got str"):
        g.accept_ids("123")
    with pytest.raises(TypeError, match="not a single str"):
        g.accept_texts("abc")
    with pytest.raises(TypeError, match="must be str or bytes"):
        g.accept_texts(["a", 5])
    with pytest.raises(UnicodeEncodeError):
        g.accept("\ud800")  # a lone surrogate has no UTF-8 form
    assert g.tokens == 0 and g.bytes == 0
    with pytest.raises(lil.Error, match="rollback count must be >= 0, got -1"):
        g.rollback(-1)


def test_batch_arguments():
    with pytest.raises(lil.Error, match="GuardianBatch size must be >= 0, got -1"):
        lil.GuardianBatch(-1)
    b = lil.GuardianBatch(3)
    with pytest.raises(lil.Error, match="accept_ids: got 2 ids for 3 sequences"):
        b.accept_ids([1, 2])
    with pytest.raises(lil.Error, match="accept_texts: got 4 texts for 3 sequences"):
        b.accept_texts(["a", "b", "c", "d"])
    with pytest.raises(IndexError):
        b[3]
    with pytest.raises(IndexError):
        b.reset(-4)
    assert [g.tokens for g in (b[0], b[1], b[2])] == [0, 0, 0]


def test_deflate_arguments():
    with pytest.raises(lil.Error, match="deflate options: level must be 1..9, got 0"):
        lil.deflate_size(b"abc", level=0)
    with pytest.raises(lil.Error, match="deflate options: level must be 1..9, got 99999999999"):
        lil.Compressor(level=99999999999)
    with pytest.raises(lil.Error, match="deflate options: profile must be \"gzip\" or \"zlib\", got 'lz4'"):
        lil.compress(b"abc", profile="lz4")
    with pytest.raises(lil.Error, match="deflate container must be \"raw\", \"gzip\" or \"zlib\", got 'bz2'"):
        lil.compress(b"abc", container="bz2")
    c = lil.Compressor()
    c.feed(b"abc")
    c.finish()
    with pytest.raises(lil.Error, match=r"deflate compressor: feed\(\) after finish\(\)"):
        c.feed(b"more")
    with pytest.raises(TypeError, match="data must be str or bytes, got list"):
        lil.deflate_size([1, 2])


def test_kv_arguments():
    with pytest.raises(lil.Error, match="kv model_shape: n_heads 6 is not a multiple of n_kv_heads 4"):
        lil.kv.ModelShape(n_heads=6, n_kv_heads=4, head_dim=8, max_context=16)
    with pytest.raises(lil.Error, match="kv model_shape: head_dim 0 must be at least 1"):
        lil.kv.ModelShape(n_heads=4, n_kv_heads=4, head_dim=0, max_context=16)
    with pytest.raises(lil.Error, match=r'kv policy "h2o": missing budget \(write h2o:<tokens>\)'):
        lil.kv.PolicySpec("h2o")
    with pytest.raises(lil.Error, match=r'unknown policy "lru"'):
        lil.kv.make_policy("lru:8", lil.kv.ModelShape(n_heads=2, n_kv_heads=1, head_dim=4, max_context=16))
    shape = lil.kv.ModelShape(n_layers=2, n_heads=2, n_kv_heads=1, head_dim=4, max_context=16)
    with pytest.raises(lil.Error, match=r"kv h2o: layer 2 is outside 0..1"):
        lil.kv.make_policy("h2o:8", shape, layer=2)
    p = lil.kv.make_policy("h2o:8", shape)
    with pytest.raises(lil.Error, match="kv h2o append: keys must hold 4 values, got 3"):
        p.append(0, [0.0, 0.0, 0.0])
    with pytest.raises(lil.Error, match="kv h2o append: position -1 is negative"):
        p.append(-1, [0.0] * 4)
    p.append(0, [0.0] * 4)
    p.select()
    with pytest.raises(lil.Error, match="weights must be finite"):
        p.observe(np.array([[np.nan], [0.5]], dtype=np.float32))
    deep = lil.kv.ModelShape(n_layers=3, n_heads=2, n_kv_heads=1, head_dim=4, max_context=64)
    q = lil.kv.make_policy("quest:32", deep, layer=2)  # Quest keeps its first two layers dense
    assert q.name == "quest"
    with pytest.raises(lil.Error, match="Quest needs the query"):
        q.select()
