"""A transformers Cache (the 5.x Cache API) whose layers run lil's KV policies
on the GPU, so that `model.generate(..., past_key_values=cache)` runs Full,
Sink, H2O, Quest, SnapKV or TOVA for a whole batch:

    cache = LilCache("h2o:64", model.config, attention_mask, max_new_tokens=600)
    with lil_attention():                  # the model's "sdpa" reads lil's slots
        out = model.generate(input_ids=ids, attention_mask=attention_mask,
                             past_key_values=cache, max_new_tokens=600)

How it fits transformers
  Each layer keeps K and V as [batch][KV][capacity][head_dim] slots (HF's
  layout) plus a LayerState (lil's device arrays). update() only hands the
  new keys and values over; the attention function registered for the
  model's implementation does the step, because it is the one place that sees
  the query: per row, append (lil decides the slot and the eviction), write
  K/V there, select (Quest), attend over the read slots in fp32 with the
  softmax weights in hand, and observe them (H2O, TOVA, SnapKV's prompt).
  The mask transformers builds is not used: lil's slots are the mask.

Prompts and padding
  The cache is given the prompt's attention mask (left padding, as generate
  takes it). The prompt then goes through token by token inside the first
  forward - padding is never appended, and an evicting policy decides after
  every prompt token exactly as the per-sequence CPU policy does - all rows of
  the batch together per token. SnapKV compresses at the end of that forward.
  Every later forward is one token per row.
"""

import torch

from .spec import Spec
from .state import LayerState

try:
    from transformers.cache_utils import Cache, CacheLayerMixin
except ImportError:  # lets the module be imported (and read) without transformers
    Cache, CacheLayerMixin = object, object

_ACTIVE = []  # the LilCache whose layers the attention function serves


class LilLayer(CacheLayerMixin):
    # The layer API differs across 5.x releases (get_mask_sizes takes the query
    # length or cache_position; get_max_length or get_max_cache_shape; one or
    # two tensors to lazy_initialization): both spellings are answered.
    is_compileable = False
    is_sliding = False
    is_croppable = False
    supports_early_init = True

    def __init__(self, spec, layer, rows, n_heads, n_kv_heads, head_dim, max_context, prompt_mask, device):
        if CacheLayerMixin is not object:
            super().__init__()
        self.keys = self.values = None
        self.is_initialized = False
        self.layer = layer
        self.state = LayerState(spec.for_layer(layer), rows, n_heads, n_kv_heads, head_dim, max_context, device)
        self.rows, self.n_heads, self.n_kv_heads, self.head_dim = rows, n_heads, n_kv_heads, head_dim
        self.prompt_mask = prompt_mask.to(device=device, dtype=torch.bool)
        self.next_position = torch.zeros(rows, dtype=torch.int32, device=device)
        self.seen = 0
        self.pending = None
        self.device = device
        self.all_rows = torch.arange(rows, dtype=torch.int32, device=device)
        self.batch_size = self.max_batch_size = rows

    # --- the Cache layer API ---------------------------------------------------------------------
    def lazy_initialization(self, key_states, value_states=None):
        self.dtype = key_states.dtype
        C = self.state.capacity
        self.keys = torch.zeros(self.rows, self.n_kv_heads, C, self.head_dim, dtype=self.dtype, device=self.device)
        self.values = torch.zeros_like(self.keys)
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states)
        if key_states.shape[0] != self.rows:
            raise ValueError(f"lil cache: {key_states.shape[0]} rows, the cache was made for {self.rows}")
        self.pending = (key_states, value_states)
        self.seen += key_states.shape[-2]
        return self.keys, self.values

    def get_mask_sizes(self, query):
        q = query if isinstance(query, int) else int(query.shape[0])
        return self.seen + q, 0

    def get_seq_length(self):
        return self.seen

    def get_max_length(self):
        return -1

    def get_max_cache_shape(self):
        return -1

    def crop(self, *args, **kwargs):
        raise NotImplementedError("lil cache: a policy's evictions cannot be cropped back")

    def reset(self):
        raise NotImplementedError("lil cache: make a new LilCache per generate call")

    # --- one forward of this layer -------------------------------------------------------------
    def attend(self, query, scale):
        """query [B][H][q][D] (after RoPE); returns [B][q][H][D]."""
        k_new, v_new = self.pending
        self.pending = None
        B, H, q, D = query.shape
        out = torch.zeros(B, q, H, D, dtype=query.dtype, device=query.device)
        if q == 1:
            self._step(query[:, :, 0], k_new[:, :, 0], v_new[:, :, 0], self.all_rows, out[:, 0])
            return out
        if q != self.prompt_mask.shape[1]:
            raise ValueError(f"lil cache: a forward of {q} tokens; only the whole prompt "
                             f"({self.prompt_mask.shape[1]} columns) or one token per row is supported")
        for t in range(q):
            ids = torch.nonzero(self.prompt_mask[:, t]).flatten().to(torch.int32)
            if ids.numel() == 0:
                continue
            self._step(query[:, :, t], k_new[:, :, t], v_new[:, :, t], ids, out[:, t])
        if self.state.name == "snapkv":
            self._compress()
        return out

    def _step(self, q, k, v, ids, out):
        """q [B][H][D], k/v [B][KV][D] of one token per row; rows `ids` take part."""
        st = self.state
        rows = ids.long()
        every = ids.shape[0] == self.rows
        kr = k if every else k[rows]
        positions = self.next_position if every else self.next_position[rows]
        if st.name == "quest":
            # One call: the slots, the keys into their pages' bounds and the pages to read.
            slots, _, pages, counts = st.quest_step(ids, positions, kr.float(), (q if every else q[rows]).float())
        else:
            slots, _ = st.append(ids, positions)
        self.next_position[rows] += 1
        heads = torch.arange(self.n_kv_heads, device=k.device)[None, :].expand(rows.shape[0], -1)
        b_idx = rows[:, None].expand(-1, self.n_kv_heads)
        s_idx = slots.long()
        self.keys[b_idx, heads, s_idx] = kr
        self.values[b_idx, heads, s_idx] = v if every else v[rows]
        if st.name == "quest":
            mask_rows = st.read_mask(ids, pages, counts)
        else:
            mask_rows = st.read_mask(ids)
        # Attention over every row's slots at once (rows not taking part read
        # slot 0 and are dropped), fp32, weights in hand.
        g = self.n_heads // self.n_kv_heads
        mask = torch.zeros(self.rows, self.n_kv_heads, st.capacity, dtype=torch.bool, device=q.device)
        mask[rows] = mask_rows
        mask[:, :, 0] |= ~mask.any(dim=-1)
        qs = q.float().view(self.rows, self.n_kv_heads, g, -1)
        scores = torch.einsum("bkgd,bkcd->bkgc", qs, self.keys.float()) * self._scale
        scores = scores.masked_fill(~mask[:, :, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        o = torch.einsum("bkgc,bkcd->bkgd", probs, self.values.float()).reshape(self.rows, self.n_heads, -1)
        out[rows] = o[rows].to(out.dtype)
        if st.spec is not None and st.spec.needs_weights():
            w = probs.reshape(self.rows, self.n_heads, st.capacity)
            st.observe(ids, w if every else w[rows])

    def _compress(self):
        st = self.state
        kept, counts = st.prefill_done(self.all_rows)
        C = st.capacity
        slot = torch.arange(C, device=kept.device)[None, None, :]
        idx = torch.where(slot < counts[:, :, None], kept, slot.expand_as(kept)).long()
        idx = idx[..., None].expand(-1, -1, -1, self.head_dim)
        self.keys.copy_(torch.gather(self.keys, 2, idx))
        self.values.copy_(torch.gather(self.values, 2, idx))


# Any abstract method a later release adds is not called on this path; the
# names are kept for the record of a run.
MISSING_LAYER_METHODS = sorted(getattr(LilLayer, "__abstractmethods__", ()))
LilLayer.__abstractmethods__ = frozenset()


class LilCache(Cache):
    """A transformers Cache running one lil policy spec on every layer."""

    def __init__(self, spec, config, prompt_mask, max_new_tokens, device=None):
        rows, width = prompt_mask.shape
        max_context = width + max_new_tokens
        self.spec = spec if isinstance(spec, Spec) else Spec(spec, max_context)
        device = device or prompt_mask.device
        n_heads = config.num_attention_heads
        n_kv = getattr(config, "num_key_value_heads", None) or n_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
        layers = [LilLayer(self.spec, i, rows, n_heads, n_kv, head_dim, max_context, prompt_mask, device)
                  for i in range(config.num_hidden_layers)]
        for layer in layers:
            layer._scale = head_dim ** -0.5
        if Cache is not object:
            super().__init__(layers=layers)
        else:
            self.layers = layers

    def held(self):
        """Tokens held per layer and row (int32 [layers][rows])."""
        return torch.stack([layer.state.held for layer in self.layers])


def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' AttentionInterface signature, for the cache in lil_attention()."""
    if not _ACTIVE:
        raise RuntimeError("lil attention called outside lil_attention(cache)")
    layer = _ACTIVE[-1].layers[module.layer_idx]
    if scaling is not None:
        layer._scale = scaling
    return layer.attend(query, layer._scale), None


class lil_attention:
    """Within the block, the model's attention implementation `impl` ("sdpa")
    is lil's attention over `cache`."""

    def __init__(self, cache, impl="sdpa"):
        self.cache, self.impl = cache, impl

    def __enter__(self):
        from transformers import AttentionInterface
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        self.interface = AttentionInterface
        self.saved = ALL_ATTENTION_FUNCTIONS[self.impl]
        AttentionInterface.register(self.impl, attention)
        _ACTIVE.append(self.cache)
        return self.cache

    def __exit__(self, *exc):
        _ACTIVE.pop()
        self.interface.register(self.impl, self.saved)
