"""What the engine adapters share: how a token becomes the bytes a Guardian
compresses, and one guarded sequence that catches up with its token ids.

A Guardian prices a token by its text, as the paper does (t = 20 bytes was
chosen for text). Engines hand out ids, so each adapter needs one of:

- ``tokenizer`` (anything with ``decode(ids)``, e.g. a Hugging Face tokenizer)
  or ``decode`` (a function ids -> str): the text each token adds is found by
  *incremental detokenization* (below);
- ``vocabulary`` (a lil.Vocabulary, e.g. ``lil.vocabulary_from_hf(tokenizer)``):
  the ids go to C++ and are priced as the text they decode to, with no Python
  per token: the fast and exact way for byte-level BPE and sentencepiece
  tokenizers;
- ``token_bytes``: a function id -> bytes (or a sequence indexed by id) for
  vocabularies whose pieces simply concatenate (character- or byte-level);
- ``raw_ids=True``: the ids themselves, 4 bytes each (``Guardian.accept_raw_id``),
  an explicit choice: sizes of ids and of text are not comparable, so choose f
  and t for ids then.

Text mode (``tokenizer`` without a vocabulary, or ``decode``) stays for
tokenizers a table of pieces cannot express (WordPiece "##" merges, decoders
that rewrite text); it costs a tokenizer decode per token, which the Hugging
Face criterion makes one call per step for the whole batch.

Incremental detokenization
    Decoding one token alone is wrong for most tokenizers: SentencePiece drops
    a leading space at the start of a string, and a multi-byte character split
    over byte tokens decodes to U+FFFD until its last byte arrives. So each
    sequence keeps a short window of ids: ``prefix`` (already emitted, there
    for context) and the ids after it. A new token's text is
    ``decode(window)[len(decode(prefix)):]``; while that ends in U+FFFD (an
    unfinished character) the token adds no bytes and the window grows, and
    the token that completes the character brings all of its bytes. Each step
    decodes two short windows, never the whole output. The window starts with
    the last few prompt tokens, so the first generated token keeps its space.
    The rules live once, in C++ (lil.IncrementalDetokenizer): a batch makes
    one ``decode_batch`` call per step for all its sequences (a Hugging Face
    fast tokenizer's Rust one); IncrementalDecoder is its one-slot use.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence, Union

import copy as _copy

from ._lil import Guardian, GuardianOptions, IncrementalDetokenizer

# Prompt tokens kept as the first window's context.
CONTEXT_TOKENS = 4
# Tokens a character may stay unfinished before its bytes are emitted as they
# decode (an invalid byte sequence would otherwise grow the window forever).
MAX_PENDING_TOKENS = 8

Options = Union[GuardianOptions, dict, None]


def guardian_options(options: Options = None, overrides: Optional[dict] = None) -> GuardianOptions:
    """A validated GuardianOptions from a GuardianOptions, a dict, or None, plus
    keyword overrides. Raises lil.Error (a ValueError) naming a bad field."""
    if options is None:
        merged = {}
    elif isinstance(options, GuardianOptions):
        merged = options.as_dict()
    elif isinstance(options, dict):
        merged = dict(options)
    else:
        raise TypeError(f"options must be a lil.GuardianOptions, a dict or None, got {type(options).__name__}")
    merged.update(overrides or {})
    result = GuardianOptions(**merged)
    result.validate()
    return result


class IncrementalDecoder:
    """The text each new token adds to one sequence, from a ``decode(ids)``
    function: a one-slot lil.IncrementalDetokenizer (the rules are there)."""

    __slots__ = ("_detok",)

    def __init__(self, decode: Callable[[list], str], context_ids: Iterable[int] = ()):
        self._detok = IncrementalDetokenizer(1, one_by_one(decode), CONTEXT_TOKENS, MAX_PENDING_TOKENS)
        self._detok.reset(0, [int(i) for i in context_ids])

    def push(self, token_id: int) -> str:
        """Appends one id; returns the text it completes ('' while a character is unfinished)."""
        return self._detok.push(0, int(token_id))

    @property
    def window(self) -> list:
        """The ids kept: context, then those whose text is not out yet."""
        return self._detok.window(0)

    def __deepcopy__(self, memo):
        other = IncrementalDecoder.__new__(IncrementalDecoder)
        other._detok = _copy.deepcopy(self._detok)
        return other


def one_by_one(decode: Callable[[list], str]) -> Callable[[list], list]:
    """A decode_batch (list of id lists -> list of str) from a decode(ids) function."""
    def decode_batch(windows):
        return [decode(w) for w in windows]

    return decode_batch


def batch_decoder(tokenizer) -> Callable[[list], list]:
    """decode_batch for a tokenizer: a Hugging Face fast tokenizer's own Rust
    ``decode_batch`` (one call for a whole step) when it gives exactly what the
    tokenizer's ``decode`` gives on a sample of its vocabulary, else ``decode``
    once per window."""
    one = _tokenizer_decode(tokenizer)
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    fast = getattr(backend, "decode_batch", None)
    if callable(fast):
        try:
            size = int(len(tokenizer))
            sample = [[i] for i in range(0, size, max(1, size // 512))]
            sample += [[sample[k][0], sample[-1 - k][0]] for k in range(min(64, len(sample)))]
            if fast(sample, skip_special_tokens=True) == [one(w) for w in sample]:
                def decode_batch(windows):
                    return fast(windows, skip_special_tokens=True)

                decode_batch.batched = True  # one call of the tokenizer per step
                return decode_batch
        except Exception:  # anything unexpected: the plain path is always right
            pass
    return one_by_one(one)


class _IdSequence:
    __slots__ = ()

    def push(self, token_id: int):
        return None  # the guardian takes the id itself (its vocabulary, or raw when it has none)


class _PieceSequence:
    __slots__ = ("_piece",)

    def __init__(self, piece):
        self._piece = piece

    def push(self, token_id: int):
        return self._piece(token_id)


class TextSource:
    """Makes, per sequence, the object that turns ids into the bytes to accept."""

    def __init__(self, tokenizer=None, decode: Optional[Callable] = None, token_bytes=None):
        given = [x is not None for x in (tokenizer, decode, token_bytes)]
        if sum(given) > 1:
            raise TypeError("give at most one of tokenizer, decode and token_bytes")
        self.mode = "raw_ids"
        self._decode = None
        self._tokenizer = None
        self._piece = None
        if tokenizer is not None:
            if not hasattr(tokenizer, "decode"):
                raise TypeError(f"tokenizer must have a decode(ids) method, got {type(tokenizer).__name__}")
            self._decode = _tokenizer_decode(tokenizer)
            self._tokenizer = tokenizer
            self.mode = "text"
        elif decode is not None:
            if not callable(decode):
                raise TypeError("decode must be a function ids -> str")
            self._decode = decode
            self.mode = "text"
        elif token_bytes is not None:
            if callable(token_bytes):
                self._piece = token_bytes
            elif isinstance(token_bytes, Sequence):
                table = list(token_bytes)
                self._piece = table.__getitem__
            else:
                raise TypeError("token_bytes must be a function id -> bytes or a sequence indexed by id")
            self.mode = "pieces"

    def decode_batch(self) -> Callable[[list], list]:
        """Text mode's decode for a whole step (list of id lists -> list of str)."""
        if self._tokenizer is not None:
            return batch_decoder(self._tokenizer)
        return one_by_one(self._decode)

    @property
    def piece(self):
        """Pieces mode's function id -> bytes (None in other modes)."""
        return self._piece

    def sequence(self, context_ids: Iterable[int] = ()):
        if self._decode is not None:
            return IncrementalDecoder(self._decode, context_ids)
        if self._piece is not None:
            return _PieceSequence(self._piece)
        return _IdSequence()


def _tokenizer_decode(tokenizer):
    # Special tokens add no text; cleanup of spaces would rewrite earlier text.
    def decode(ids):
        try:
            return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        except TypeError:
            return tokenizer.decode(ids)

    return decode


def eos_ids(value) -> frozenset:
    """An EOS id, a list of them, or None, as a set of ints."""
    if value is None:
        return frozenset()
    if isinstance(value, int):
        return frozenset((value,))
    return frozenset(int(v) for v in value)


class GuardedSequence:
    """One sequence of an engine: its Guardian, its text source, and how many of
    its output ids have been accepted. ``catch_up(output_ids)`` accepts the ids
    not seen yet (by default from ``output``, an engine's live list of the
    sequence's output ids); an end-of-sequence id ends the sequence (it is not
    accepted)."""

    __slots__ = ("guardian", "_text", "seen", "finished", "_eos", "output", "eos_id")

    def __init__(self, guardian: Guardian, text, eos: frozenset = frozenset(), output=None, eos_id=None):
        self.guardian = guardian
        self._text = text
        self.seen = 0
        self.finished = False
        self._eos = eos
        self.output = output  # the engine's live output list, when it has one
        self.eos_id = eos_id  # the id to force when the guardian says stop

    @property
    def stopped(self) -> bool:
        return self.guardian.stopped

    def feed(self, ids: Iterable[int]) -> bool:
        """Accepts these new ids; returns whether the guardian says stop."""
        g = self.guardian
        for token_id in ids:
            self.seen += 1
            if self.finished or g.stopped:
                continue
            token_id = int(token_id)
            if token_id in self._eos:
                self.finished = True
                continue
            text = self._text.push(token_id)
            if text is None:
                # The guardian was built with a vocabulary, or explicitly for raw ids.
                if g.vocabulary is not None:
                    g.accept_id(token_id)
                else:
                    g.accept_raw_id(token_id)
            else:
                g.accept(text)
        return g.stopped

    def catch_up(self, output_ids: Optional[Sequence[int]] = None) -> bool:
        """Accepts output_ids[seen:] (default: self.output); returns whether the guardian says stop."""
        if output_ids is None:
            output_ids = self.output
        if len(output_ids) > self.seen:
            return self.feed(output_ids[self.seen:])
        return self.guardian.stopped


def force_token(logits, rows: list, token_ids: list):
    """Makes token_ids[k] the only possible next token of row rows[k]: every
    other logit of the row becomes -inf, that one 0. Works in place on torch
    tensors and numpy arrays; returns logits."""
    if not rows:
        return logits
    logits[rows, :] = float("-inf")
    logits[rows, token_ids] = 0.0
    return logits
