"""Minimal stand-ins of the engine interfaces the adapters are written to, made
from their documentation (vLLM's v1 logits-processor interface, SGLang's
custom logit processor). Only what an adapter touches exists here; they are
installed into sys.modules for a test and removed after it."""

import abc
import enum
import importlib
import json
import pickle
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    return m


# --- vLLM -------------------------------------------------------------------------------

@dataclass
class SamplingParams:
    max_tokens: int = 16
    extra_args: Optional[dict] = None


class MoveDirectionality(enum.Enum):
    UNIDIRECTIONAL = enum.auto()
    SWAP = enum.auto()


@dataclass(frozen=True)
class BatchUpdate:
    batch_size: int
    removed: Sequence[int]
    added: Sequence[tuple]  # (index, params, prompt_tok_ids, output_tok_ids)
    moved: Sequence[tuple]  # (index 1, index 2, MoveDirectionality)


class LogitsProcessor(abc.ABC):
    @classmethod
    def validate_params(cls, sampling_params):
        return None

    @abc.abstractmethod
    def __init__(self, vllm_config, device, is_pin_memory: bool) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    def apply(self, logits):
        raise NotImplementedError

    @abc.abstractmethod
    def is_argmax_invariant(self) -> bool:
        raise NotImplementedError

    @abc.abstractmethod
    def update_state(self, batch_update) -> None:
        raise NotImplementedError


@dataclass
class HFConfig:
    eos_token_id: Any = 2


@dataclass
class ModelConfig:
    hf_config: HFConfig = field(default_factory=HFConfig)
    tokenizer: Optional[str] = None


@dataclass
class VllmConfig:
    model_config: ModelConfig = field(default_factory=ModelConfig)


def install_vllm(monkeypatch):
    lp = _module("vllm.v1.sample.logits_processor", LogitsProcessor=LogitsProcessor, BatchUpdate=BatchUpdate,
                 MoveDirectionality=MoveDirectionality)
    sample = _module("vllm.v1.sample", logits_processor=lp)
    v1 = _module("vllm.v1", sample=sample)
    vllm = _module("vllm", v1=v1, SamplingParams=SamplingParams)
    for name, m in [("vllm", vllm), ("vllm.v1", v1), ("vllm.v1.sample", sample),
                    ("vllm.v1.sample.logits_processor", lp)]:
        monkeypatch.setitem(sys.modules, name, m)
    import lil.vllm

    return importlib.reload(lil.vllm)


# --- SGLang -------------------------------------------------------------------------------

class CustomLogitProcessor(abc.ABC):
    """As SGLang's, with pickle standing in for dill."""

    @abc.abstractmethod
    def __call__(self, logits, custom_param_list=None):
        raise NotImplementedError

    @classmethod
    def to_str(cls) -> str:
        return json.dumps({"callable": pickle.dumps(cls).hex()})

    @classmethod
    def from_str(cls, json_str: str):
        return pickle.loads(bytes.fromhex(json.loads(json_str)["callable"]))()


class Req:
    """The request object SGLang passes as custom_params['__req__']."""

    def __init__(self, rid, origin_input_ids, eos_token_ids=None):
        self.rid = rid
        self.origin_input_ids = list(origin_input_ids)
        self.output_ids = []
        self.eos_token_ids = eos_token_ids


def install_sglang(monkeypatch):
    clp = _module("sglang.srt.sampling.custom_logit_processor", CustomLogitProcessor=CustomLogitProcessor)
    sampling = _module("sglang.srt.sampling", custom_logit_processor=clp)
    srt = _module("sglang.srt", sampling=sampling)
    sglang = _module("sglang", srt=srt)
    for name, m in [("sglang", sglang), ("sglang.srt", srt), ("sglang.srt.sampling", sampling),
                    ("sglang.srt.sampling.custom_logit_processor", clp)]:
        monkeypatch.setitem(sys.modules, name, m)
    import lil.sglang

    return importlib.reload(lil.sglang)
