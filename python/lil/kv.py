"""Sparse-attention KV-cache policies (H2O, Quest, StreamingLLM, SnapKV, TOVA).

    shape = lil.kv.ModelShape(n_layers=6, n_heads=8, n_kv_heads=4, head_dim=16, max_context=1024)
    p = lil.kv.make_policy("h2o:64", shape, layer=0)
    slots, evicted = p.append(position, keys)      # keys: n_kv_heads * head_dim floats
    selection = p.select(query)                    # per KV head, the slots to read
    if p.requirements["weights"]:
        p.observe(weights)                         # softmax weights, one row per query head
"""

from ._lil.kv import ModelShape, Policy, PolicySpec, make_policy

__all__ = ["ModelShape", "Policy", "PolicySpec", "make_policy"]
