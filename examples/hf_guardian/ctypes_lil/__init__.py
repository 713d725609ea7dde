"""lil over its C ABI (ctypes): the fallback of run.sh when the extension
cannot be built on the GPU machine. Only lil.hf and what it needs."""

from ._lil import (  # noqa: F401
    Check,
    Decision,
    Error,
    Guardian,
    GuardianBatch,
    GuardianOptions,
    Reason,
    Verdict,
    __version__,
)

__all__ = ["Check", "Decision", "Error", "Guardian", "GuardianBatch", "GuardianOptions", "Reason", "Verdict",
           "__version__"]
