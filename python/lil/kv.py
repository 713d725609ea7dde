"""Sparse-attention KV-cache policies (H2O, Quest, StreamingLLM, SnapKV, TOVA).

    shape = lil.kv.ModelShape(n_layers=6, n_heads=8, n_kv_heads=4, head_dim=16, max_context=1024)
    p = lil.kv.make_policy("h2o:64", shape, layer=0)
    slots, evicted = p.append(position, keys)      # keys: n_kv_heads * head_dim floats
    selection = p.select(query)                    # per KV head, the slots to read
    if p.requirements["weights"]:
        p.observe(weights)                         # softmax weights, one row per query head

Batched (many sequences of one layer; numpy in and out; planner.hpp's layout):
    pl = lil.kv.Planner("h2o:64", shape, layer=0, max_batch=32)
    plan = pl.step(seq, position, keys, queries)   # int32 [n], int64 [n], f32 [n, n_kv, d], [n, heads, d]
    # row r writes K/V at plan["write_slot"][r] and reads, per KV head h, the first
    # plan["row_count"][r, h] slots of plan["tables"][plan["row_group"][r], h or 0]
    pl.observe(weights)                            # f32 [n, heads, stride]
    pl.fork(src, dst); pl.release(seq); pl.prefill_done(seq)
"""

from ._lil.kv import ModelShape, Planner, Policy, PolicySpec, make_policy

__all__ = ["ModelShape", "Planner", "Policy", "PolicySpec", "make_policy"]
