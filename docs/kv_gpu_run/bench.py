#!/usr/bin/env python3
"""Per-step bookkeeping of each lil KV policy on the GPU (lil's kernels through
lil_torch), beside a dense decode attention step of the same layer, measured in
the same run.

Shape: one Llama-3-8B-like layer (32 query heads, 8 KV heads, head_dim 128,
bf16 K/V), batch 32, contexts 4k / 16k / 32k, budget 1024 tokens.
  dense    one decode step's attention over the whole context: torch SDPA, the
           faster of two calls (enable_gqa, and the group folded into the query
           length, which reads each K/V row once); the baseline of the ratios
  quest    append (slot, page min/max of the new key) + page scores + top-k
           pages, bounds in bf16 (the cache's precision, as the paper keeps
           them) and in fp32; beside the default, the scoring variants
           (quest_state knobs: widths, staged, L2 prefetch hint, the fused
           one-launch step), each in the whole step, and the default step's
           launches timed alone (append, bounds update, scoring, top-k)
  h2o      lil's attention weights over the 1024 held slots from q and the
           cached keys (flash attention returns none) + score accumulation +
           the eviction scan
  tova     the same with TOVA's overwrite
  sink     the eviction (O(1))
  snapkv   once per sequence, at the end of a prompt of `context` tokens:
           window rows summed, pooled, top-k, compacted; and one prompt step's
           row record (observe) over the context
Each figure is the mean of `iters` launches replayed from a CUDA graph (so the
Python binding's own overhead is not counted; an engine would capture the same
graph), after warm-up; --eager times plain launches instead.

    python3 bench.py --out OUT [--contexts 4096,16384,32768] [--batch 32]
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
import lil_torch  # noqa: E402
from lil_torch.spec import Spec  # noqa: E402
from lil_torch.state import LayerState  # noqa: E402
from run_files import save_record  # noqa: E402


def captured(fn):
    """A CUDA graph of fn, after three plain calls and one on a side stream
    (the warm-up torch's CUDA graph notes ask for before a capture)."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    with torch.cuda.graph(graph):
        fn()
    return graph


def timed(fn, iters, eager, reset=None, warm=20):
    """Mean microseconds per call of fn (all on the current stream), after
    `warm` untimed calls of the replayed graph; reset(), when given, runs
    between those and the timed ones (a step that appends starts every
    timing from the same held count). Twenty rather than a few: a state
    whose bounds were just written (hundreds of MiB) runs its first ten or
    so Quest steps 5-10% slower (out_replay_times/), which an engine, whose
    bounds grow a key a step, never sees."""
    run = fn
    how = "eager"
    if not eager:
        try:
            run = captured(fn).replay
            how = "graph"
        except Exception as e:  # noqa: BLE001 - report and fall back
            print(f"  (graph capture failed: {e}; timing eager launches)", flush=True)
            torch.cuda.synchronize()
    else:
        for _ in range(3):
            fn()
    for _ in range(warm):
        run()
    if reset is not None:
        reset()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1000.0 / iters, how


def bf16_bits(x):
    return x.to(torch.bfloat16).view(torch.int16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--contexts", default="4096,16384,32768")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--budget", type=int, default=1024)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--eager", action="store_true")
    ap.add_argument("--free-after-dense", action="store_true",
                    help="return the dense step's K/V to the driver (torch.cuda.empty_cache) before the "
                         "policies' state is allocated, so that it does not take the K/V's freed memory")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    B, H, KV, D, budget = args.batch, 32, 8, 128, args.budget
    g = H // KV
    scale = D ** -0.5
    ext = lil_torch.extension()
    ids = torch.arange(B, dtype=torch.int32, device=dev)
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "batch": B, "n_heads": H,
               "n_kv_heads": KV, "head_dim": D, "budget": budget, "kv_dtype": "bfloat16", "iters": args.iters,
               "rows": []}
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    def quest_bench(ctx, bounds, qf, positions, row, dense, new):
        """Quest's step at `ctx` with `bounds`: the default, staged and
        widths (new False), or the newer knobs and the default step's
        launches alone (new True, a second pass: see main)."""
        spec = Spec(f"quest:{budget},bounds={bounds}", ctx + 4096)
        st = LayerState(spec, B, H, KV, D, ctx + 4096, dev)
        lo = torch.randn(st.page_max.shape, device=dev)
        hi = lo + torch.rand(st.page_max.shape, device=dev)
        if bounds == "bf16":
            st.page_max.copy_(bf16_bits(hi))
            st.page_min.copy_(bf16_bits(lo))
        else:
            st.page_max.copy_(hi)
            st.page_min.copy_(lo)
        st.held.fill_(ctx)
        st.appended.fill_(ctx)
        keys = torch.randn(B, KV, D, device=dev, dtype=torch.bfloat16)

        def reset(back=0):
            # Every timing starts from the same held count (each call
            # appends one token), so every variant scores the same pages.
            st.held.fill_(ctx - back)
            st.appended.fill_(ctx - back)

        def quest_step():
            # The library's step (LayerState.quest_step, as lil's cache calls
            # it): append, then the scoring launch that also applies the keys,
            # then the top-k.
            st.quest_step(ids, positions, keys, qf)

        def separate_calls():
            # The same step through its separate calls: append, the bounds
            # update, scoring, top-k (one launch each).
            st.append(ids, positions, keys)
            st.select(ids, qf)

        def knobs(ppt=0, ahead=0, staged=False, prefetch=256, tail_first=True, fused=0):
            # The defaults are the library's (kernels.hpp, quest_state).
            st.quest_pages_per_thread, st.quest_loads_ahead, st.quest_staged = ppt, ahead, staged
            st.quest_prefetch, st.quest_tail_first, st.quest_fused = prefetch, tail_first, fused

        def step_us(fn, back=0):
            reset(back)
            t, _ = timed(fn, args.iters, args.eager, reset=lambda: reset(back))
            return t

        if not new:
            results["timeline"].append((f"quest {bounds} {ctx} first timing", round(time.time(), 3)))
            t = step_us(quest_step)
            row[f"quest_{bounds}_us"] = row[f"quest_{bounds}_first_us"] = round(t, 2)
            row[f"quest_{bounds}_ratio"] = round(t / dense, 4)
            ts = step_us(lambda: st.select(ids, qf))
            row[f"quest_{bounds}_select_only_us"] = round(ts, 2)
            # The staged scoring kernel (quest_state::staged), same step: the
            # library's default is the one above.
            knobs(staged=True)
            t2 = step_us(quest_step)
            row[f"quest_{bounds}_staged_us"] = round(t2, 2)
            row[f"quest_{bounds}_staged_ratio"] = round(t2 / dense, 4)
            knobs()
            # The per-thread scoring widths (quest_state::pages_per_thread,
            # loads_ahead), same step: which one the default should be.
            variants = [(2, 0), (4, 0), (8, 0), (4, 16), (8, 16)] if bounds == "bf16" else [(1, 0), (2, 0), (4, 0), (4, 16)]
            for ppt, ahead in variants:
                knobs(ppt=ppt, ahead=ahead)
                tv = step_us(quest_step)
                row[f"quest_{bounds}_ppt{ppt}_ahead{ahead or 8}_us"] = round(tv, 2)
            knobs()
            # The default step once more at the end of the pass: how far the
            # first timing (right after the dense step's) is from a later one.
            row[f"quest_{bounds}_end_of_pass_us"] = round(step_us(quest_step), 2)
        else:
            # The L2 prefetch hint (quest_state::prefetch), the partial block
            # dispatched first (tail_first) and the fused step (quest_state::fused through
            # quest_step: 1 a block per head, 2 the scoring grid), same step,
            # between two timings of the default (their spread: that of one
            # kernel timed twice in one run).
            # Names say every knob that differs from plain loads in dispatch
            # order (the defaults before this run's: prefetch 0, tail_first off).
            plain = dict(prefetch=0, tail_first=False)
            news = [("default", dict(), quest_step), ("plain", plain, quest_step),
                    ("pf128", dict(plain, prefetch=128), quest_step), ("pf256", dict(plain, prefetch=256), quest_step),
                    ("ahead16_pf256", dict(plain, ahead=16, prefetch=256), quest_step),
                    ("tail_first", dict(plain, tail_first=True), quest_step),
                    ("pf128_tail_first", dict(prefetch=128, tail_first=True), quest_step),
                    ("pf256_tail_first", dict(prefetch=256, tail_first=True), quest_step),
                    ("separate_calls", dict(), separate_calls),
                    ("fused_block", dict(plain, fused=1), quest_step),
                    ("fused_block_pf256", dict(plain, fused=1, prefetch=256), quest_step),
                    ("fused_grid_pf256_tail_first", dict(fused=2, prefetch=256, tail_first=True), quest_step),
                    ("plain_again", plain, quest_step),
                    ("default_again", dict(), quest_step)]
            for name, kw, fn in news:
                knobs(**kw)
                tv = step_us(fn)
                row[f"quest_{bounds}_new_{name}_us"] = round(tv, 2)
            knobs()
            # From `ctx` on, the timed calls hold ctx+1..ctx+57 tokens; past
            # ctx+16 the pages below the current one overflow the default
            # grid's last full block by a few wherever ctx/16 is a multiple
            # of a block's pages (bf16 1,024: 16k, 32k; fp32 256: all three),
            # which leaves a late, nearly empty block (what tail_first
            # addresses). From ctx-64 on the calls never have that block.
            row[f"quest_{bounds}_new_default_from_ctx_minus_64_us"] = round(step_us(quest_step, back=64), 2)
            # Where the default step's time goes: each launch (or pair) alone.
            row[f"quest_{bounds}_part_append_us"] = round(step_us(lambda: st.append(ids, positions)), 2)
            row[f"quest_{bounds}_part_bounds_us"] = round(step_us(lambda: st.update_bounds(ids, keys)), 2)
            row[f"quest_{bounds}_part_scoring_us"] = round(step_us(lambda: st.select(ids, qf, parts=1)), 2)
            row[f"quest_{bounds}_part_topk_us"] = round(step_us(lambda: st.select(ids, qf, parts=2)), 2)
            for name, kw in (("plain", plain), ("pf256", dict(plain, prefetch=256)),
                             ("tail_first", dict(plain, tail_first=True))):
                knobs(**kw)
                row[f"quest_{bounds}_part_scoring_{name}_us"] = round(step_us(lambda: st.select(ids, qf, parts=1)), 2)
            knobs()
        reset()
        st.append(ids, positions, keys)
        st.select(ids, qf)
        row["quest_pages_read"] = int(st.page_counts.min()), int(st.page_counts.max())
        del st, lo, hi

    log(f"{results['device']}, torch {torch.__version__}; batch {B}, {H} heads / {KV} KV heads, head_dim {D}, "
        f"budget {budget}, bf16 K/V; mean of {args.iters} replays")
    results["timeline"] = []  # (what, unix time): to line the timings up with gpu_clocks.csv
    for ctx in [int(c) for c in args.contexts.split(",")]:
        row = {"context": ctx}
        # --- dense decode attention over the whole context ---
        q = torch.randn(B, H, 1, D, device=dev, dtype=torch.bfloat16)
        k = torch.randn(B, KV, ctx, D, device=dev, dtype=torch.bfloat16)
        v = torch.randn(B, KV, ctx, D, device=dev, dtype=torch.bfloat16)
        qg = q.view(B, KV, g, D)
        t_gqa, _ = timed(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), args.iters, args.eager)
        t_fold, how = timed(lambda: F.scaled_dot_product_attention(qg, k, v), args.iters, args.eager)
        dense = min(t_gqa, t_fold)
        row.update(dense_us=round(dense, 2), dense_enable_gqa_us=round(t_gqa, 2), dense_folded_us=round(t_fold, 2),
                   timing=how)
        kv_bytes = 2 * B * KV * ctx * D * 2
        row["dense_read_TBps"] = round(kv_bytes / (dense * 1e-6) / 1e12, 2)
        del k, v
        if args.free_after_dense:
            torch.cuda.empty_cache()
        qf = torch.randn(B, H, D, device=dev)
        positions = torch.full((B,), ctx, dtype=torch.int32, device=dev)

        # --- Quest ---
        for bounds in ("bf16", "fp32"):
            quest_bench(ctx, bounds, qf, positions, row, dense, False)

        # --- H2O and TOVA: weights from q and the held keys, scores, eviction ---
        kcache = torch.randn(B, KV, budget, D, device=dev, dtype=torch.bfloat16)
        probs = torch.empty(B, H, budget, device=dev)
        for name in ("h2o", "tova"):
            spec = Spec(f"{name}:{budget}", ctx + 4096)
            st = LayerState(spec, B, H, KV, D, ctx + 4096, dev)
            st.held.fill_(budget)
            st.appended.fill_(budget)
            st.arrival.copy_(torch.arange(budget, dtype=torch.int32, device=dev).expand_as(st.arrival))
            st.position.copy_(st.arrival)
            st.score.copy_(torch.rand_like(st.score))

            def step():
                st.append(ids, positions)
                ext.attention_probs(st.held, ids, qf, kcache, scale, probs)
                st.observe(ids, probs)

            t, _ = timed(step, args.iters, args.eager)
            row[f"{name}_us"] = round(t, 2)
            row[f"{name}_ratio"] = round(t / dense, 4)
            tw, _ = timed(lambda: ext.attention_probs(st.held, ids, qf, kcache, scale, probs), args.iters, args.eager)
            row[f"{name}_weights_only_us"] = round(tw, 2)
            del st

        # --- Sink ---
        st = LayerState(Spec(f"sink:{budget}", ctx + 4096), B, H, KV, D, ctx + 4096, dev)
        st.held.fill_(budget)
        st.appended.fill_(budget)
        st.arrival.copy_(torch.arange(budget, dtype=torch.int32, device=dev).expand_as(st.arrival))
        st.position.copy_(st.arrival)
        t, _ = timed(lambda: st.append(ids, positions), args.iters, args.eager)
        row["sink_us"] = round(t, 2)
        row["sink_ratio"] = round(t / dense, 4)
        del st

        # --- SnapKV at the end of a prompt of ctx tokens ---
        spec = Spec(f"snapkv:{budget}", ctx)
        st = LayerState(spec, B, H, KV, D, ctx, dev)
        st.snap_rows.copy_(torch.rand_like(st.snap_rows))
        st.row_len.fill_(ctx)
        arange = torch.arange(ctx, dtype=torch.int32, device=dev).expand_as(st.arrival)

        def reset():
            st.held.fill_(ctx)
            st.appended.fill_(ctx)
            st.cursor[0].zero_()
            st.cursor[1].zero_()
            st.cursor[2].fill_(spec.window)
            st.arrival.copy_(arange)
            st.position.copy_(arange)

        times = []
        for _ in range(10):
            reset()
            torch.cuda.synchronize()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            st.prefill_done(ids)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e) * 1000.0)
        kept_ok = bool((st.held == budget).all())
        row["snapkv_prefill_done_us"] = round(sorted(times)[len(times) // 2], 2)
        row["snapkv_prefill_done_ratio"] = round(row["snapkv_prefill_done_us"] / dense, 4)
        row["snapkv_kept_budget"] = kept_ok
        reset()
        w = torch.rand(B, H, ctx, device=dev)
        t, _ = timed(lambda: st.observe(ids, w), args.iters, True)
        row["snapkv_observe_us"] = round(t, 2)
        del st, w
        torch.cuda.empty_cache()
        results["rows"].append(row)
        log(f"context {ctx}: dense {dense:.1f} us ({row['dense_read_TBps']} TB/s of K/V) | quest bf16 "
            f"{row['quest_bf16_us']:.1f} us ({100 * row['quest_bf16_ratio']:.1f}%; select {row['quest_bf16_select_only_us']:.1f}; "
            f"staged {row['quest_bf16_staged_us']:.1f} us = {100 * row['quest_bf16_staged_ratio']:.1f}%; "
            f"again at the end of the pass {row['quest_bf16_end_of_pass_us']:.1f} us), fp32 {row['quest_fp32_us']:.1f} us "
            f"({100 * row['quest_fp32_ratio']:.1f}%; staged {100 * row['quest_fp32_staged_ratio']:.1f}%) | h2o {row['h2o_us']:.1f} us ({100 * row['h2o_ratio']:.1f}%; "
            f"weights {row['h2o_weights_only_us']:.1f}) | tova {row['tova_us']:.1f} us ({100 * row['tova_ratio']:.1f}%)"
            f" | sink {row['sink_us']:.1f} us ({100 * row['sink_ratio']:.2f}%) | snapkv prefill_done "
            f"{row['snapkv_prefill_done_us']:.1f} us ({100 * row['snapkv_prefill_done_ratio']:.1f}% of a dense step), "
            f"observe {row['snapkv_observe_us']:.1f} us")
        log(f"context {ctx}: quest step by scoring variant (pages/thread, loads ahead): " + ", ".join(
            f"{k[len('quest_'):-len('_us')]} {v:.1f} us ({100 * v / dense:.1f}%)" for k, v in row.items()
            if "_ppt" in k))
    def save():
        save_record(args.out, "bench", results, lines)

    save()
    # A second pass for Quest's newer knobs (quest_state::prefetch,
    # tail_first, fused) and the default step's launches alone,
    # after everything else: should one of them fail on the device, the
    # figures above are written already.
    try:
        for row in results["rows"]:
            ctx, dense = row["context"], row["dense_us"]
            qf = torch.randn(B, H, D, device=dev)
            positions = torch.full((B,), ctx, dtype=torch.int32, device=dev)
            for bounds in ("bf16", "fp32"):
                quest_bench(ctx, bounds, qf, positions, row, dense, True)
                # The table's figure: the median of the default step's three timings in the run
                # (first pass, end of that pass, second pass). The first one can land on a dip of
                # the SM clock as the GPU's power climbs after a lighter stretch: results["timeline"]
                # says when it ran, gpu_clocks.csv what the clock was then.
                three = sorted(row[f"quest_{bounds}_{k}_us"] for k in ("first", "end_of_pass", "new_default"))
                row[f"quest_{bounds}_median_us"] = three[1]
                row[f"quest_{bounds}_median_ratio"] = round(three[1] / dense, 4)
                pre = f"quest_{bounds}_new_"
                log(f"context {ctx}: quest {bounds} default step, median of its three timings "
                    f"{row[f'quest_{bounds}_median_us']:.1f} us ({100 * row[f'quest_{bounds}_median_ratio']:.1f}%)")
                log(f"context {ctx}: quest {bounds} step by new variant (pf = L2 prefetch hint, fused = one launch; "
                    f"first pass default {row[f'quest_{bounds}_us']:.1f} us): " + ", ".join(
                        f"{k[len(pre):-len('_us')]} {v:.1f} us ({100 * v / dense:.1f}%)" for k, v in row.items()
                        if k.startswith(pre)))
                pre = f"quest_{bounds}_part_"
                log(f"context {ctx}: quest {bounds} default step's launches alone: " + ", ".join(
                    f"{k[len(pre):-len('_us')]} {v:.1f} us" for k, v in row.items() if k.startswith(pre))
                    + f"; select (scoring + top-k, first pass) {row[f'quest_{bounds}_select_only_us']:.1f} us")
            torch.cuda.empty_cache()
            save()
    except Exception as e:  # noqa: BLE001 - report it; the figures so far are saved
        log(f"newer Quest knobs: stopped by {type(e).__name__}: {e}")
    save()


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"bench: {time.time() - t0:.1f} s", flush=True)
