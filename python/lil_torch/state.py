"""One layer's policy state on the GPU for a batch of sequences (layout:
include/lil/kv/cuda/kernels.hpp), driven by lil's kernels."""

import torch

from . import extension


class LayerState:
    """One layer's policy state for `rows` sequences (layout: kernels.hpp).

    Per step, for the rows `seq_ids` (int32 on the device) taking part:
        slots, evicted = st.append(seq_ids, positions, keys)   # keys: Quest only
        (Quest in one call: st.quest_step(seq_ids, positions, keys, query))
        [write K/V at slots; Quest: pages, counts = st.select(seq_ids, query)]
        [attention over the slots st.read_mask(...) allows]
        st.observe(seq_ids, weights)                            # H2O, TOVA, SnapKV prompt
    and for SnapKV once per sequence after its prompt:
        kept, counts = st.prefill_done(seq_ids)                 # K/V rows to gather
    `spec` None means Full (layers below skip_first_layers)."""

    def __init__(self, spec, rows, n_heads, n_kv_heads, head_dim, max_context, device):
        self.spec = spec
        self.name = spec.name if spec is not None else "full"
        self.rows, self.n_heads, self.n_kv_heads, self.head_dim = rows, n_heads, n_kv_heads, head_dim
        self.ext = extension()
        i32 = dict(dtype=torch.int32, device=device)
        self.capacity = C = spec.capacity(max_context) if spec is not None else max_context
        self.tables = T = spec.tables(n_kv_heads) if spec is not None else 1
        self.held = torch.zeros(rows, **i32)
        self.appended = torch.zeros(rows, **i32)
        self.arrival = torch.full((rows, T, C), -1, **i32)
        self.position = torch.full((rows, T, C), -1, **i32)
        self.score = None
        # The most a row holds (kernels.hpp, slot_state::held_cap), where that
        # is not the capacity: SnapKV's evict_generated, below.
        self.held_cap = None
        if self.name == "h2o":
            self.score = torch.zeros(rows, n_kv_heads, C, dtype=torch.float32, device=device)
        elif self.name == "tova":
            self.score = torch.full((rows, T, C), float("inf"), dtype=torch.float32, device=device)
        self.slot_out = torch.zeros(rows, n_kv_heads, **i32)
        self.evicted_out = torch.zeros(rows, n_kv_heads, **i32)
        if self.name == "quest":
            pages = (C + spec.page_size - 1) // spec.page_size
            tiles = (pages + 15) // 16
            bdtype = torch.int16 if spec.bf16_bounds else torch.float32
            self.page_max = torch.zeros(rows, n_kv_heads, tiles, head_dim, 16, dtype=bdtype, device=device)
            self.page_min = torch.zeros_like(self.page_max)
            self.max_pages = tiles * 16
            self.quest_scratch = torch.zeros(rows * n_kv_heads * self.max_pages, dtype=torch.float32, device=device)
            self.pages = torch.zeros(rows, n_kv_heads, spec.budget_pages(), **i32)
            self.page_counts = torch.zeros(rows, n_kv_heads, **i32)
            # quest_select's scoring kernel (kernels.hpp, quest_state): a tuning
            # knob for measurement; every choice selects the same pages.
            self.quest_pages_per_thread = 0
            self.quest_loads_ahead = 0
            self.quest_staged = False
            # The defaults of kernels.hpp's quest_state (the fastest measured):
            self.quest_prefetch = 256  # L2 fetch size hint of the bound loads: 256, 128 or 0 (plain)
            self.quest_tail_first = True  # the partial scoring block of each head dispatched first
            # quest_step in one launch: 0 no, 1 a block per (row, KV head), 2 the scoring grid
            # (its count of finished blocks lives in quest_scratch, zeroed here)
            self.quest_fused = 0
        if self.name == "snapkv":
            self.snap_rows = torch.zeros(rows, n_kv_heads, spec.window, C, dtype=torch.float32, device=device)
            self.row_len = torch.zeros(rows, spec.window, **i32)
            self.cursor = torch.zeros(3, rows, **i32)  # prefilled, next row, rows seen
            self.pinned = torch.zeros(rows, n_kv_heads, C, dtype=torch.uint8, device=device)
            self.snap_scratch = torch.zeros(rows * n_kv_heads * 2 * C, dtype=torch.float32, device=device)
            self.kept = torch.zeros(rows, n_kv_heads, C, **i32)
            self.kept_count = torch.zeros(rows, n_kv_heads, **i32)
            # evict_generated: the capacity during the prompt, the budget from prefill_done on.
            self.held_cap = torch.full((rows,), C, **i32) if spec.evict_generated else None

    def append(self, seq_ids, positions, keys=None):
        """slot [n][KV] and evicted position [n][KV] (-1: none) of each row's token."""
        n = seq_ids.shape[0]
        sp = self.spec
        # victim::snapkv reads the pinned flags and the prefilled row of the cursor.
        snap_evicts = self.held_cap is not None
        self.ext.append(self.held, self.appended, self.arrival, self.position, self.score, self.spec.victim() if sp else 0,
                        sp.sinks if sp else 0, sp.recent if sp else 0, self.n_heads, self.n_kv_heads, self.head_dim,
                        seq_ids, positions, self.slot_out, self.evicted_out, self.held_cap,
                        self.pinned if snap_evicts else None, self.cursor if snap_evicts else None)
        if self.name == "quest" and keys is not None:
            self.update_bounds(seq_ids, keys)
        return self.slot_out[:n], self.evicted_out[:n]

    def update_bounds(self, seq_ids, keys):
        """Quest: the keys [n][KV][D] into the pages of the slots the last append gave."""
        self.ext.quest_update_bounds(self.page_max, self.page_min, self.spec.page_size, seq_ids, self.slot_out,
                                     keys.contiguous())

    def select(self, seq_ids, query, parts=3):
        """Quest: pages [n][KV][budget_pages] ascending and their counts [n][KV].
        parts 1 runs the scoring alone, 2 the top-k alone (for timing)."""
        n = seq_ids.shape[0]
        sp = self.spec
        self.ext.quest_select(self.held, self.page_max, self.page_min, sp.page_size, sp.budget_pages(), sp.fold(),
                              self.n_heads, seq_ids, query.contiguous(), self.quest_scratch, self.pages,
                              self.page_counts, self.quest_pages_per_thread, self.quest_staged,
                              self.quest_loads_ahead, self.quest_prefetch, self.quest_tail_first,
                              parts)
        return self.pages[:n], self.page_counts[:n]

    def quest_step(self, seq_ids, positions, keys, query):
        """Quest's whole decode step: append (slots), the keys into their
        pages' bounds and the selection, the last two in the scoring and
        top-k launches (one launch when quest_fused). Returns slots,
        evicted, pages, counts."""
        n = seq_ids.shape[0]
        sp = self.spec
        slots, evicted = self.append(seq_ids, positions)
        self.ext.quest_step(self.held, self.page_max, self.page_min, sp.page_size, sp.budget_pages(), sp.fold(),
                            self.n_heads, seq_ids, self.slot_out, keys.contiguous(), query.contiguous(),
                            self.quest_scratch, self.pages, self.page_counts, self.quest_pages_per_thread,
                            self.quest_staged, self.quest_loads_ahead, self.quest_prefetch, self.quest_tail_first,
                            int(self.quest_fused))
        return slots, evicted, self.pages[:n], self.page_counts[:n]

    def read_mask(self, seq_ids=None, pages=None, counts=None):
        """[n][KV][C] bool: the slots each KV head reads (all held slots, or
        Quest's pages); seq_ids None means every row."""
        held = self.held if seq_ids is None else self.held[seq_ids.long()]
        C = self.capacity
        slot = torch.arange(C, device=held.device)
        mask = (slot[None, :] < held[:, None])[:, None, :].expand(-1, self.n_kv_heads, -1)
        if pages is None:
            return mask
        P = self.max_pages
        valid = torch.arange(pages.shape[2], device=held.device)[None, None, :] < counts[:, :, None]
        idx = torch.where(valid, pages, torch.full_like(pages, P)).long()
        chosen = torch.zeros(pages.shape[0], self.n_kv_heads, P + 1, dtype=torch.bool, device=held.device)
        chosen.scatter_(2, idx, True)
        return mask & chosen[:, :, slot // self.spec.page_size]

    def observe(self, seq_ids, weights):
        """weights [n][H][C] float32: softmax weights over slots (entry i = slot i)."""
        if self.name == "h2o" or self.name == "tova":
            self.ext.observe_scores(self.held, self.appended, self.arrival, self.position, self.score,
                                    self.spec.fold(), self.name == "h2o", self.n_heads, self.n_kv_heads, seq_ids,
                                    weights.contiguous())
        elif self.name == "snapkv":
            self.ext.snapkv_observe(self.held, self.appended, self.arrival, self.position, self.snap_rows,
                                    self.row_len, self.cursor, self.pinned, self.spec.fold(), self.n_heads, seq_ids,
                                    weights.contiguous())

    def prefill_done(self, seq_ids):
        """SnapKV: kept [n][KV][C] (slot i takes the token of kept[i], for
        i < counts) and counts [n][KV] (-1: that row was compressed before)."""
        n = seq_ids.shape[0]
        sp = self.spec
        self.ext.snapkv_prefill_done(self.held, self.appended, self.arrival, self.position, self.snap_rows,
                                     self.row_len, self.cursor, self.pinned, sp.kernel, sp.max_pool, sp.budget,
                                     self.n_heads, seq_ids, self.snap_scratch, self.kept, self.kept_count,
                                     self.held_cap)
        return self.kept[:n], self.kept_count[:n]
