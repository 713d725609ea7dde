"""lil.IncrementalDetokenizer: the batched text mode gives, slot by slot, the
text the per-sequence rules give, with one decode_batch call per step."""

import copy
import random

import numpy as np
import pytest

import lil
from lil._sequences import IncrementalDecoder, batch_decoder
from lil.hf import GuardianStoppingCriteria
from test_sequences import PieceTokenizer

WORDS = ["▁the", "▁check", "▁says", "▁ok", "▁redo", ";", "▁x", "▁日本", "é"]


class ReferenceDecoder:
    """The incremental-detokenization rules written out in Python (as lil's
    adapters ran them before they moved to C++): the reference the C++ object
    must match token for token."""

    def __init__(self, decode, context=(), keep=4, max_pending=8):
        self.decode, self.keep, self.max_pending = decode, keep, max_pending
        self.ids = list(context)[-keep:] if keep else []
        self.read = len(self.ids)

    def push(self, token):
        self.ids.append(token)
        before = self.decode(self.ids[:self.read]) if self.read else ""
        after = self.decode(self.ids)
        if after.endswith("\ufffd") and len(self.ids) - self.read < self.max_pending:
            return ""
        text = after[len(before):] if after.startswith(before) or len(after) > len(before) else ""
        self.ids = self.ids[len(self.ids) - min(len(self.ids), self.keep):]
        self.read = len(self.ids)
        return text


def random_stream(tok, rng, n):
    """Ids: words, byte-fallback characters (some split, some invalid), special tokens."""
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.6:
            out += tok.encode_word(rng.choice(WORDS))
        elif r < 0.8:
            out += tok.encode_word(rng.choice(["日", "🙂", "ü", " é"]))  # byte tokens
        elif r < 0.9:
            out.append(tok.ids[f"<0x{rng.choice([0xE6, 0xF0, 0x80, 0xC3]):02X}>"])  # a byte alone
        else:
            out.append(rng.choice([0, 1, 2]))  # <unk>, <s>, </s>: no text
    return out[:n]


class Counting:
    def __init__(self, decode):
        self.decode, self.calls = decode, 0

    def __call__(self, windows):
        self.calls += 1
        return [self.decode(w) for w in windows]


def test_every_slot_gets_the_text_the_reference_rules_give():
    tok = PieceTokenizer(WORDS)
    decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    rng = random.Random(7)
    slots = 9
    streams = [random_stream(tok, rng, 400) for _ in range(slots)]
    contexts = [tok.encode_word("▁the")[: k % 3] for k in range(slots)]  # empty, one, ... ids of context
    counting = Counting(decode)
    detok = lil.IncrementalDetokenizer(slots, counting)
    refs = []
    for s in range(slots):
        detok.reset(s, contexts[s])
        refs.append(ReferenceDecoder(decode, contexts[s]))
    batch = lil.GuardianBatch(slots, check_every=25, min_gain=0)
    singles = [lil.Guardian(check_every=25, min_gain=0) for _ in range(slots)]
    for step in range(400):
        # Some slots take no token at some steps (-1), as stopped or idle rows do.
        ids = np.array([streams[s][step] if (s + step) % 5 else -1 for s in range(slots)], dtype=np.int32)
        flags = detok.step(ids, batch)
        for s in range(slots):
            if ids[s] >= 0:
                singles[s].accept(refs[s].push(int(ids[s])))
        assert list(flags) == [g.stopped for g in singles]
        assert [detok.window(s) for s in range(slots)] == [r.ids for r in refs]
    assert counting.calls == 400  # one decode call per step, whatever the batch
    for s in range(slots):
        assert batch[s].curve() == singles[s].curve()
        assert batch[s].decision().tokens == singles[s].decision().tokens


def test_one_slot_push_is_the_reference_and_the_texts_rebuild_the_decode():
    tok = PieceTokenizer(WORDS)
    decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    stream = random_stream(tok, random.Random(3), 600)
    context = tok.encode_word("▁the")
    mine, ref = IncrementalDecoder(decode, context), ReferenceDecoder(decode, context)
    assert [mine.push(i) for i in stream] == [ref.push(i) for i in stream]
    whole = [tok.encode_word(w)[0] for w in ["▁check", "▁says", "▁ok"]] + tok.encode_word("日")
    d = IncrementalDecoder(decode, context)
    assert "".join(d.push(i) for i in whole) == decode(context + whole)[len(decode(context)):]


def test_a_failed_decode_changes_nothing():
    tok = PieceTokenizer(WORDS)
    good = lambda ids: tok.decode(ids)  # noqa: E731
    calls = {"n": 0}

    def flaky(windows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("tokenizer crashed")
        return [good(w) for w in windows]

    detok = lil.IncrementalDetokenizer(2, flaky)
    batch = lil.GuardianBatch(2, check_every=2, min_gain=0)
    first = np.array(tok.encode_word("▁the") + tok.encode_word("▁x"), dtype=np.int32)
    detok.step(first, batch)
    before = [detok.window(s) for s in range(2)]
    with pytest.raises(RuntimeError, match="crashed"):
        detok.step(first, batch)
    assert [detok.window(s) for s in range(2)] == before
    assert [batch[s].decision().tokens for s in range(2)] == [1, 1]


def test_bad_decode_results_and_arguments_are_named():
    ok = lambda windows: ["x"] * len(windows)  # noqa: E731
    with pytest.raises(TypeError, match="one str per window"):
        lil.IncrementalDetokenizer(1, lambda w: []).push(0, 5)
    with pytest.raises(TypeError, match="one str per window"):
        lil.IncrementalDetokenizer(1, lambda w: "x" * len(w)).push(0, 5)
    with pytest.raises(TypeError, match="must return str .* slot 0"):
        lil.IncrementalDetokenizer(1, lambda w: [b"x"] * len(w)).push(0, 5)
    with pytest.raises(TypeError, match="decode_batch must be a function"):
        lil.IncrementalDetokenizer(1, "decode")
    with pytest.raises(lil.Error, match="batch has 3 slots"):
        lil.IncrementalDetokenizer(2, ok).step(np.zeros(2, np.int32), lil.GuardianBatch(3))
    with pytest.raises(IndexError, match="slot 4"):
        lil.IncrementalDetokenizer(2, ok).reset(4)
    with pytest.raises(lil.Error, match="max_pending"):
        lil.IncrementalDetokenizer(2, ok, max_pending=0)


def test_deepcopy_is_independent():
    tok = PieceTokenizer(WORDS)
    detok = lil.IncrementalDetokenizer(1, Counting(tok.decode))
    detok.reset(0, tok.encode_word("▁the"))
    twin = copy.deepcopy(detok)
    assert detok.push(0, tok.encode_word("日")[0]) == ""
    assert detok.window(0) != twin.window(0)
    assert twin.push(0, tok.encode_word("▁ok")[0]) == " ok"


class FakeBackend:
    """A stand-in for tokenizers.Tokenizer: decode_batch, counted."""

    def __init__(self, decode, wrong=False):
        self.decode, self.wrong, self.calls = decode, wrong, 0

    def decode_batch(self, windows, skip_special_tokens=True):
        self.calls += 1
        out = [self.decode(w, skip_special_tokens=skip_special_tokens) for w in windows]
        return [t + "!" for t in out] if self.wrong else out


class FastTokenizer(PieceTokenizer):
    def __init__(self, words, wrong=False):
        super().__init__(words)
        self.backend_tokenizer = FakeBackend(super().decode, wrong)

    def __len__(self):
        return len(self.pieces)


@pytest.mark.parametrize("wrong", [False, True])
def test_a_fast_tokenizers_decode_batch_is_used_only_when_it_agrees_with_decode(wrong):
    tok = FastTokenizer(WORDS, wrong)
    decode_batch = batch_decoder(tok)
    tok.backend_tokenizer.calls = 0
    assert decode_batch([[3, 4], [tok.ids["▁ok"]]]) == [tok.decode([3, 4], skip_special_tokens=True), " ok"[1:]]
    assert tok.backend_tokenizer.calls == (0 if wrong else 1)


class ChunkReference:
    """step_at_checks's rule written out: tokens wait; at a check (or a flush)
    their text is decode(context + waiting ids) minus decode(context), holding
    back the fewest trailing ids (fewer than max_pending) that leave it whole."""

    def __init__(self, decode, context=(), keep=4, max_pending=8):
        self.decode, self.keep, self.max_pending = decode, keep, max_pending
        self.ids = list(context)[-keep:] if keep else []
        self.read = len(self.ids)

    def give(self):
        before = self.decode(self.ids[:self.read]) if self.read else ""
        after, held = self.decode(self.ids), 0
        if after.endswith("\ufffd"):
            for h in range(1, min(self.max_pending - 1, len(self.ids) - self.read) + 1):
                t = self.decode(self.ids[:len(self.ids) - h])
                if not t.endswith("\ufffd"):
                    after, held = t, h
                    break
        text = after[len(before):] if after.startswith(before) or len(after) > len(before) else ""
        emitted = len(self.ids) - held
        k = min(emitted, self.keep)
        self.ids = self.ids[emitted - k:]
        self.read = k
        return text


def whole_stream(tok, rng, n):
    """Ids of whole characters only (words and complete byte-token characters)."""
    out = []
    while len(out) < n:
        out += tok.encode_word(rng.choice(WORDS + ["日", "🙂", "ü"]))
    return out[:n]


@pytest.mark.parametrize("stream_kind", ["whole", "random"])
def test_text_at_checks_gives_the_chunk_rule_and_on_whole_characters_the_per_token_curve(stream_kind):
    tok = PieceTokenizer(WORDS)
    decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    rng = random.Random(5)
    slots, steps, f = 7, 500, 25
    make = whole_stream if stream_kind == "whole" else random_stream
    streams = [make(tok, rng, steps) for _ in range(slots)]
    contexts = [tok.encode_word("▁the")[: k % 2] for k in range(slots)]
    counting = Counting(decode)
    lazy = lil.IncrementalDetokenizer(slots, counting, check_every=f)
    eager = lil.IncrementalDetokenizer(slots, decode_batch=lambda w: [decode(x) for x in w])
    for s in range(slots):
        lazy.reset(s, contexts[s])
        eager.reset(s, contexts[s])
    a = lil.GuardianBatch(slots, check_every=f, min_gain=4)
    b = lil.GuardianBatch(slots, check_every=f, min_gain=4)
    refs = [ChunkReference(decode, contexts[s]) for s in range(slots)]
    singles = [lil.Guardian(check_every=f, min_gain=4) for _ in range(slots)]
    waiting = [0] * slots
    due_steps = 0
    for step in range(steps):
        ids = np.array([streams[s][step] if (s * 3 + step) % 7 else -1 for s in range(slots)], dtype=np.int32)
        due = False
        lazy_flags = lazy.step_at_checks(ids, a)
        eager_flags = eager.step(ids, b)
        for s in range(slots):
            if ids[s] < 0 or singles[s].stopped:
                continue
            refs[s].ids.append(int(ids[s]))
            waiting[s] += 1
            if (singles[s].tokens + waiting[s]) % f == 0:
                singles[s].accept_texts([""] * (waiting[s] - 1) + [refs[s].give()])
                waiting[s] = 0
                due = True
        due_steps += due
        assert list(lazy_flags) == [g.stopped for g in singles]
        if stream_kind == "whole":
            assert list(lazy_flags) == list(eager_flags)
    # One call at each step where some slot checks (a second one where a text
    # ends inside a character), none in between.
    assert due_steps <= counting.calls <= 2 * due_steps
    lazy.flush(a)
    for s in range(slots):
        assert lazy.waiting(s) == 0
        if waiting[s]:
            singles[s].accept_texts([""] * (waiting[s] - 1) + [refs[s].give()])
        assert a[s].curve() == singles[s].curve() and a[s].decision().tokens == singles[s].decision().tokens
        if stream_kind == "whole":  # the same text, so the same C(n) at every check, as per token
            assert a[s].curve() == b[s].curve() and a[s].decision().tokens == b[s].decision().tokens
            assert a[s].bytes == b[s].bytes


def test_a_character_split_across_a_check_waits_for_its_last_byte():
    tok = PieceTokenizer(WORDS)
    detok = lil.IncrementalDetokenizer(1, lambda w: [tok.decode(x) for x in w], check_every=3)
    batch = lil.GuardianBatch(1, check_every=3, min_gain=0)
    detok.reset(0, tok.encode_word("▁the"))
    ni = tok.encode_word("日")  # three byte tokens
    for i in [tok.ids["▁ok"]] + ni[:2]:  # the check at token 3 cuts the character
        detok.step_at_checks(np.array([i], np.int32), batch)
    assert batch[0].tokens == 3 and batch[0].bytes == len(" ok")  # its two bytes wait
    for i in ni[2:] + [tok.ids["▁x"], tok.ids["▁ok"]]:
        detok.step_at_checks(np.array([i], np.int32), batch)
    assert batch[0].tokens == 6 and batch[0].bytes == len(" ok日 x ok".encode())


def test_step_at_checks_needs_a_detokenizer_sized_for_the_batch_interval():
    detok = lil.IncrementalDetokenizer(2, lambda w: [""] * len(w), check_every=10)
    with pytest.raises(lil.Error, match="check_every=10.*every 250"):
        detok.step_at_checks(np.zeros(2, np.int32), lil.GuardianBatch(2))
    with pytest.raises(lil.Error, match="check_every=0"):
        lil.IncrementalDetokenizer(2, lambda w: [""] * len(w)).step_at_checks(np.zeros(2, np.int32),
                                                                              lil.GuardianBatch(2))


@pytest.mark.parametrize("at_checks", [True, False])
def test_the_hf_criterion_in_text_mode_decodes_once_a_step_or_once_a_check_and_matches_its_reference(at_checks):
    tok = FastTokenizer(WORDS)
    rng = random.Random(11)
    rows, steps, f = 6, 300, 20
    prompt = np.array([tok.encode_word("▁the")[:1] * 2] * rows)
    streams = np.array([random_stream(tok, rng, steps) for _ in range(rows)])
    guard = GuardianStoppingCriteria(tok, text=True, text_at_checks=at_checks, check_every=f, min_gain=3,
                                     eos_token_id=[])
    assert guard.mode == "text" and guard.text_decode == "decode_batch"
    assert GuardianStoppingCriteria(decode=tok.decode, check_every=20).text_decode == "decode"
    tok.backend_tokenizer.calls = 0
    ids = prompt
    for k in range(steps):
        ids = np.concatenate([ids, streams[:, k:k + 1]], axis=1)
        guard(ids, None)
    if at_checks:
        assert tok.backend_tokenizer.calls <= 2 * (steps // f)
    else:
        assert tok.backend_tokenizer.calls == steps
    hf_decode = lambda w: tok.decode(w, skip_special_tokens=True, clean_up_tokenization_spaces=False)  # noqa: E731
    decisions = guard.decisions()
    for r in range(rows):
        g = lil.Guardian(check_every=f, min_gain=3)
        if at_checks:
            ref = ChunkReference(hf_decode, list(prompt[r]))
            for k, i in enumerate(streams[r]):
                if g.stopped:
                    break
                ref.ids.append(int(i))
                if (k + 1) % f == 0 or k + 1 == steps:
                    g.accept_texts([""] * ((k + 1) - g.tokens - 1) + [ref.give()])
        else:
            ref = ReferenceDecoder(hf_decode, list(prompt[r]))
            for i in streams[r]:
                if g.stopped:
                    break
                g.accept(ref.push(int(i)))
        assert decisions[r].tokens == g.decision().tokens
        assert guard.stopped_at()[r] == (g.decision().stopped_at if g.stopped else None)
        assert guard._batch[r].curve() == g.curve()


def test_a_piece_cache_asks_each_id_once_and_prices_what_the_function_says():
    table = {5: b"ab", 7: "é", 9: b""}
    asked = []

    def token_bytes(i):
        asked.append(i)
        return table[i]

    cache = lil.PieceCache(token_bytes)
    batch = lil.GuardianBatch(3, check_every=2, min_gain=0)
    singles = [lil.Guardian(check_every=2, min_gain=0) for _ in range(3)]
    steps = [[5, 7, -1], [7, 9, 5], [5, 5, 7], [9, -1, 9]]
    for row in steps:
        flags = cache.step(np.array(row, np.int32), batch)
        for s, i in enumerate(row):
            if i >= 0:
                singles[s].accept(table[i])
        assert list(flags) == [g.stopped for g in singles]
    assert sorted(asked) == [5, 7, 9] and cache.known == 3
    assert [batch[s].curve() for s in range(3)] == [g.curve() for g in singles]
    assert [batch[s].bytes for s in range(3)] == [g.bytes for g in singles]
    assert cache.bytes(7) == "é".encode()
    with pytest.raises(TypeError, match="token_bytes"):
        lil.PieceCache(lambda i: 3).step(np.array([1, -1, -1], np.int32), batch)
    with pytest.raises(TypeError, match="function"):
        lil.PieceCache(b"table")
