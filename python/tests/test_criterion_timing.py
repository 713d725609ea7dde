"""The GPU timing script's logic on the CPU (examples/hf_guardian/criterion_timing.py
--dry-run): every mode's path through lil.hf on a numpy generate loop, each mode
measuring the same C(n)."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("numpy")


def test_criterion_timing_dry_run_checks_every_mode():
    repo = os.environ.get("LIL_TEST_REPO", os.path.join(os.path.dirname(__file__), "..", ".."))
    script = os.path.join(repo, "examples", "hf_guardian", "criterion_timing.py")
    out = subprocess.run([sys.executable, script, "--dry-run", "--new", "64", "--out", "/tmp/lil-ct-dry"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "every mode measured the same C(n)" in out.stdout
    for mode in ("ids", "pieces", "pieces_fn", "text"):
        assert f" {mode} " in out.stdout
