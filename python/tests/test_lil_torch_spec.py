"""lil_torch.spec (the GPU path's policy specs, no torch needed) means what
lil.kv means by the same text: the same budgets, capacities, recent windows,
dense layers and the same refusals."""

import os
import sys

import pytest

import lil

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from lil_torch.spec import Spec, SpecError  # noqa: E402

MAX_CONTEXT = 700
SHAPE = dict(n_layers=6, n_heads=8, n_kv_heads=4, head_dim=16, max_context=MAX_CONTEXT)

SPECS = ["full", "sink:16", "sink:64,sinks=2", "h2o:32", "h2o:64,recent=8", "h2o:0.25", "quest:64",
         "quest:256,gqa=max,skip=0", "quest:64,page=8,bounds=bf16", "snapkv:64", "snapkv:40,window=8,kernel=7,pool=max",
         "snapkv:64,evict_generated=1", "snapkv:48,window=8,evict_generated=true",
         "tova:16", "tova:32,per_kv_head=1", "tova:32,per_kv_head=true", "tova:32,gqa=sum"]


@pytest.mark.parametrize("text", SPECS)
def test_same_budget_capacity_and_dense_layers(text):
    shape = lil.kv.ModelShape(**SHAPE)
    spec = Spec(text, MAX_CONTEXT)
    assert spec.skip_first_layers == lil.kv.PolicySpec(text).skip_first_layers
    for layer in range(SHAPE["n_layers"]):
        cpu = lil.kv.make_policy(text, shape, layer)
        mine = spec.for_layer(layer)
        if mine is None or mine.name == "full":
            assert cpu.name == "full"
            continue
        assert cpu.name == mine.name
        assert cpu.budget == mine.budget
        assert cpu.capacity == mine.capacity(MAX_CONTEXT)
        assert cpu.gqa == mine.gqa or mine.name == "sink"
        assert cpu.requirements["weights"] == mine.needs_weights()


def test_h2o_recent_window_matches():
    # The CPU's h2o_options resolve heavy_fraction 0.5 of 33 to a recent window of 17.
    assert Spec("h2o:33", MAX_CONTEXT).recent == 33 - int(0.5 * 33)
    assert Spec("h2o:64,recent=8", MAX_CONTEXT).recent == 8


@pytest.mark.parametrize("text", ["snapkv:16", "snapkv:32", "sink:4", "quest:8", "h2o:8,recent=9", "bogus:3",
                                  "h2o:64,page=3", "snapkv:64,kernel=4", "snapkv:64,evict_generated=2",
                                  "tova:32,per_kv_head=yes"])
def test_same_refusals(text):
    shape = lil.kv.ModelShape(**SHAPE)
    with pytest.raises(lil.Error):
        lil.kv.make_policy(text, shape, 5)
    with pytest.raises(SpecError):
        Spec(text, MAX_CONTEXT)


def test_snapkv_evict_generated_picks_the_gpu_victim():
    # kernels.hpp's victim::snapkv (4) only with evict_generated; the paper's
    # SnapKV never evicts a generated token (victim::none, 0).
    assert Spec("snapkv:64,evict_generated=1", MAX_CONTEXT).victim() == 4
    assert Spec("snapkv:64,evict_generated=0", MAX_CONTEXT).victim() == 0
    assert Spec("snapkv:64", MAX_CONTEXT).victim() == 0
    assert Spec("tova:32,per_kv_head=1", MAX_CONTEXT).tables(4) == 4
    assert Spec("tova:32,per_kv_head=false", MAX_CONTEXT).tables(4) == 1
