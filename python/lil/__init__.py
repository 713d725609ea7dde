"""lil: stop a decode loop when its output stops carrying information.

The C++ library's Python module:

- ``Vocabulary`` (token id -> the bytes it decodes to, built once per model;
  ``vocabulary_from_hf(tokenizer)`` builds it from a Hugging Face tokenizer),
- ``Guardian`` (one sequence), ``GuardianBatch`` (one per slot of a serving
  batch), ``GuardianOptions``, their ``Decision``/``Check``/``CurvePoint``
  figures and the ``Verdict``/``Reason`` enums;
- ``IncrementalDetokenizer`` (the text each token adds, for a batch, with one
  tokenizer decode call per step: text mode of the adapters);
- ``deflate_size``, ``compress`` and ``Compressor``: the gzip/zlib-exact DEFLATE
  engine that measures C(n);
- ``lil.kv``: the sparse-attention KV-cache policies;
- engine adapters, imported on first use (they need their engine only when
  used): ``lil.hf`` (Hugging Face transformers stopping criterion),
  ``lil.vllm`` (vLLM v1 logits processor), ``lil.sglang`` (SGLang custom logit
  processor).

Errors from bad options raise ``lil.Error`` (a ValueError) with the C++
library's message, which names the field and the bad value.
"""

import importlib as _importlib

from ._lil import (
    Check,
    Compressor,
    CurvePoint,
    Decision,
    Error,
    Guardian,
    GuardianBatch,
    GuardianOptions,
    IncrementalDetokenizer,
    PieceCache,
    ColumnFeed,
    Reason,
    RepetitionDecision,
    RepetitionDetector,
    Verdict,
    Vocabulary,
    __version__,
    compress,
    deflate_size,
)
from . import kv
from ._vocab import UnsupportedTokenizer, vocabulary_from_hf

__all__ = [
    "Check",
    "Compressor",
    "CurvePoint",
    "Decision",
    "Error",
    "Guardian",
    "GuardianBatch",
    "GuardianOptions",
    "IncrementalDetokenizer",
    "PieceCache",
    "ColumnFeed",
    "Reason",
    "UnsupportedTokenizer",
    "RepetitionDecision",
    "RepetitionDetector",
    "Verdict",
    "Vocabulary",
    "__version__",
    "compress",
    "deflate_size",
    "kv",
    "vocabulary_from_hf",
]

_ADAPTERS = ("hf", "vllm", "sglang")


def __getattr__(name):
    # lil.hf and friends load on first use, so `import lil` never imports an engine.
    if name in _ADAPTERS:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
