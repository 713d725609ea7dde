#!/usr/bin/env python3
"""Puts the measured tables into README.md and docs/*.md from one bench run.

Every benchmark binary prints, after Google Benchmark's own rows, a summary
that opens with a line "== title ==": tables, each a run of non-blank lines
(the "== ... ==" lines are titles, not part of a table). A document asks for
tables with a marker line right before a fenced block:

    <!-- table: guardian_bench 1-3 -->
    ```
    (replaced by tables 1 to 3 of guardian_bench's summary; "2" is table 2)
    ```

or, for a table that is Markdown itself, plain lines closed by "<!-- /table -->".

This script runs each benchmark named by a marker once (the command below),
keeps its raw output in docs/bench/<name>.txt, and rewrites every marked block
from that one output, so the README and the docs can never quote two runs.

    bench/update_tables.py [--build build] [--only NAME ...] [--reuse]

--reuse takes docs/bench/<name>.txt as it is instead of running the bench
(to re-render after editing a document); --check exits 1 when a document is
not what the kept outputs render to (for CI or a pre-commit look).
"""

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# How each bench is run for the documents' figures.
COMMANDS = {
    "deflate_bench": ["--benchmark_repetitions=3"],
    "guardian_bench": ["--benchmark_repetitions=3"],
    "kv_bench": [],
    "tiny_llama_bench": [],
}

MARKER = re.compile(r"^<!-- table: (\S+) (\d+)(?:-(\d+))? -->$")
SECTION = re.compile(r"^== .* ==$")


def documents():
    yield os.path.join(ROOT, "README.md")
    docs = os.path.join(ROOT, "docs")
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            yield os.path.join(docs, name)


def wanted_benches(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = MARKER.match(line.rstrip("\n"))
                if m:
                    names.add(m.group(1))
    return names


def tables(output):
    """The tables of one bench output's summary, in order."""
    found, current, in_summary = [], None, False
    for line in output.splitlines():
        if SECTION.match(line):
            in_summary, current = True, None
        elif not in_summary:
            continue
        elif line.strip():
            if current is None:
                current = []
                found.append(current)
            current.append(line.rstrip())
        else:
            current = None
    return ["\n".join(t) for t in found]


def run_bench(build, name):
    binary = os.path.join(build, "bin", name)
    if not os.access(binary, os.X_OK):
        sys.exit(f"update_tables: {binary} is not built (cmake --build {build} --target {name})")
    cmd = [binary] + COMMANDS.get(name, [])
    print("+ " + " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"update_tables: {name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def render(path, outputs):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, i, changed = [], 0, False
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = MARKER.match(line)
        i += 1
        if not m or m.group(1) not in outputs:
            continue
        name, first = m.group(1), int(m.group(2))
        last = int(m.group(3) or first)
        found = tables(outputs[name])
        if not 1 <= first <= last <= len(found):
            sys.exit(f"update_tables: {os.path.relpath(path, ROOT)}: {name} printed {len(found)} tables, "
                     f"not {first}-{last}")
        # A fenced block follows the marker, or (for a Markdown table) plain
        # lines up to a closing "<!-- /table -->".
        fenced = i < len(lines) and lines[i].startswith("```")
        closing = (lambda l: l.startswith("```")) if fenced else (lambda l: l == "<!-- /table -->")
        end = i + 1 if fenced else i
        while end < len(lines) and not closing(lines[end]):
            end += 1
        if end == len(lines):
            sys.exit(f"update_tables: {os.path.relpath(path, ROOT)}:{i + 1}: the table's block is not closed")
        body = "\n\n".join(found[first - 1:last])
        new_block = ([lines[i]] if fenced else []) + body.split("\n") + [lines[end]]
        changed |= new_block != lines[i:end + 1]
        out.extend(new_block)
        i = end + 1
    return "\n".join(out), changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--only", nargs="*", help="benches to run (others are reused from docs/bench)")
    ap.add_argument("--reuse", action="store_true", help="render from docs/bench/*.txt without running")
    ap.add_argument("--check", action="store_true", help="exit 1 if a document differs from the kept outputs")
    args = ap.parse_args()

    paths = list(documents())
    kept = os.path.join(ROOT, "docs", "bench")
    os.makedirs(kept, exist_ok=True)
    outputs = {}
    for name in sorted(wanted_benches(paths)):
        raw = os.path.join(kept, name + ".txt")
        run_it = not (args.reuse or args.check) and (args.only is None or name in args.only)
        if run_it:
            outputs[name] = run_bench(args.build, name)
            with open(raw, "w", encoding="utf-8") as f:
                f.write(outputs[name])
        elif os.path.exists(raw):
            with open(raw, encoding="utf-8") as f:
                outputs[name] = f.read()
        else:
            sys.exit(f"update_tables: no kept output {os.path.relpath(raw, ROOT)}; run without --reuse")
    stale = []
    for path in paths:
        text, changed = render(path, outputs)
        if changed:
            stale.append(os.path.relpath(path, ROOT))
            if not args.check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if args.check and stale:
        sys.exit("update_tables: not what docs/bench renders to: " + ", ".join(stale))
    print("update_tables: " + (", ".join(stale) + " rewritten" if stale else "documents up to date"), file=sys.stderr)


if __name__ == "__main__":
    main()
