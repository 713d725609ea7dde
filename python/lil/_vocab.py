"""A lil.Vocabulary from a Hugging Face tokenizer object.

Two families of tokenizers spell their pieces so that a table says what each
id decodes to:

- byte-level BPE (GPT-2, Llama-3, Qwen2, ...): each byte of a piece is one
  code point of GPT-2's printable alphabet ("Ġ" = space);
- sentencepiece-style (Llama-2, Mistral, Gemma ...): "▁" is a space, "<0xNN>"
  a byte (byte fallback), and decode drops the space at the start of a text.

Special tokens (``all_special_ids``) get no bytes, as
``decode(..., skip_special_tokens=True)`` writes them. Anything else (a
WordPiece "##" vocabulary, a decoder that rewrites text) raises
``UnsupportedTokenizer``: use the adapters' text mode (a ``decode`` function)
for it. The table is checked against the tokenizer's own ``decode`` on a
sample of ids before it is returned, so a tokenizer that only looks like one
of the families is refused rather than priced wrongly.
"""

from __future__ import annotations

import random
import re

from ._lil import Vocabulary

__all__ = ["UnsupportedTokenizer", "vocabulary_from_hf"]

_BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_SPACE_MARK = "\u2581"


class UnsupportedTokenizer(ValueError):
    """The tokenizer's decoding is not a table of pieces: use text mode (decode=...)."""


def _decoder_kind(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None) if backend is not None else None
    described = repr(decoder) if decoder is not None else ""
    if "ByteLevel" in described:
        return "byte_level"
    if "Metaspace" in described or "ByteFallback" in described:
        return "sentencepiece"
    if getattr(tokenizer, "sp_model", None) is not None:
        return "sentencepiece"
    return ""


def _sentencepiece_pieces(pieces, special):
    out = []
    for i, p in enumerate(pieces):
        if i in special or p is None:
            out.append(b"")
            continue
        m = _BYTE_PIECE.match(p)
        out.append(bytes([int(m.group(1), 16)]) if m else p.replace(_SPACE_MARK, " ").encode("utf-8"))
    return out


def _decode(tokenizer, ids):
    try:
        return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    except TypeError:
        return tokenizer.decode(ids)


def _check(tokenizer, vocab: Vocabulary, special, n: int, seed: int = 0) -> None:
    """Decodes a sample of id sequences both ways; raises on the first mismatch."""
    rng = random.Random(seed)
    ordinary = [i for i in range(n) if i not in special]
    samples = [ordinary[k:k + 16] for k in range(0, min(len(ordinary), 4096), 16)]
    samples += [[rng.choice(ordinary) for _ in range(24)] for _ in range(64)]
    for ids in samples:
        expected = _decode(tokenizer, ids)
        got = b"".join(vocab.bytes(i) for i in ids)
        if vocab.strips_leading_space and got.startswith(b" "):
            got = got[1:]
        text = got.decode("utf-8", errors="replace")
        if "\ufffd" in text or "\ufffd" in expected:
            continue  # an unfinished character: both sides write it their own way
        if text != expected:
            raise UnsupportedTokenizer(
                f"{type(tokenizer).__name__}: the vocabulary table decodes ids {ids[:8]}... to {text[:40]!r}, "
                f"the tokenizer to {expected[:40]!r}; use text mode (decode=tokenizer.decode) for this tokenizer")


def vocabulary_from_hf(tokenizer, check: bool = True) -> Vocabulary:
    """The lil.Vocabulary of a Hugging Face tokenizer (slow or fast).

    Raises UnsupportedTokenizer when the tokenizer's decoding is not a table of
    byte-level or sentencepiece pieces (then use text mode)."""
    if not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise TypeError(f"tokenizer must be a Hugging Face tokenizer, got {type(tokenizer).__name__}")
    n = len(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    special = set(int(i) for i in getattr(tokenizer, "all_special_ids", []) or [])
    kind = _decoder_kind(tokenizer)
    if not kind:
        text = [p for p in pieces if p]
        if any("\u0120" in p for p in text[:5000]):
            kind = "byte_level"
        elif any(p.startswith(_SPACE_MARK) or _BYTE_PIECE.match(p) for p in text[:5000]):
            kind = "sentencepiece"
    if kind == "byte_level":
        vocab = Vocabulary.from_byte_level_pieces([p if p is not None else "" for p in pieces],
                                                  no_bytes=sorted(i for i in special if i < n))
    elif kind == "sentencepiece":
        table = _sentencepiece_pieces(pieces, special)
        strips = False
        for i, p in enumerate(pieces):
            if i not in special and p and p.startswith(_SPACE_MARK) and len(p) > 1 and not _BYTE_PIECE.match(p):
                strips = _decode(tokenizer, [i]) == p[1:].replace(_SPACE_MARK, " ")
                break
        vocab = Vocabulary(table, strips_leading_space=strips, unfinished="per_byte")
    else:
        raise UnsupportedTokenizer(
            f"{type(tokenizer).__name__}: its decoding is neither byte-level BPE nor sentencepiece pieces; "
            "use text mode (decode=tokenizer.decode)")
    if check:
        _check(tokenizer, vocab, special, n)
    return vocab
