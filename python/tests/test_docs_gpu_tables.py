"""docs/kv.md quotes the GPU run it links to: its two tables are what
docs/kv_gpu_run/tables.py renders from docs/kv_gpu_run/out (no GPU needed)."""

import os
import subprocess
import sys

REPO = os.environ.get("LIL_TEST_REPO") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_kv_md_gpu_tables_match_the_committed_run():
    script = os.path.join(REPO, "docs", "kv_gpu_run", "tables.py")
    done = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
