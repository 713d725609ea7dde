# Type stubs of the package lil (the names come from the extension lil._lil).
from types import ModuleType

from . import kv as kv
from ._lil import (
    Check as Check,
    Compressor as Compressor,
    CurvePoint as CurvePoint,
    Decision as Decision,
    Error as Error,
    Guardian as Guardian,
    GuardianBatch as GuardianBatch,
    GuardianOptions as GuardianOptions,
    IncrementalDetokenizer as IncrementalDetokenizer,
    PieceCache as PieceCache,
    ColumnFeed as ColumnFeed,
    Reason as Reason,
    RepetitionDecision as RepetitionDecision,
    RepetitionDetector as RepetitionDetector,
    Verdict as Verdict,
    Vocabulary as Vocabulary,
    __version__ as __version__,
    compress as compress,
    deflate_size as deflate_size,
)
from ._vocab import UnsupportedTokenizer as UnsupportedTokenizer, vocabulary_from_hf as vocabulary_from_hf

hf: ModuleType
vllm: ModuleType
sglang: ModuleType
