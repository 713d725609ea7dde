"""lil.hf.GuardianStoppingCriteria, driven by a stand-in of transformers'
generate loop (transformers is not needed): each step appends one token per
sequence, a finished sequence gets the pad token, and a sequence is finished
once a criterion flags it or it produced EOS."""

import pytest

import lil
from conftest import F, T, looping_tokens, novel_tokens, reference_stop
from lil.hf import GuardianStoppingCriteria

np = pytest.importorskip("numpy")

EOS, PAD = 2, 0


class Vocab:
    """Token strings <-> ids (ids from 3: 0 pad, 1 bos, 2 eos)."""

    def __init__(self, *streams):
        self.pieces = ["<pad>", "<s>", "</s>"]
        self.ids = {}
        for s in streams:
            for t in s:
                if t not in self.ids:
                    self.ids[t] = len(self.pieces)
                    self.pieces.append(t)
        self.eos_token_id, self.pad_token_id = EOS, PAD

    def encode(self, tokens):
        return [self.ids[t] for t in tokens]

    def decode(self, ids, skip_special_tokens=False, **_):
        return "".join(self.pieces[i] for i in ids if not (skip_special_tokens and i < 3))


def generate(criterion, prompts, scripts, max_new, backend):
    """Greedy decoding of scripted continuations, as transformers' loop runs it."""
    width = max(len(p) for p in prompts)
    rows = [[PAD] * (width - len(p)) + p for p in prompts]  # left padding
    if backend == "torch":
        torch = pytest.importorskip("torch")
        ids = torch.tensor(rows, dtype=torch.long)
        unfinished = torch.ones(len(rows), dtype=torch.bool)
    else:
        ids = np.array(rows, dtype=np.int64)
        unfinished = np.ones(len(rows), dtype=bool)
    for step in range(max_new):
        nxt = [s[step] if step < len(s) else EOS for s in scripts]
        nxt = [t if bool(unfinished[r]) else PAD for r, t in enumerate(nxt)]
        if backend == "torch":
            new = torch.tensor(nxt, dtype=torch.long)
            ids = torch.cat([ids, new[:, None]], dim=1)
            flags = criterion(ids, None)
            assert flags.dtype == torch.bool and tuple(flags.shape) == (len(rows),)
            unfinished = unfinished & ~flags & (new != EOS)
        else:
            new = np.array(nxt, dtype=np.int64)
            ids = np.concatenate([ids, new[:, None]], axis=1)
            flags = criterion(ids, None)
            assert flags.dtype == bool and flags.shape == (len(rows),)
            unfinished = unfinished & ~flags & (new != EOS)
        if not unfinished.any():
            break
    return ids[:, width:].tolist()


def generated_length(row):
    n = len(row)
    while n and row[n - 1] == PAD:
        n -= 1
    return n


@pytest.fixture
def streams():
    loop = looping_tokens(12 * F)
    novel = novel_tokens(12 * F, seed=11)
    short = novel_tokens(30, seed=12)
    return loop, novel, short


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("mode", ["tokenizer", "token_bytes", "vocabulary", "ids"])
def test_each_sequence_stops_where_its_own_guardian_says(streams, backend, mode):
    loop, novel, short = streams
    vocab = Vocab(loop, novel, short, ["▁Q", "?"])
    prompts = [vocab.encode(["▁Q", "?"]), vocab.encode(["?"]), vocab.encode(["▁Q", "?", "?"])]
    scripts = [vocab.encode(loop), vocab.encode(novel), vocab.encode(short) + [EOS]]
    table = [b""] * 3 + [p.encode() for p in vocab.pieces[3:]]  # special tokens decode to nothing
    kwargs = {
        "tokenizer": {"tokenizer": vocab},
        "token_bytes": {"token_bytes": table, "eos_token_id": EOS},
        "vocabulary": {"vocabulary": lil.Vocabulary(table), "eos_token_id": EOS},
        "ids": {"raw_ids": True, "eos_token_id": EOS},
    }[mode]
    guard = GuardianStoppingCriteria(check_every=F, min_gain=T, **kwargs)
    out = generate(guard, prompts, scripts, 12 * F, backend)

    if mode == "ids":
        g = lil.Guardian(check_every=F, min_gain=T)
        g.accept_raw_ids(scripts[0])
        expected = g.decision().stopped_at or None
    else:
        expected = reference_stop(loop, check_every=F, min_gain=T)
    assert expected is not None
    assert guard.stopped_at()[0] == expected
    assert generated_length(out[0]) == expected  # generate ended the row right there
    assert guard.stopped_at()[1] is None and generated_length(out[1]) == 12 * F
    assert guard.stopped_at()[2] is None and out[2][len(short)] == EOS
    # the prompt is not accepted; the EOS and the padding after it are not either
    assert [d.tokens for d in guard.decisions()] == [expected, 12 * F, len(short)]
    assert guard.prompt_columns == 3
    assert guard.mode == {"tokenizer": "text", "token_bytes": "pieces", "vocabulary": "ids", "ids": "raw_ids"}[mode]


def test_a_criterion_is_reused_across_generate_calls(streams):
    loop, novel, _ = streams
    vocab = Vocab(loop, novel, ["?"])
    guard = GuardianStoppingCriteria(vocab, check_every=F, min_gain=T)
    first = generate(guard, [vocab.encode(["?"])], [vocab.encode(loop)], 12 * F, "numpy")
    second = generate(guard, [vocab.encode(["?"])] * 2, [vocab.encode(novel), vocab.encode(loop)], 12 * F, "numpy")
    stop = reference_stop(loop, check_every=F, min_gain=T)
    assert generated_length(first[0]) == stop
    assert guard.stopped_at() == [None, stop] and generated_length(second[1]) == stop
    guard.reset()
    assert guard.decisions() == []


def test_prompt_length_marks_the_generated_columns(streams):
    loop, _, _ = streams
    vocab = Vocab(loop, ["?"])
    guard = GuardianStoppingCriteria(vocab, prompt_length=1, check_every=F, min_gain=T)
    ids = np.array([vocab.encode(["?"] + loop[:7])])
    guard(ids, None)  # a first call that brings seven tokens at once (assisted decoding)
    assert guard.decisions()[0].tokens == 7


def test_plain_lists_are_accepted_and_flags_returned_as_a_list():
    guard = GuardianStoppingCriteria(raw_ids=True, check_every=2, min_gain=1000)
    flags = guard([[1, 5], [1, 6]], None)
    assert flags == [False, False]
    flags = guard([[1, 5, 5, 5, 5], [1, 6, 7, 8, 9]], None)  # 4 tokens: the second check
    assert flags == [True, True]


def test_options_are_checked_at_construction():
    with pytest.raises(lil.Error, match=r"check_every \(f\) must be >= 1, got 0"):
        GuardianStoppingCriteria(raw_ids=True, check_every=0)
    with pytest.raises(TypeError, match="unexpected option"):
        GuardianStoppingCriteria(raw_ids=True, min_gian=3)
    with pytest.raises(TypeError, match="raw_ids=True"):
        GuardianStoppingCriteria()  # no silent default: ids as 4 bytes must be asked for
    o = GuardianStoppingCriteria(raw_ids=True, options={"check_every": 40}, min_gain=2).options
    assert (o.check_every, o.min_gain) == (40, 2.0)


def test_derives_from_transformers_stopping_criteria_when_installed():
    transformers = pytest.importorskip("transformers")
    assert issubclass(GuardianStoppingCriteria, transformers.StoppingCriteria)


def test_beam_search_reordering_is_refused_with_a_clear_error(streams):
    # transformers' _beam_search (src/transformers/generation/utils.py) reorders
    # the rows of input_ids by beam_idx every step before calling the
    # stopping criteria: a row is then another candidate's history.
    loop, novel, _ = streams
    table = [b""] * 3 + [t.encode() for t in sorted(set(loop + novel))]
    ids_of = {t: i for i, t in enumerate([None] * 3 + sorted(set(loop + novel)))}
    guard = GuardianStoppingCriteria(token_bytes=table, eos_token_id=EOS, check_every=F, min_gain=T)
    rows = np.array([[1, ids_of[loop[0]]], [1, ids_of[novel[0]]]])
    guard(rows, None)
    rows = np.concatenate([rows, np.array([[ids_of[loop[1]]], [ids_of[novel[1]]]])], axis=1)
    guard(rows, None)
    reordered = rows[[1, 0]]  # beam_idx = [1, 0]
    reordered = np.concatenate([reordered, np.array([[ids_of[loop[2]]], [ids_of[novel[2]]]])], axis=1)
    with pytest.raises(RuntimeError, match="beam search"):
        guard(reordered, None)


def test_deepcopy_gives_an_independent_criterion(streams):
    import copy

    loop, _, _ = streams
    vocab = Vocab(loop, ["?"])
    table = [b""] * 3 + [p.encode() for p in vocab.pieces[3:]]
    guard = GuardianStoppingCriteria(token_bytes=table, eos_token_id=EOS, check_every=F, min_gain=T)
    ids = np.array([vocab.encode(["?"] + loop[:60])])
    for k in range(2, 40):
        guard(ids[:, :k], None)
    twin = copy.deepcopy(guard)
    assert twin.vocabulary is guard.vocabulary  # shared (a table becomes a Vocabulary): it never changes
    for k in range(40, 61):
        twin(ids[:, :k], None)
    assert guard.decisions()[0].tokens == 38 and twin.decisions()[0].tokens == 59
    text_guard = GuardianStoppingCriteria(vocab, check_every=F, min_gain=T)
    for k in range(2, 20):
        text_guard(ids[:, :k], None)
    twin = copy.deepcopy(text_guard)
    twin(ids[:, :25], None)
    assert text_guard.decisions()[0].tokens == 18 and twin.decisions()[0].tokens == 24


class FakeHFTokenizer:
    """The parts of a Hugging Face tokenizer vocabulary_from_hf reads."""

    def __init__(self, pieces, decoder, decode, special=()):
        self._pieces, self._decode_fn, self.all_special_ids = pieces, decode, list(special)
        self.backend_tokenizer = type("Backend", (), {"decoder": decoder})()

    def __len__(self):
        return len(self._pieces)

    def convert_ids_to_tokens(self, ids):
        return [self._pieces[i] for i in ids]

    def decode(self, ids, skip_special_tokens=False, **_):
        return self._decode_fn([i for i in ids if not (skip_special_tokens and i in self.all_special_ids)])


def test_vocabulary_from_hf_reads_byte_level_and_sentencepiece_and_refuses_others():
    alpha = {b: chr(b) for b in range(33, 127)}
    alpha[32] = "\u0120"
    words = [b" the", b" cat", b"sat", b".", b"\xc3\xa9"]
    pieces = ["<|end|>"] + ["".join(alpha.get(c, chr(c)) if c < 128 else {0xc3: "Ã", 0xa9: "©"}[c] for c in w)
                            for w in words]
    table = [b""] + words

    def bl_decode(ids):
        return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")

    tok = FakeHFTokenizer(pieces, "ByteLevel(add_prefix_space=False)", bl_decode, special=[0])
    v = lil.vocabulary_from_hf(tok)
    assert [v.bytes(i) for i in range(len(v))] == table and not v.strips_leading_space

    sp_pieces = ["<s>", "\u2581The", "\u2581cat", "<0x0A>", "s"]
    sp_table = [b"", b" The", b" cat", b"\n", b"s"]

    def sp_decode(ids):
        text = b"".join(sp_table[i] for i in ids).decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text

    sp = FakeHFTokenizer(sp_pieces, "Sequence(decoders=[Replace, ByteFallback, Fuse, Strip])", sp_decode, special=[0])
    v = lil.vocabulary_from_hf(sp)
    assert [v.bytes(i) for i in range(len(v))] == sp_table and v.strips_leading_space

    wp = FakeHFTokenizer(["[CLS]", "the", "##s"], "WordPiece(prefix=##)", lambda ids: "", special=[0])
    with pytest.raises(lil.UnsupportedTokenizer, match="text mode"):
        lil.vocabulary_from_hf(wp)
    # A tokenizer that only looks byte-level but decodes otherwise is refused too.
    liar = FakeHFTokenizer(pieces, "ByteLevel", lambda ids: "different", special=[0])
    with pytest.raises(lil.UnsupportedTokenizer, match="text mode"):
        lil.vocabulary_from_hf(liar)
    # The criterion falls back to text mode for such a tokenizer, and says why.
    guard = GuardianStoppingCriteria(wp, eos_token_id=2, check_every=F, min_gain=T)
    assert guard.mode == "text" and "text mode" in guard.text_mode_reason
