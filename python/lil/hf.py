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

Token text: see lil._sequences (``tokenizer`` for incremental detokenization,
``token_bytes`` for concatenating vocabularies, neither for ids). An EOS id
(``eos_token_id``, default the tokenizer's) ends a sequence for the criterion:
what follows it (padding) is not accepted.

The criterion is reusable: ``reset()`` forgets the last generation; a call
whose input is shorter than what was seen, or has another batch size, starts a
new generation by itself. transformers is not needed to import this module;
when it is installed the class derives from its ``StoppingCriteria``.
"""

from __future__ import annotations

from typing import Callable, List, Optional

from ._lil import Decision, GuardianBatch
from ._sequences import CONTEXT_TOKENS, GuardedSequence, Options, TextSource, eos_ids, guardian_options

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
        decode: Optional[Callable] = None,
        token_bytes=None,
        eos_token_id=None,
        pad_token_id: Optional[int] = None,
        prompt_length: Optional[int] = None,
        options: Options = None,
        **overrides,
    ):
        self.options = guardian_options(options, overrides)
        self._source = TextSource(tokenizer, decode, token_bytes)
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
        """How tokens are priced: 'text' (detokenized), 'pieces' (token_bytes) or 'ids'."""
        return self._source.mode

    def reset(self) -> None:
        """Forgets the current generation (the next call starts a new one)."""
        self._batch: Optional[GuardianBatch] = None
        self._rows: List[GuardedSequence] = []
        self._start = 0
        self._seen = 0

    def _begin(self, tails: list, width: int) -> None:
        """tails: per sequence, the last prompt ids (context for detokenization)."""
        start = self._prompt_length if self._prompt_length is not None else width - 1
        if start > width:
            raise ValueError(f"prompt_length {start} is longer than the input ({width} columns)")
        self._batch = GuardianBatch(len(tails), self.options)
        self._rows = []
        for i, row in enumerate(tails):
            context = [t for t in row if t not in self._not_context]
            self._rows.append(GuardedSequence(self._batch[i], self._source.sequence(context), self._eos))
        self._start = start
        self._seen = start

    def __call__(self, input_ids, scores=None, **kwargs):
        batch, width = _shape(input_ids)
        if self._batch is None or batch != len(self._rows) or width < self._seen:
            # A new generation: the prompt's tail is read once, as context.
            start = self._prompt_length if self._prompt_length is not None else width - 1
            self._begin(_columns(input_ids, max(0, start - CONTEXT_TOKENS), start), width)
        if width > self._seen:
            for seq, ids in zip(self._rows, _columns(input_ids, self._seen, width)):
                seq.feed(ids)
            self._seen = width
        return _flags_like(input_ids, [seq.stopped for seq in self._rows])

    # --- what a caller reads afterwards -------------------------------------------
    def decisions(self) -> List[Decision]:
        """Each sequence's Decision (figures of its last check)."""
        return [seq.guardian.decision() for seq in self._rows]

    def stopped_at(self) -> List[Optional[int]]:
        """Per sequence: generated tokens when Guardian said stop, or None."""
        out = []
        for seq in self._rows:
            d = seq.guardian.decision()
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


def _flags_like(input_ids, flags: list):
    # The stop flags in the caller's array type, on its device.
    module = type(input_ids).__module__.split(".")[0]
    if module == "torch":
        import torch

        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
    if module == "numpy":
        import numpy

        return numpy.array(flags, dtype=bool)
    return flags
