"""The engines' own interface files (../shared/upstream) for the adapter tests.

enter(engine) puts them, and the stand-ins of torch and dill their imports
need, first on sys.path (skipping the calling module when they are missing);
leave() takes the stand-ins away again once the upstream classes are imported,
so that other test files in this process see the real torch and dill (or
their absence)."""

import os
import sys

import pytest

# Absolute, so that leave() recognises the stand-ins by their files' paths.
SHARED = os.path.abspath(os.environ.get("LIL_SHARED_DIR")
                         or os.path.join(os.environ.get("LIL_TEST_REPO", "."), "..", "shared"))
UPSTREAM = os.path.join(SHARED, "upstream")
STUBS = os.path.join(UPSTREAM, "stubs")


def enter(engine):
    if not os.path.isdir(os.path.join(UPSTREAM, engine)):
        pytest.skip("the shared upstream interface files are not there (LIL_SHARED_DIR)", allow_module_level=True)
    for p in (STUBS, UPSTREAM):
        if p not in sys.path:
            sys.path.insert(0, p)


def leave():
    for stub in ("torch", "dill"):
        m = sys.modules.get(stub)
        if m is not None and os.path.dirname(getattr(m, "__file__", "") or "").startswith(STUBS):
            del sys.modules[stub]
    sys.path[:] = [p for p in sys.path if p != STUBS]
