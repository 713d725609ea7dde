"""lil.ColumnFeed: a generate loop's new columns into a GuardianBatch in one
C++ call, against the same rules written out in Python over the batch's own
step verbs (EOS ends a row, a stopped row takes nothing, the repeated column
proves the rows did not move)."""

import copy

import pytest

import lil
from conftest import F, T

np = pytest.importorskip("numpy")

PIECES = [bytes([b]) for b in range(256)] + [b" the", b" check", b" again", b";", b" redo"]
EOS = 256 + 3  # ";" ends a row


def loop_heavy_ids(rows, steps, seed):
    """Rows of ids: some loop on a short line (they stop), some do not; EOS now and then."""
    rng = np.random.default_rng(seed)
    out = rng.integers(97, 123, size=(rows, steps), dtype=np.int64)
    for r in range(0, rows, 2):
        out[r, 10:] = 256 + (np.arange(steps - 10) % 3)
    out[rows - 1, steps // 2] = EOS
    return out


def reference_flags(ids, step_one, batch, eos):
    """Column by column, the rule in Python; returns each step's flags."""
    ended = np.zeros(ids.shape[0], dtype=bool)
    history = []
    for k in range(ids.shape[1]):
        col = ids[:, k]
        stopped = np.array(batch.stopped, dtype=bool)
        is_eos = np.isin(col, list(eos))
        step = col.astype(np.int32)
        step[ended | is_eos | stopped] = -1
        ended |= is_eos
        step_one(step)
        history.append(list(batch.stopped))
    return history


def feed_in_chunks(ids, feed, batch, source=None, at_checks=False, chunks=(1, 3, 1, 2)):
    """The columns as a generate loop hands them: the first call without the
    repeated column, every later one with it; `chunks` new columns at a time."""
    flags = np.zeros(ids.shape[0], dtype=bool)
    history, seen, i = [], 0, 0
    while seen < ids.shape[1]:
        n = min(chunks[i % len(chunks)], ids.shape[1] - seen)
        first = seen - 1 if feed.has_last else seen
        feed.take(ids[:, first:seen + n], batch, flags, source, at_checks)
        seen += n
        i += 1
        history.append((seen, list(flags)))
    return history


def test_vocabulary_source_equals_the_python_rule():
    vocab = lil.Vocabulary(PIECES)
    ids = loop_heavy_ids(5, 6 * F, seed=1)
    ref = lil.GuardianBatch(5, check_every=F, min_gain=T, vocabulary=vocab)
    expected = reference_flags(ids, lambda s: ref.step(s), ref, {EOS})
    got = lil.GuardianBatch(5, check_every=F, min_gain=T, vocabulary=vocab)
    feed = lil.ColumnFeed(5, [EOS])
    for seen, flags in feed_in_chunks(ids, feed, got):
        assert flags == expected[seen - 1]
    assert any(expected[-1]) and not all(expected[-1])  # the streams test both outcomes
    assert [d.as_dict() for d in got.decisions()] == [d.as_dict() for d in ref.decisions()]
    assert feed.ended(4) and not feed.ended(0)


@pytest.mark.parametrize("kind", ["raw_ids", "pieces", "text", "text_at_checks"])
def test_every_source_equals_its_own_step(kind):
    ids = loop_heavy_ids(4, 5 * F, seed=2)

    def decode_batch(windows):
        return [b"".join(PIECES[i] for i in w).decode("utf-8", errors="replace") for w in windows]

    def make():
        batch = lil.GuardianBatch(4, check_every=F, min_gain=T)
        if kind == "raw_ids":
            return batch, "raw_ids", lambda s: batch.accept_raw_ids(s)
        if kind == "pieces":
            pieces = lil.PieceCache(PIECES.__getitem__)
            return batch, pieces, lambda s: pieces.step(s, batch)
        detok = lil.IncrementalDetokenizer(4, decode_batch, check_every=F if kind == "text_at_checks" else None)
        if kind == "text":
            return batch, detok, lambda s: detok.step(s, batch)
        return batch, detok, lambda s: detok.step_at_checks(s, batch)

    ref, _, step_one = make()
    expected = reference_flags(ids, step_one, ref, {EOS})
    got, source, _ = make()
    feed = lil.ColumnFeed(4, [EOS])
    for seen, flags in feed_in_chunks(ids, feed, got, source, kind == "text_at_checks"):
        assert flags == expected[seen - 1]
    assert [g.tokens for g in (got[i] for i in range(4))] == [g.tokens for g in (ref[i] for i in range(4))]
    assert [g.curve() for g in (got[i] for i in range(4))] == [g.curve() for g in (ref[i] for i in range(4))]


def test_moved_rows_are_refused_naming_the_row():
    vocab = lil.Vocabulary(PIECES)
    batch = lil.GuardianBatch(3, check_every=F, vocabulary=vocab)
    feed = lil.ColumnFeed(3)
    ids = np.array([[97, 98], [99, 100], [101, 102]])
    feed.take(ids, batch)
    moved = ids[[0, 2, 1]]
    with pytest.raises(RuntimeError, match=r"row 1\).*beam search"):
        feed.take(np.concatenate([moved[:, 1:], moved[:, 1:]], axis=1), batch)


def test_bad_input_names_what_is_wrong():
    vocab = lil.Vocabulary(PIECES)
    batch = lil.GuardianBatch(2, check_every=F, vocabulary=vocab)
    feed = lil.ColumnFeed(2)
    with pytest.raises(lil.Error, match=r"id -5 in row 1, column 0"):
        feed.take(np.array([[97], [-5]]), batch)
    with pytest.raises(lil.Error, match=r"id 9000 at 0 is outside the vocabulary"):
        feed.take(np.array([[9000], [97]]), batch)
    with pytest.raises(lil.Error, match="2 rows"):
        feed.take(np.array([[97, 98, 99]]), batch)
    with pytest.raises(lil.Error, match="3 slots, the feed 2 rows"):
        feed.take(np.array([[97], [98]]), lil.GuardianBatch(3, vocabulary=vocab))
    with pytest.raises(TypeError, match="source must be"):
        feed.take(np.array([[97], [98]]), batch, None, object())
    with pytest.raises(lil.Error, match="needs a vocabulary"):
        feed.take(np.array([[97], [98]]), lil.GuardianBatch(2))


def test_a_copy_goes_on_alone():
    vocab = lil.Vocabulary(PIECES)
    ids = loop_heavy_ids(2, 3 * F, seed=3)
    batch = lil.GuardianBatch(2, check_every=F, min_gain=T, vocabulary=vocab)
    feed = lil.ColumnFeed(2, [EOS])
    feed.take(ids[:, :F], batch)
    other_feed, other_batch = copy.deepcopy(feed), copy.deepcopy(batch)
    feed.take(ids[:, F - 1:], batch)
    other_feed.take(ids[:, F - 1:], other_batch)
    assert [d.as_dict() for d in batch.decisions()] == [d.as_dict() for d in other_batch.decisions()]
    assert other_feed.ended(1) == feed.ended(1)
