#!/usr/bin/env python3
"""Puts the GPU run's two tables into docs/kv.md from its raw output, so the
document quotes the run it links to and nothing typed by hand.

    python3 docs/kv_gpu_run/tables.py [--out docs/kv_gpu_run/out] [--check]

Reads OUT/bench.json (bench.py) and OUT/lil_table.json (lil_table.py) and
rewrites the lines between "<!-- gpu table: bench -->" (or "lil") and
"<!-- /gpu table -->" in docs/kv.md. --check exits 1 when the document is not
what the outputs render to (no GPU needed).
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "kv.md")
BLOCK = re.compile(r"(<!-- gpu table: (\w+) -->\n)(.*?)(<!-- /gpu table -->)", re.S)


def context_label(tokens):
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else str(tokens)


def percent(ratio):
    digits = 2 if ratio < 0.01 else 1
    return f"{100 * ratio:.{digits}f}%"


def bench_table(bench):
    lines = ["| context | dense step | Quest, bf16 bounds | Quest, fp32 bounds | H2O | TOVA | Sink | "
             "SnapKV prefill_done (once per prompt) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in bench["rows"]:
        def cell(key):
            return f"{row[key + '_us']:.1f} µs ({percent(row[key + '_ratio'])})"

        def quest_cell(key):
            # The median of the step's three timings, and the first of them (bench.py says why).
            return (f"{row[key + '_median_us']:.1f} µs ({percent(row[key + '_median_ratio'])}; "
                    f"first timing {row[key + '_us']:.1f})")
        lines.append(
            f"| {context_label(row['context'])} | {row['dense_us']:.1f} µs | {quest_cell('quest_bf16')} | {quest_cell('quest_fp32')} "
            f"| {cell('h2o')} | {cell('tova')} | {cell('sink')} | {row['snapkv_prefill_done_us']:.0f} µs "
            f"({row['snapkv_prefill_done_ratio']:.1f} steps) |")
    return lines


def lil_table(record):
    lines = ["| policy | budget | accuracy | mean tokens | hit the cap | Guardian: tokens saved | stopped | "
             "accuracy with Guardian | `generate` s |",
             "|---|---|---|---|---|---|---|---|---|"]
    labels = {"dense": "dense (the model's own cache)", "full": "full (lil's cache)"}
    groups = {}
    for s in record["settings"]:
        groups.setdefault(s["policy"], []).append(s)

    def joined(rows, key, fmt="{}"):
        return " / ".join(fmt.format(r[key]) for r in rows)

    for policy, rows in groups.items():
        budgets = " / ".join(str(r["budget"]) for r in rows) if rows[0]["budget"] is not None else "-"
        lines.append(
            f"| {labels.get(policy, policy)} | {budgets} | {joined(rows, 'accuracy', '{:.3g}')} | "
            f"{joined(rows, 'mean_tokens', '{:.1f}')} | {joined(rows, 'hit_cap')} | "
            f"{joined(rows, 'guardian_saved_percent', '{:.1f}')}% | {joined(rows, 'guardian_stopped')} | "
            f"{joined(rows, 'accuracy_with_guardian', '{:.3g}')} | {joined(rows, 'generate_seconds', '{:.2f}')} |")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with open(os.path.join(args.out, "bench.json")) as f:
        bench = json.load(f)
    with open(os.path.join(args.out, "lil_table.json")) as f:
        record = json.load(f)
    tables = {"bench": bench_table(bench), "lil": lil_table(record)}
    with open(DOC) as f:
        text = f.read()
    seen = []

    def render(m):
        name = m.group(2)
        if name not in tables:
            sys.exit(f"tables.py: docs/kv.md asks for an unknown GPU table \"{name}\"")
        seen.append(name)
        return m.group(1) + "\n".join(tables[name]) + "\n" + m.group(4)

    new = BLOCK.sub(render, text)
    missing = sorted(set(tables) - set(seen))
    if missing:
        sys.exit(f"tables.py: docs/kv.md has no block for the GPU table(s) {', '.join(missing)}")
    if args.check:
        if new != text:
            print("tables.py: docs/kv.md's GPU tables differ from what the run in "
                  f"{os.path.relpath(args.out)} renders to; run docs/kv_gpu_run/tables.py", file=sys.stderr)
            return 1
        return 0
    with open(DOC, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
