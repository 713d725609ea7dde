"""How adapters turn ids into the bytes a Guardian accepts: incremental
detokenization, piece tables, ids."""

import pytest

import lil
from lil._sequences import GuardedSequence, IncrementalDecoder, TextSource, eos_ids


class PieceTokenizer:
    """A SentencePiece-like stand-in: '▁' marks a space, <0xXX> pieces are raw
    bytes, a decode drops the space that starts the text, and an unfinished
    UTF-8 character decodes to U+FFFD (as real tokenizers do)."""

    def __init__(self, words):
        self.pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + list(words)
        self.ids = {p: i for i, p in enumerate(self.pieces)}
        self.eos_token_id = 2

    def encode_word(self, word):
        if word in self.ids:
            return [self.ids[word]]
        return [self.ids[f"<0x{b:02X}>"] for b in word.replace("▁", " ").encode("utf-8")]

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=True):
        raw = b""
        for i in ids:
            p = self.pieces[i]
            if p in ("<unk>", "<s>", "</s>"):
                if not skip_special_tokens:
                    raw += p.encode()
                continue
            raw += bytes([int(p[3:5], 16)]) if p.startswith("<0x") else p.replace("▁", " ").encode("utf-8")
        text = raw.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text


WORDS = ["▁the", "▁check", "▁says", "▁ok", "▁redo", ";", "▁x"]


def test_texts_concatenate_to_the_decode_of_the_generation_with_its_space():
    tok = PieceTokenizer(WORDS)
    context = tok.encode_word("▁the")
    generated = []
    for w in ["▁check", "▁日本", "▁says", ";", "▁ok", "▁é", "▁redo", "▁🙂", "▁x"] * 3:
        generated += tok.encode_word(w)
    d = IncrementalDecoder(tok.decode, context)
    pieces = [d.push(i) for i in generated]
    whole = tok.decode(context + generated)
    assert "".join(pieces) == whole[len(tok.decode(context)):]
    assert pieces[0] == " check"  # the space survives: the window starts with context


def test_a_character_split_over_byte_tokens_arrives_with_its_last_byte():
    tok = PieceTokenizer(WORDS)
    d = IncrementalDecoder(tok.decode, tok.encode_word("▁the"))
    out = [d.push(i) for i in tok.encode_word("日")]  # three byte tokens
    assert out == ["", "", "日"]


def test_an_invalid_byte_sequence_does_not_grow_the_window_forever():
    tok = PieceTokenizer(WORDS)
    d = IncrementalDecoder(tok.decode)
    lone = tok.ids["<0xE6>"]  # a lead byte that never gets its continuation
    outs = [d.push(lone) for _ in range(30)]
    assert any(o for o in outs) and len(d.window) <= 12


def test_modes_of_a_text_source():
    tok = PieceTokenizer(WORDS)
    assert TextSource(tok).mode == "text"
    assert TextSource(decode=tok.decode).mode == "text"
    assert TextSource(token_bytes=["a", "b"]).mode == "pieces"
    assert TextSource(token_bytes=lambda i: b"x").mode == "pieces"
    assert TextSource().mode == "raw_ids"
    with pytest.raises(TypeError, match="at most one"):
        TextSource(tok, decode=tok.decode)
    with pytest.raises(TypeError, match="decode"):
        TextSource(object())


def test_a_guarded_sequence_prices_tokens_as_its_source_says():
    table = [b"", b"ab", b"cd", b"\n"]
    seq = GuardedSequence(lil.Guardian(check_every=3), TextSource(token_bytes=table).sequence(), eos_ids(0))
    seq.feed([1, 2, 3, 1])
    assert seq.guardian.tokens == 4 and seq.guardian.bytes == 7
    seq.feed([0, 1, 2])  # EOS: the sequence is over, nothing after it is accepted
    assert seq.finished and seq.guardian.tokens == 4 and seq.seen == 7
    ids = GuardedSequence(lil.Guardian(check_every=3), TextSource().sequence())
    ids.catch_up([5, 6, 7])
    ids.catch_up([5, 6, 7])  # nothing new
    assert ids.guardian.tokens == 3 and ids.guardian.bytes == 12
