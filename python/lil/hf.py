"""Guardian as a Hugging Face transformers stopping criterion.

    from transformers import StoppingCriteriaList
    from lil.hf import GuardianStoppingCriteria

    guard = GuardianStoppingCriteria(tokenizer, check_every=250, min_gain=20)
    out = model.generate(**inputs, max_new_tokens=4096,
                         stopping_criteria=StoppingCriteriaList([guard]))
    guard.stopped_at()   # per sequence: generated tokens when Guardian said stop, or None

One Guardian per sequence of the batch. ``generate`` calls the criterion after
every step with the whole ``input_ids`` (prompt + generated so far); the
criterion accepts the columns it has not seen and returns a bool tensor of
shape (batch,) (transformers >= 4.39 combines per-sequence flags: a sequence
whose flag is True is finished, the others go on).

Which columns are generated: the first call is taken to bring exactly one new
token per sequence (greedy, sampling and beam steps do), so everything before
its last column is the prompt; pass ``prompt_length`` when it is known (e.g.
assisted decoding, which can add several tokens per call). With left padding
(the usual for decoder-only batches) the prompts end at the same column.

Every step, in every mode, is one device-to-host copy of the new column (and
the one before it) and one C++ call for the whole batch (lil.ColumnFeed: EOS,
ended rows, the beam-search check and the mode's step); on CUDA the flags go
back from page-locked memory by an asynchronous copy.

How tokens are priced (``mode``):

- ``'ids'``: a lil.Vocabulary (given, or built from ``tokenizer`` by
  ``lil.vocabulary_from_hf``), priced as the text the ids decode to. The default with a Hugging Face
  tokenizer of the byte-level BPE or sentencepiece families.
- ``'pieces'``: ``token_bytes`` (a sequence indexed by id: a table, the same
  fast path; a function id -> bytes: asked once per distinct id and kept in
  C++ (lil.PieceCache), one call per step).
- ``'text'``: incremental detokenization (lil.IncrementalDetokenizer) with
  the tokenizer's decode (a tokenizer the vocabulary cannot express, or
  ``text=True``) or ``decode``. Guardian reads bytes only at its checks, so
  by default (``text_at_checks=True``) a sequence's tokens wait and their text
  is decoded once per check: decode(context + the ids since the last check)
  minus decode(context), an unfinished last character waiting for the next
  check; one decode call (for the sequences at a check) every f steps, none
  in between. ``text_at_checks=False`` decodes every token (two short
  windows each, one call per step for the whole batch). Both give the same
  C(n) whenever the tokenizer decodes a window as the concatenation of its
  tokens' texts. The decode is a Hugging Face fast tokenizer's Rust
  ``decode_batch`` when it agrees with ``decode`` on a sample of the
  vocabulary (``text_decode``), else ``decode`` per window. The reason a
  tokenizer fell back to text is in ``text_mode_reason``.
- ``'raw_ids'``: ``raw_ids=True``, each id as its 4 bytes (sizes not those of
  text).

An EOS id (``eos_token_id``, default the tokenizer's) ends a sequence for the
criterion: what follows it (padding) is not accepted.

Beam search is refused: its rows are the step's candidates, reordered every
step, so a row is not one sequence. The criterion compares each row's
previous token with the one it accepted there and raises a RuntimeError
naming beam search when they differ (use num_beams=1). ``copy.deepcopy``
gives an independent criterion sharing the vocabulary and tokenizer.

The criterion is reusable: ``reset()`` forgets the last generation; a call
whose input is shorter than what was seen, or has another batch size, starts a
new generation by itself. transformers is not needed to import this module;
when it is installed the class derives from its ``StoppingCriteria``.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import copy as _copy
from collections.abc import Sequence as _Sequence

from ._lil import ColumnFeed, Decision, GuardianBatch, IncrementalDetokenizer, PieceCache, Vocabulary
from ._sequences import CONTEXT_TOKENS, MAX_PENDING_TOKENS, Options, TextSource, eos_ids, guardian_options
from ._vocab import UnsupportedTokenizer, vocabulary_from_hf

try:  # numpy is what each step hands to C++
    import numpy as _np
except Exception:  # pragma: no cover
    _np = None

try:  # pragma: no cover - depends on the environment
    from transformers import StoppingCriteria as _StoppingCriteriaBase
except Exception:  # transformers missing or broken: a plain base keeps the logic usable
    _StoppingCriteriaBase = object

__all__ = ["GuardianStoppingCriteria"]


class GuardianStoppingCriteria(_StoppingCriteriaBase):
    """Stops each sequence of ``model.generate`` when its Guardian says stop.

    Args:
        tokenizer: anything with ``decode(ids)``; the text of each token is found
            by incremental detokenization. Its ``eos_token_id`` is the default EOS.
        decode: instead of a tokenizer, a function ids -> str.
        token_bytes: instead, a function id -> bytes (or a sequence indexed by
            id) for vocabularies whose pieces concatenate exactly.
            With none of the three, tokens are accepted by id.
        eos_token_id: int or list of ints that end a sequence (not accepted).
        pad_token_id: never used as prompt context (left padding).
        prompt_length: columns of ``input_ids`` that are prompt; default: all
            but the last column of the first call.
        options: a lil.GuardianOptions or dict; keyword overrides
            (check_every=..., min_gain=..., ...) are applied on top.
    """

    def __init__(
        self,
        tokenizer=None,
        *,
        vocabulary: Optional[Vocabulary] = None,
        decode: Optional[Callable] = None,
        token_bytes=None,
        text: bool = False,
        text_at_checks: bool = True,
        raw_ids: bool = False,
        eos_token_id=None,
        pad_token_id: Optional[int] = None,
        prompt_length: Optional[int] = None,
        options: Options = None,
        **overrides,
    ):
        self.options = guardian_options(options, overrides)
        self.text_mode_reason: Optional[str] = None
        self._at_checks = bool(text_at_checks)
        chosen = sum(x is not None for x in (vocabulary, decode, token_bytes)) + bool(raw_ids) + bool(text)
        if chosen > 1:
            raise TypeError("give at most one of vocabulary, decode, token_bytes, text=True and raw_ids=True")
        if vocabulary is None and token_bytes is not None and not callable(token_bytes):
            if not isinstance(token_bytes, _Sequence):
                raise TypeError("token_bytes must be a function id -> bytes or a sequence indexed by id")
            vocabulary = Vocabulary(list(token_bytes))
            self._mode = "pieces"
        elif vocabulary is not None:
            if not isinstance(vocabulary, Vocabulary):
                raise TypeError(f"vocabulary must be a lil.Vocabulary, got {type(vocabulary).__name__}")
            self._mode = "ids"
        elif tokenizer is not None and decode is None and token_bytes is None and not text and not raw_ids:
            try:
                vocabulary = vocabulary_from_hf(tokenizer)
                self._mode = "ids"
            except (UnsupportedTokenizer, TypeError, AttributeError) as e:
                self.text_mode_reason = str(e)
        elif tokenizer is None and decode is None and token_bytes is None and not raw_ids:
            raise TypeError("GuardianStoppingCriteria needs a tokenizer, a vocabulary, token_bytes or decode "
                            "(or raw_ids=True to price each id as its 4 bytes)")
        self._vocabulary = vocabulary
        self._piece = None
        self._decode_batch = None
        if vocabulary is None:
            if raw_ids:
                source = TextSource()
            else:
                source = TextSource(None if decode is not None or callable(token_bytes) else tokenizer,
                                    decode, token_bytes if callable(token_bytes) else None)
            self._mode = source.mode
            if source.piece is not None:  # asked once per id, kept in C++ for every later step
                self._piece = PieceCache(source.piece, _size_hint(tokenizer))
            if self._mode == "text":
                self._decode_batch = source.decode_batch()
        if _np is None:
            raise ImportError("lil.hf needs numpy (every step is one array handed to C++)")
        if eos_token_id is None and tokenizer is not None:
            eos_token_id = getattr(tokenizer, "eos_token_id", None)
        if pad_token_id is None and tokenizer is not None:
            pad_token_id = getattr(tokenizer, "pad_token_id", None)
        self._eos = eos_ids(eos_token_id)
        self._not_context = self._eos | eos_ids(pad_token_id)
        if prompt_length is not None and prompt_length < 0:
            raise ValueError(f"prompt_length must be >= 0, got {prompt_length}")
        self._prompt_length = prompt_length
        self.reset()

    @property
    def mode(self) -> str:
        """How tokens are priced: 'ids' (vocabulary), 'pieces' (token_bytes), 'text' or 'raw_ids'."""
        return self._mode

    @property
    def text_decode(self) -> Optional[str]:
        """Text mode's decode: 'decode_batch' (the tokenizer's own, one call a
        step) or 'decode' (called per window); None in other modes."""
        if self._decode_batch is None:
            return None
        return "decode_batch" if getattr(self._decode_batch, "batched", False) else "decode"

    @property
    def vocabulary(self) -> Optional[Vocabulary]:
        return self._vocabulary

    def reset(self) -> None:
        """Forgets the current generation (the next call starts a new one)."""
        self._batch: Optional[GuardianBatch] = None
        self._detok: Optional[IncrementalDetokenizer] = None
        self._feed: Optional[ColumnFeed] = None
        self._start = 0
        self._seen = 0
        self._flags = None
        self._pinned: Optional[_PinnedFlags] = None
        self._torch = False

    def __deepcopy__(self, memo):
        # transformers deep-copies criteria on some paths: the copy gets its own
        # guardians and windows and shares what is immutable (vocabulary,
        # tokenizer, decode).
        other = _copy.copy(self)
        for name in ("_batch", "_detok", "_feed"):
            value = getattr(self, name)
            setattr(other, name, None if value is None else _copy.deepcopy(value))
        other._flags = None if self._flags is None else self._flags.copy()
        other._pinned = None  # the copy's flags are its own numpy array (plain copies each step)
        return other

    def _begin(self, input_ids, batch: int, width: int) -> None:
        start = self._prompt_length if self._prompt_length is not None else width - 1
        if start > width:
            raise ValueError(f"prompt_length {start} is longer than the input ({width} columns)")
        if self._vocabulary is not None:
            self._batch = GuardianBatch(batch, self.options, vocabulary=self._vocabulary)
        else:
            self._batch = GuardianBatch(batch, self.options)
        self._detok = None
        if self._mode == "text":
            # The prompt's tail is each window's first context, so that the
            # first generated token keeps its leading space.
            self._detok = IncrementalDetokenizer(batch, self._decode_batch, CONTEXT_TOKENS, MAX_PENDING_TOKENS,
                                                 self.options.check_every if self._at_checks else None)
            for i, row in enumerate(_columns(input_ids, max(0, start - CONTEXT_TOKENS), start)):
                self._detok.reset(i, [t for t in row if t not in self._not_context])
        self._feed = ColumnFeed(batch, sorted(self._eos))
        self._torch = type(input_ids).__module__.split(".")[0] == "torch"
        self._pinned = _PinnedFlags.make(input_ids, batch) if self._torch else None
        # C++ writes the flags straight into page-locked memory on CUDA.
        self._flags = self._pinned.flags if self._pinned is not None else _np.zeros(batch, dtype=bool)
        self._start = start
        self._seen = start

    def __call__(self, input_ids, scores=None, **kwargs):
        batch, width = _shape(input_ids)
        if self._batch is None or batch != len(self._batch) or width < self._seen:
            self._begin(input_ids, batch, width)  # a new generation
        if width > self._seen:
            # One device-to-host copy: the new columns and, to catch reordered
            # rows, the column before them; then one C++ call.
            first = self._seen - 1 if self._feed.has_last else self._seen
            cols = _host(input_ids, first, width, self._torch)
            self._feed.take(cols, self._batch, self._flags, self._feed_source(), self._at_checks)
            self._seen = width
        if self._pinned is not None:
            return self._pinned.to_device()
        return _flags_like(input_ids, self._flags)

    def _feed_source(self):
        """What ColumnFeed.take hands each step's ids to, by the mode."""
        if self._vocabulary is not None:
            return None
        if self._detok is not None:
            return self._detok
        if self._piece is not None:
            return self._piece
        return "raw_ids"

    # --- what a caller reads afterwards -------------------------------------------
    def _guardians(self):
        if self._batch is None:
            return []
        if self._detok is not None and self._at_checks:
            self._detok.flush(self._batch)  # the tokens since the last check, for complete figures
        return [self._batch[i] for i in range(len(self._batch))]

    def decisions(self) -> List[Decision]:
        """Each sequence's Decision (figures of its last check)."""
        return [g.decision() for g in self._guardians()]

    def stopped_at(self) -> List[Optional[int]]:
        """Per sequence: generated tokens when Guardian said stop, or None."""
        out = []
        for g in self._guardians():
            d = g.decision()
            out.append(int(d.stopped_at) if d.stop else None)
        return out

    @property
    def prompt_columns(self) -> int:
        """Columns of input_ids taken as the prompt in the current generation."""
        return self._start


def _shape(input_ids):
    if hasattr(input_ids, "shape"):
        return int(input_ids.shape[0]), int(input_ids.shape[-1])
    return len(input_ids), (len(input_ids[0]) if len(input_ids) else 0)


def _columns(input_ids, start: int, stop: int) -> list:
    """Columns [start, stop) of every row, as lists of ints (one device-to-host copy)."""
    if hasattr(input_ids, "shape"):
        return input_ids[:, start:stop].tolist()
    return [list(row[start:stop]) for row in input_ids]


def _host(input_ids, start: int, stop: int, torch: bool):
    """Columns [start, stop) as one numpy array on the host: one copy from a
    device for a torch tensor (`torch`), a view of a numpy array, or built
    from lists of ids."""
    if torch:
        return input_ids[:, start:stop].cpu().numpy()
    if not hasattr(input_ids, "shape"):  # plain lists of ids
        return _np.array([list(row[start:stop]) for row in input_ids], dtype=_np.int64).reshape(len(input_ids), -1)
    return _np.asarray(input_ids[:, start:stop])


def _size_hint(tokenizer) -> int:
    """The tokenizer's vocabulary size when it says (0 otherwise)."""
    try:
        return max(0, int(len(tokenizer))) if tokenizer is not None else 0
    except Exception:
        return 0


class _PinnedFlags:
    """The stop flags on their way to a CUDA device: an asynchronous copy from
    a page-locked buffer (allocated once per generation) that C++ fills in
    place. The next call writes the flags only after its own copy of
    input_ids (_host), which the stream runs after the flags' copy, so they
    are never overwritten early.

    Reading the ids through a page-locked buffer and an event instead was
    measured inside generate on the H200 and was slower at every batch size
    (0.097-0.104 ms against 0.068-0.093 ms a call, docs/python.md): torch's
    stream and event calls cost more from Python than the pageable copy."""

    def __init__(self, torch, rows: int, device):
        self.device = device
        self._flags_host = torch.zeros(rows, dtype=torch.bool).pin_memory()
        self.flags = self._flags_host.numpy()

    @classmethod
    def make(cls, input_ids, rows: int):
        """For a tensor on a CUDA device; None otherwise, or where page-locked
        memory is not available (the plain copies then work)."""
        if input_ids.device.type != "cuda":
            return None
        try:
            import torch

            return cls(torch, rows, input_ids.device)
        except Exception:  # pragma: no cover - no pinned memory
            return None

    def to_device(self):
        return self._flags_host.to(self.device, non_blocking=True)


def _flags_like(input_ids, flags):
    # The stop flags in the caller's array type, on its device.
    module = type(input_ids).__module__.split(".")[0]
    if module == "torch":
        import torch

        if _np is not None and isinstance(flags, _np.ndarray):
            return torch.from_numpy(flags.copy()).to(input_ids.device)
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
    if module == "numpy":
        import numpy

        return numpy.array(flags, dtype=bool)
    return list(flags) if not isinstance(flags, list) else flags
