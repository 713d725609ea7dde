"""lil.kv: shapes, specs, and driving a policy's hooks from Python."""

import pytest

import lil

np = pytest.importorskip("numpy")

SHAPE = dict(n_layers=3, n_heads=4, n_kv_heads=2, head_dim=8, max_context=64)


def test_shape_and_spec_read_back():
    s = lil.kv.ModelShape(**SHAPE)
    assert (s.n_layers, s.n_heads, s.n_kv_heads, s.head_dim, s.max_context, s.group_size) == (3, 4, 2, 8, 64, 2)
    for text, name in [("full", "full"), ("sink:16", "sink"), ("streamingllm:16", "sink"), ("h2o:16", "h2o"),
                       ("h2o:0.25", "h2o"), ("quest:32", "quest"), ("snapkv:48", "snapkv"), ("tova:16", "tova")]:
        spec = lil.kv.PolicySpec(text)
        assert spec.name == name
        p = lil.kv.make_policy(spec, s, layer=2)
        assert p.name == name and p.layer == 2 and p.appended == 0
    assert lil.kv.PolicySpec("quest:32").skip_first_layers == 2
    assert lil.kv.make_policy("h2o:0.25", s).budget == 16


def test_sink_keeps_sinks_and_the_recent_window():
    s = lil.kv.ModelShape(**SHAPE)
    p = lil.kv.make_policy("sink:8", s)
    keys = np.zeros(s.n_kv_heads * s.head_dim, dtype=np.float32)
    evicted = []
    for pos in range(20):
        slots, gone = p.append(pos, keys)
        assert len(slots) == s.n_kv_heads
        evicted.extend(g for g in gone[:1] if g >= 0)
        p.select()
    held = sorted(p.position(0, slot) for slot in p.live_slots(0))
    assert len(held) == 8 and p.size(0) == 8
    assert max(held) == 19 and min(held) == 0  # the first token is a sink
    assert set(evicted).isdisjoint(held) and len(evicted) == 12
    assert p.memory()["tokens_held"] == 8


def test_h2o_evicts_the_token_with_the_least_attention():
    s = lil.kv.ModelShape(**SHAPE)
    p = lil.kv.make_policy("h2o:4", s)
    assert p.requirements == {"weights": True, "prefill_window": 0}
    keys = [0.0] * (s.n_kv_heads * s.head_dim)
    for pos in range(4):
        p.append(pos, keys)
        sel = p.select()
        width = max(len(h) for h in sel)
        w = np.full((s.n_heads, width), 0.0, dtype=np.float32)
        for q in range(s.n_heads):
            for i, slot in enumerate(sel[q // s.group_size]):
                # token 1 gets almost no attention, token 0 the most
                w[q, i] = {0: 0.7, 1: 0.01}.get(p.position(q // s.group_size, slot), 0.2)
        p.observe(w)
    _, evicted = p.append(4, keys)
    assert evicted == [1, 1]


def test_observe_takes_arrays_lists_and_flat_buffers():
    s = lil.kv.ModelShape(**SHAPE)
    for form in ("array", "list", "flat", "float64"):
        p = lil.kv.make_policy("tova:4", s)
        p.append(0, [0.0] * 16)
        sel = p.select()
        rows = [[1.0] * len(sel[q // 2]) for q in range(4)]
        if form == "array":
            p.observe(np.array(rows, dtype=np.float32))
        elif form == "list":
            p.observe(rows)
        elif form == "flat":
            p.observe(np.array(rows, dtype=np.float32).reshape(-1), stride=len(rows[0]))
        else:
            p.observe(np.array(rows, dtype=np.float64))
        assert p.appended == 1


def test_snapkv_compresses_the_prompt_at_prefill_done():
    s = lil.kv.ModelShape(n_layers=1, n_heads=2, n_kv_heads=1, head_dim=4, max_context=64)
    spec = "snapkv:8"
    with pytest.raises(lil.Error, match="below the protected observation window"):
        lil.kv.make_policy(spec, s)
    p = lil.kv.make_policy("snapkv:40", s)
    window = p.requirements["prefill_window"]
    assert window == 32
    for pos in range(48):
        p.append(pos, [0.0] * 4)
        sel = p.select()
        p.observe([[1.0 / len(sel[0])] * len(sel[0])] * 2)
    result = p.prefill_done()
    freed, move_from, move_to = result["freed"], result["move_from"], result["move_to"]
    assert len(freed) == 1 and len(freed[0]) == 8 and p.size(0) == 40
    # Survivors are compacted to the front: every move goes to a lower slot.
    assert len(move_from[0]) == len(move_to[0])
    assert all(dst < src for src, dst in zip(move_from[0], move_to[0]))


def test_reset_forgets_the_sequence():
    s = lil.kv.ModelShape(**SHAPE)
    p = lil.kv.make_policy("full", s)
    for pos in range(5):
        p.append(pos, [0.0] * 16)
    p.reset()
    assert p.appended == 0 and p.size(0) == 0


def _softmax_rows(q, keys_rows, group):
    """Weights of each query head over the given keys (rows [n, n_kv, d])."""
    heads, d = q.shape
    out = np.zeros((heads, len(keys_rows)), dtype=np.float32)
    for h in range(heads):
        if len(keys_rows) == 0:
            continue
        logits = np.array([k[h // group] @ q[h] for k in keys_rows], dtype=np.float64) / np.sqrt(d)
        w = np.exp(logits - logits.max())
        out[h] = (w / w.sum()).astype(np.float32)
    return out


@pytest.mark.parametrize("text", ["h2o:12", "tova:12", "sink:12", "quest:16,page=4,skip=0", "snapkv:12,window=4"])
def test_planner_batch_equals_one_policy_per_sequence(text):
    s = lil.kv.ModelShape(**SHAPE)
    batch, steps = 3, 40
    pl = lil.kv.Planner(text, s, layer=0, max_batch=batch)
    solo = [lil.kv.make_policy(text, s) for _ in range(batch)]
    rng = np.random.default_rng(5)
    held = [dict() for _ in range(batch)]  # slot -> key, per sequence (KV head 0's map suffices for reads)
    for t in range(steps):
        keys = rng.standard_normal((batch, s.n_kv_heads, s.head_dim)).astype(np.float32)
        queries = rng.standard_normal((batch, s.n_heads, s.head_dim)).astype(np.float32)
        plan = pl.step(np.arange(batch, dtype=np.int32), np.full(batch, t, dtype=np.int64), keys, queries)
        weights = np.zeros((batch, s.n_heads, pl.max_selected), dtype=np.float32)
        for b in range(batch):
            slots, evicted = solo[b].append(t, keys[b].ravel())
            assert list(plan["write_slot"][b]) == slots
            assert list(plan["evicted_position"][b]) == evicted
            want = solo[b].select(queries[b].ravel())
            for h in range(s.n_kv_heads):
                table = plan["tables"][plan["row_group"][b], 0 if pl.table_heads == 1 else h]
                assert list(table[: plan["row_count"][b, h]]) == want[h]
            # Any finite weights do: the same ones go to both sides.
            w = rng.random((s.n_heads, pl.max_selected)).astype(np.float32)
            weights[b] = w
            if solo[b].requirements["weights"]:
                solo[b].observe(w)
        pl.observe(weights)
        if t == 19:
            for b in range(batch):
                assert pl.prefill_done(b) == solo[b].prefill_done()
    for b in range(batch):
        assert pl.sequence(b).appended == steps
        assert [pl.sequence(b).position(0, x) for x in pl.sequence(b).live_slots(0)] == \
            [solo[b].position(0, x) for x in solo[b].live_slots(0)]
    assert "slot.position" in pl.state_names
    assert pl.state("appended").shape == (batch, 1)


def test_planner_fork_release_and_errors():
    s = lil.kv.ModelShape(**SHAPE)
    pl = lil.kv.Planner("h2o:8", s, max_batch=2, max_rows=8)
    keys = np.ones((4, s.n_kv_heads, s.head_dim), dtype=np.float32)
    pl.step(np.zeros(4, dtype=np.int32), np.arange(4, dtype=np.int64), keys)  # a chunk of 4
    pl.observe(np.full((4, s.n_heads, 8), 0.1, dtype=np.float32))
    pl.fork(0, 1)
    assert (pl.state("h2o.score")[0] == pl.state("h2o.score")[1]).all()
    assert pl.room(1) == 4
    with pytest.raises(lil.Error, match="room is 4"):
        pl.step(np.ones(5, dtype=np.int32), np.arange(4, 9, dtype=np.int64), np.ones((5, 2, 8), dtype=np.float32))
    with pytest.raises(lil.Error, match="sequence 7"):
        pl.step(np.array([7], dtype=np.int32), np.array([0], dtype=np.int64), keys[:1])
    pl.release(1)
    assert pl.sequence(1).appended == 0 and pl.sequence(0).appended == 4
