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
per request, ``SamplingParams.extra_args`` (the server's ``vllm_xargs``, whose
values must be str, int, float or lists of them) overrides them with flat keys
``lil_<option>`` (``{"lil_min_gain": 30, "lil_check_every": 100}``);
``"lil_guardian": "off"`` (or False) leaves the request alone; offline, a dict
``{"lil_guardian": {...options...}}`` works too. ``extra_args["lil_eos_token_id"]``
sets the id to force. The default is the request's own EOS
(``SamplingParams.eos_token_id``, else one of ``all_stop_token_ids``), not the
model config's. EOS is never forced before the request's ``min_tokens``, nor
for a request with ``ignore_eos`` (vLLM would not end it).

When ids are read: vLLM's async scheduling fills a request's output list with
-1 placeholders until the runner repairs them just before sampling, so the
processor says ``needs_output_token_ids()`` and reads the new ids in ``apply``
(never in ``update_state``), and never accepts a placeholder.

Token pricing: ``tokenizer="auto"`` (the default) loads the model's tokenizer
and builds a lil.Vocabulary from it (``lil.vocabulary_from_hf``): ids are then
priced as the text they decode to, after the prompt (vLLM detokenizes with the
prompt as context, so the first token keeps its leading space). A tokenizer
the vocabulary cannot express falls back to incremental detokenization with
the prompt's last ids as context; ``decode`` or ``token_bytes`` work as in
lil.hf; ``raw_ids=True`` is the explicit 4-byte pricing of ids.

vLLM refuses custom logits processors when speculative decoding is on, so this
processor runs only without it (SGLang's processor handles several rows per
request).
"""

from __future__ import annotations

from typing import Dict, Optional

from ._lil import Guardian, GuardianOptions, Vocabulary
from ._sequences import CONTEXT_TOKENS, GuardedSequence, TextSource, eos_ids, force_token, guardian_options
from ._vocab import UnsupportedTokenizer, vocabulary_from_hf

PLACEHOLDER = -1  # vLLM's async scheduling: an output id not known yet

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


def _request_eos(params):
    """The request's own EOS: SamplingParams.eos_token_id, else one of its stop ids."""
    eos = getattr(params, "eos_token_id", None)
    if isinstance(eos, int):
        return eos
    stops = getattr(params, "all_stop_token_ids", None)
    return min(stops) if stops else None


def _stop_ids(params) -> frozenset:
    return frozenset(int(i) for i in (getattr(params, "all_stop_token_ids", None) or ()))


def _move_is_swap(direction) -> bool:
    return getattr(direction, "name", str(direction)).upper().endswith("SWAP")


class GuardianLogitsProcessor(_LogitsProcessorBase):
    """Forces EOS for each request whose Guardian says stop (vLLM v1 interface)."""

    # Defaults for every request; configure() returns a subclass with others.
    options: Optional[dict] = None
    tokenizer = "auto"  # "auto" (the model's), an object with decode(ids), or None with another source
    vocabulary = None
    decode = None
    token_bytes = None
    raw_ids = False
    eos_token_id = None

    @classmethod
    def configure(cls, *, tokenizer="auto", vocabulary=None, decode=None, token_bytes=None, raw_ids=False,
                  eos_token_id=None, options=None, **overrides):
        """A subclass with these defaults (vLLM takes classes, not instances)."""
        checked = guardian_options(options, overrides).as_dict()
        if vocabulary is not None or decode is not None or token_bytes is not None or raw_ids:
            tokenizer = None if tokenizer == "auto" else tokenizer
        attrs = {
            "options": checked,
            "tokenizer": tokenizer,
            "vocabulary": vocabulary,
            "raw_ids": raw_ids,
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
        if override is False or override is None or override == 0 or (
                isinstance(override, str) and override.lower() in ("off", "false", "no", "0")):
            return None
        if override is True or override == 1 or (isinstance(override, str) and override.lower() in ("on", "true")):
            override = {}
        if not isinstance(override, dict):
            raise ValueError(f"extra_args[{EXTRA_ARGS_KEY!r}] must be 'off'/'on' (or a dict offline), got {override!r}")
        override = dict(override)
        # vllm_xargs carries scalars only: options as flat lil_<option> keys.
        for key, value in extra.items():
            if key.startswith("lil_") and key not in (EXTRA_ARGS_KEY, EOS_KEY):
                override[key[len("lil_"):]] = value
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
        self._limits: Dict[int, tuple] = {}  # index -> (min_tokens, ignore_eos)
        self._default_eos = self._resolve_eos(vllm_config)
        self._vocabulary = self.vocabulary
        tokenizer = self._resolve_tokenizer(vllm_config)
        self.text_mode_reason = None
        if self._vocabulary is None and tokenizer is not None and self.decode is None and self.token_bytes is None:
            try:
                self._vocabulary = vocabulary_from_hf(tokenizer)
            except (UnsupportedTokenizer, TypeError, AttributeError) as e:
                self.text_mode_reason = str(e)
        if self._vocabulary is None and not (tokenizer is not None or self.decode is not None
                                             or self.token_bytes is not None or self.raw_ids):
            raise ValueError("lil.vllm: nothing to price tokens by: give a tokenizer ('auto'), a vocabulary, "
                             "decode or token_bytes, or raw_ids=True for the 4-byte id pricing")
        self._source = TextSource(None if self._vocabulary is not None else tokenizer, self.decode, self.token_bytes)

    @property
    def mode(self) -> str:
        return "ids" if self._vocabulary is not None else self._source.mode

    # --- the interface --------------------------------------------------------------
    def is_argmax_invariant(self) -> bool:
        return False  # it changes the argmax of the rows it stops

    def needs_output_token_ids(self) -> bool:
        return True  # Guardian reads the ids themselves: no async -1 placeholders in apply

    def update_state(self, batch_update) -> None:
        # Bookkeeping only: under async scheduling the output lists may still
        # end in placeholders here; the ids are read in apply.
        if batch_update is not None:
            for index in batch_update.removed:
                self._drop(index)
            for added in batch_update.added:
                prompt = added[2] if len(added) >= 4 else None
                self._add(added[0], added[1], added[-1], prompt)
            for a, b, direction in batch_update.moved:
                self._move(a, b, _move_is_swap(direction))

    def apply(self, logits):
        rows, tokens = [], []
        for index, seq in self._requests.items():
            out = seq.output
            n = len(out)
            while n > seq.seen and out[n - 1] == PLACEHOLDER:
                n -= 1  # not repaired (yet): never accepted
            if n > seq.seen:
                seq.feed(out[seq.seen:n])
            min_tokens, ignore_eos = self._limits[index]
            if seq.stopped and index < logits.shape[0] and not ignore_eos and len(out) >= min_tokens:
                rows.append(index)
                tokens.append(seq.eos_id)
        return force_token(logits, rows, tokens)

    # --- what a test or a log reads ------------------------------------------------
    def guardian(self, index: int) -> Optional[Guardian]:
        """The Guardian of the request at batch index `index`, if guarded."""
        seq = self._requests.get(index)
        return seq.guardian if seq is not None else None

    # --- persistent-batch bookkeeping --------------------------------------------------
    def _add(self, index: int, params, output_ids, prompt_ids=None) -> None:
        options = self.request_options(params)
        if options is None:
            self._drop(index)
            return
        eos = _extra_args(params).get(EOS_KEY)
        if eos is None:
            eos = _request_eos(params)
        if eos is None:
            eos = self._default_eos
        if eos is None:
            raise ValueError(
                "lil.vllm: no EOS id to force: the request has no eos_token_id or stop token; "
                f"set extra_args[{EOS_KEY!r}] or configure(eos_token_id=...)")
        if self._vocabulary is not None:
            guardian = Guardian(options, vocabulary=self._vocabulary, output_starts_text=False)
        else:
            guardian = Guardian(options)
        context = list(prompt_ids[-CONTEXT_TOKENS:]) if prompt_ids else ()
        self._requests[index] = GuardedSequence(
            guardian, self._source.sequence(context), eos_ids(eos) | _stop_ids(params), output=output_ids,
            eos_id=int(eos))
        self._limits[index] = (int(getattr(params, "min_tokens", 0) or 0), bool(getattr(params, "ignore_eos", False)))

    def _drop(self, index: int) -> None:
        self._requests.pop(index, None)
        self._limits.pop(index, None)

    def _move(self, a: int, b: int, swap: bool) -> None:
        # One-way: a's request now sits at b (b's, if any, is replaced). Swap: exchange.
        for table in (self._requests, self._limits):
            ra, rb = table.pop(a, None), table.pop(b, None)
            if ra is not None:
                table[b] = ra
            if swap and rb is not None:
                table[a] = rb

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
        if self.vocabulary is not None or self.decode is not None or self.token_bytes is not None or self.raw_ids:
            return None
        model_config = getattr(vllm_config, "model_config", None)
        name = getattr(model_config, "tokenizer", None) or getattr(model_config, "model", None)
        if name is None:
            raise ValueError("lil.vllm: tokenizer='auto' needs vllm_config.model_config.tokenizer")
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(
            name, trust_remote_code=bool(getattr(model_config, "trust_remote_code", False)))
