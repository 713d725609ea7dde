"""Guardian as a vLLM v1 logits processor: a request whose Guardian says stop
gets EOS forced as its next token, so vLLM ends it the ordinary way.

    from vllm import LLM, SamplingParams
    from lil.vllm import GuardianLogitsProcessor

    Guard = GuardianLogitsProcessor.configure(check_every=250, min_gain=20, tokenizer="auto")
    llm = LLM(model="...", logits_processors=[Guard])
    llm.generate(prompts, SamplingParams(max_tokens=8192))
    # per request: SamplingParams(extra_args={"lil_guardian": {"min_gain": 30}})  (or False: off)

    # a server: vllm serve MODEL --logits-processors lil.vllm:GuardianLogitsProcessor
    # (paper defaults, ids unless the class is configured; per request: "vllm_xargs")

Written to vLLM's documented v1 interface (vllm.v1.sample.logits_processor.
LogitsProcessor: ``__init__(vllm_config, device, is_pin_memory)``,
``apply(logits)``, ``is_argmax_invariant()``, ``update_state(batch_update)``,
``validate_params(sampling_params)``). It was tested against a stand-in of that
interface, not inside a running vLLM engine.

How it follows the persistent batch
    ``update_state`` receives, when the batch changed, the removed indices, the
    added requests ``(index, params, prompt_ids, output_ids)`` (older vLLM:
    ``(index, params, output_ids)``) and the moves (one-way or swap), applied
    in that order as the interface says. ``output_ids`` is the request's live
    output list, so every step each guarded request accepts the ids it has not
    seen. ``apply`` then masks the rows whose Guardian says stop to EOS.

Options: class attributes (set by ``configure``) give every request's default;
``SamplingParams.extra_args["lil_guardian"]`` overrides them per request (a
dict of Guardian options, or False to leave the request alone);
``extra_args["lil_eos_token_id"]`` sets the EOS id to force. The default EOS
is the model config's ``eos_token_id``. A request with ``ignore_eos`` set, or
whose minimum length masks EOS, is not stopped by the forced token.

Token text: ``tokenizer="auto"`` loads the model's tokenizer with transformers
and detokenizes incrementally; a tokenizer object, ``decode`` or
``token_bytes`` work as in lil.hf; the default prices tokens by id.
"""

from __future__ import annotations

from typing import Dict, Optional

from ._lil import Guardian, GuardianOptions
from ._sequences import GuardedSequence, TextSource, eos_ids, force_token, guardian_options

try:  # pragma: no cover - depends on the environment
    from vllm.v1.sample.logits_processor import LogitsProcessor as _LogitsProcessorBase
except Exception:  # vLLM missing: the class still works against any caller of the interface
    _LogitsProcessorBase = object

__all__ = ["GuardianLogitsProcessor", "EXTRA_ARGS_KEY", "EOS_KEY"]

EXTRA_ARGS_KEY = "lil_guardian"
EOS_KEY = "lil_eos_token_id"


def _extra_args(params) -> dict:
    extra = getattr(params, "extra_args", None)
    return extra if isinstance(extra, dict) else {}


def _move_is_swap(direction) -> bool:
    return getattr(direction, "name", str(direction)).upper().endswith("SWAP")


class GuardianLogitsProcessor(_LogitsProcessorBase):
    """Forces EOS for each request whose Guardian says stop (vLLM v1 interface)."""

    # Defaults for every request; configure() returns a subclass with others.
    options: Optional[dict] = None
    tokenizer = None  # None (ids), "auto", or an object with decode(ids)
    decode = None
    token_bytes = None
    eos_token_id = None

    @classmethod
    def configure(cls, *, tokenizer=None, decode=None, token_bytes=None, eos_token_id=None, options=None, **overrides):
        """A subclass with these defaults (vLLM takes classes, not instances)."""
        checked = guardian_options(options, overrides).as_dict()
        attrs = {
            "options": checked,
            "tokenizer": tokenizer,
            # Functions stored on a class would become methods: keep them plain.
            "decode": staticmethod(decode) if decode is not None else None,
            "token_bytes": staticmethod(token_bytes) if token_bytes is not None else None,
            "eos_token_id": eos_token_id,
        }
        return type(cls.__name__, (cls,), attrs)

    @classmethod
    def request_options(cls, params) -> Optional[GuardianOptions]:
        """The options of one request, or None when it is not guarded."""
        extra = _extra_args(params)
        override = extra.get(EXTRA_ARGS_KEY, True)
        if override is False or override is None:
            return None
        if override is True:
            override = {}
        if not isinstance(override, dict):
            raise ValueError(f"extra_args[{EXTRA_ARGS_KEY!r}] must be a dict of Guardian options or False, got {override!r}")
        return guardian_options(cls.options, override)

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        # Raises ValueError (lil.Error is one) for bad per-request options.
        cls.request_options(sampling_params)
        eos = _extra_args(sampling_params).get(EOS_KEY)
        if eos is not None and not isinstance(eos, int):
            raise ValueError(f"extra_args[{EOS_KEY!r}] must be an int, got {eos!r}")

    def __init__(self, vllm_config=None, device=None, is_pin_memory: bool = False):
        self._device = device
        self._requests: Dict[int, GuardedSequence] = {}
        self._default_eos = self._resolve_eos(vllm_config)
        self._source = TextSource(self._resolve_tokenizer(vllm_config), self.decode, self.token_bytes)

    # --- the interface --------------------------------------------------------------
    def is_argmax_invariant(self) -> bool:
        return False  # it changes the argmax of the rows it stops

    def update_state(self, batch_update) -> None:
        if batch_update is not None:
            for index in batch_update.removed:
                self._drop(index)
            for added in batch_update.added:
                self._add(added[0], added[1], added[-1])
            for a, b, direction in batch_update.moved:
                self._move(a, b, _move_is_swap(direction))
        for seq in self._requests.values():
            seq.catch_up()

    def apply(self, logits):
        rows, tokens = [], []
        for index, seq in self._requests.items():
            if seq.stopped and index < logits.shape[0]:
                rows.append(index)
                tokens.append(seq.eos_id)
        return force_token(logits, rows, tokens)

    # --- what a test or a log reads ------------------------------------------------
    def guardian(self, index: int) -> Optional[Guardian]:
        """The Guardian of the request at batch index `index`, if guarded."""
        seq = self._requests.get(index)
        return seq.guardian if seq is not None else None

    # --- persistent-batch bookkeeping --------------------------------------------------
    def _add(self, index: int, params, output_ids) -> None:
        options = self.request_options(params)
        if options is None:
            self._drop(index)
            return
        eos = _extra_args(params).get(EOS_KEY, self._default_eos)
        if eos is None:
            raise ValueError(
                "lil.vllm: no EOS id to force: the model config has no eos_token_id; "
                f"set extra_args[{EOS_KEY!r}] or configure(eos_token_id=...)")
        self._requests[index] = GuardedSequence(
            Guardian(options), self._source.sequence(), eos_ids(eos), output=output_ids, eos_id=int(eos))

    def _drop(self, index: int) -> None:
        self._requests.pop(index, None)

    def _move(self, a: int, b: int, swap: bool) -> None:
        # One-way: a's request now sits at b (b's, if any, is replaced). Swap: exchange.
        ra, rb = self._requests.pop(a, None), self._requests.pop(b, None)
        if ra is not None:
            self._requests[b] = ra
        if swap and rb is not None:
            self._requests[a] = rb

    def _resolve_eos(self, vllm_config):
        if self.eos_token_id is not None:
            return self.eos_token_id
        model_config = getattr(vllm_config, "model_config", None)
        for source in (getattr(model_config, "hf_config", None), getattr(model_config, "hf_text_config", None)):
            eos = getattr(source, "eos_token_id", None)
            if eos is not None:
                return eos if isinstance(eos, int) else (list(eos)[0] if list(eos) else None)
        return None

    def _resolve_tokenizer(self, vllm_config):
        if self.tokenizer != "auto":
            return self.tokenizer
        model_config = getattr(vllm_config, "model_config", None)
        name = getattr(model_config, "tokenizer", None) or getattr(model_config, "model", None)
        if name is None:
            raise ValueError("lil.vllm: tokenizer='auto' needs vllm_config.model_config.tokenizer")
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(
            name, trust_remote_code=bool(getattr(model_config, "trust_remote_code", False)))
