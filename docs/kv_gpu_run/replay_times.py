#!/usr/bin/env python3
"""Why is the first timing of Quest's step after the dense step slower than a
later timing of the same step? Each replay of the step's CUDA graph timed on
its own (an event pair around it), at 32k, batch 32, bf16 bounds, in rounds:

  fresh   a new LayerState per round (bounds written, then the step), as
          bench.py's first timing has it
  reused  the same LayerState again, as bench.py's later timings have it

each round right after a dense step (bench.py's baseline) and from the same
held count (each replay appends a token: the rounds score the same pages).
A one-time cost shows as a few slow replays at the start of a round; a
uniformly slower round shows as a higher median.

    python3 replay_times.py --out OUT [--context 32768] [--rounds 3] [--replays 56]
"""

import argparse
import os
import statistics
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import bf16_bits, captured, timed  # noqa: E402  (bench.py puts python/ on the path)
from run_files import save_record  # noqa: E402
from lil_torch.spec import Spec  # noqa: E402
from lil_torch.state import LayerState  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--context", type=int, default=32768)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--replays", type=int, default=56)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    B, H, KV, D, budget, ctx = 32, 32, 8, 128, 1024, args.context
    ids = torch.arange(B, dtype=torch.int32, device=dev)
    positions = torch.full((B,), ctx, dtype=torch.int32, device=dev)
    qf = torch.randn(B, H, D, device=dev)
    keys = torch.randn(B, KV, D, device=dev, dtype=torch.bfloat16)
    q = torch.randn(B, H, 1, D, device=dev, dtype=torch.bfloat16)
    k = torch.randn(B, KV, ctx, D, device=dev, dtype=torch.bfloat16)
    v = torch.randn(B, KV, ctx, D, device=dev, dtype=torch.bfloat16)
    lines, rows = [], []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    def dense_step():
        return timed(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), 50, False)[0]

    def new_state():
        spec = Spec(f"quest:{budget},bounds=bf16", ctx + 4096)
        st = LayerState(spec, B, H, KV, D, ctx + 4096, dev)
        lo = torch.randn(st.page_max.shape, device=dev)
        st.page_max.copy_(bf16_bits(lo + torch.rand(st.page_max.shape, device=dev)))
        st.page_min.copy_(bf16_bits(lo))
        return st

    def per_replay(st):
        """µs of each replay from held = ctx, after 3 warm-up replays (bench.py's timed() had 3
        when this was run, and 20 since, from what it found)."""
        def reset():
            st.held.fill_(ctx)
            st.appended.fill_(ctx)

        def step():
            st.quest_step(ids, positions, keys, qf)

        reset()
        graph = captured(step)
        for _ in range(3):
            graph.replay()
        torch.cuda.synchronize()
        reset()
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(args.replays + 1)]
        ev[0].record()
        for i in range(args.replays):
            graph.replay()
            ev[i + 1].record()
        ev[-1].synchronize()
        return [ev[i].elapsed_time(ev[i + 1]) * 1000.0 for i in range(args.replays)]

    log(f"{torch.cuda.get_device_name(0)}; Quest bf16 step at {ctx}, batch {B}; µs per replay, "
        f"{args.replays} replays a round from held = {ctx}")
    st = None
    for r in range(args.rounds):
        for kind in ("fresh", "reused"):
            dense = dense_step()
            if kind == "fresh":
                st = None  # the last round's state goes before the new one is made
                torch.cuda.empty_cache()
                st = new_state()
            t = per_replay(st)
            row = {"round": r, "kind": kind, "dense_us": round(dense, 2), "replay_us": [round(x, 2) for x in t]}
            rows.append(row)
            log(f"round {r} {kind:6s}: dense {dense:.1f} | mean {statistics.mean(t):.1f} median "
                f"{statistics.median(t):.1f} (= {100 * statistics.median(t) / dense:.1f}%) min {min(t):.1f} "
                f"max {max(t):.1f} | first 8: " + " ".join(f"{x:.1f}" for x in t[:8]))
    save_record(args.out, "replay_times", rows, lines)


if __name__ == "__main__":
    main()
