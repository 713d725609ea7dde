"""Guardian as an SGLang custom logit processor: a request whose Guardian says
stop gets EOS forced as its next token.

    # server: python -m sglang.launch_server --model-path MODEL --enable-custom-logit-processor
    from lil.sglang import GuardianLogitProcessor

    engine.generate(prompt, sampling_params={
                        "max_new_tokens": 8192,
                        "custom_params": {"lil_guardian": {"check_every": 250, "min_gain": 20},
                                          "eos_token_id": tokenizer.eos_token_id}},
                    custom_logit_processor=GuardianLogitProcessor().to_str())

Written to SGLang's documented interface (sglang.srt.sampling.
custom_logit_processor.CustomLogitProcessor: ``__call__(logits,
custom_param_list)``; each entry of ``custom_param_list`` is the request's
``custom_params`` dict, to which SGLang adds the request object under
``"__req__"``, with ``rid``, ``origin_input_ids`` and the live ``output_ids``).
It was tested against a stand-in of that interface, not inside a running
SGLang server. SGLang sends the processor to the server serialized (dill) and
may rebuild it at any time, so the Guardians do not live in the processor
object: they live in this module, one per request object (held weakly, so a
finished request's Guardian goes with it), and lil must be installed on the
server too.

custom_params keys read here: ``lil_guardian`` (a dict of Guardian options;
False: leave the request alone), ``eos_token_id`` (the id to force; default
the request's own EOS ids when it has them), ``lil_text``: "auto" (the
default: a lil.Vocabulary built once from the request's tokenizer, ids priced
as the text they decode to; text mode when the vocabulary cannot express the
tokenizer), "text" (incremental detokenization) or "raw_ids" (the explicit
4-byte pricing of ids).

A request that names this processor must carry ``custom_params`` (``{}`` for
the defaults): without them SGLang hands the processor no request object, so
it cannot be guarded, and the call raises a ValueError naming the row rather
than leaving the request silently unguarded.

Speculative decoding: SGLang then gives a processor several rows per request
(rows = tokens per request x requests, each request's rows together); the
processor reads each request once and forces EOS in all of its rows.
"""

from __future__ import annotations

import collections
import logging
import weakref
from typing import Any, Dict, List, Optional

from ._lil import Guardian
from ._sequences import GuardedSequence, TextSource, eos_ids, force_token, guardian_options
from ._vocab import UnsupportedTokenizer, vocabulary_from_hf

try:  # pragma: no cover - depends on the environment
    from sglang.srt.sampling.custom_logit_processor import CustomLogitProcessor as _ProcessorBase
except Exception:  # SGLang missing: the class still works with any caller of the interface
    _ProcessorBase = object

__all__ = ["GuardianLogitProcessor", "OPTIONS_KEY", "EOS_KEY", "TEXT_KEY", "guardian_of"]

OPTIONS_KEY = "lil_guardian"
EOS_KEY = "eos_token_id"
TEXT_KEY = "lil_text"
# Requests that cannot be held weakly are kept by rid, the most recent ones only.
MAX_REQUESTS_BY_RID = 4096

_log = logging.getLogger(__name__)
_by_request: "weakref.WeakKeyDictionary[Any, GuardedSequence]" = weakref.WeakKeyDictionary()
_by_rid: "collections.OrderedDict[Any, GuardedSequence]" = collections.OrderedDict()
_warned_no_eos = False
# One vocabulary per tokenizer object (built once, shared by its requests).
_vocabularies: Dict[int, Any] = {}


def guardian_of(req) -> Optional[Guardian]:
    """The Guardian this module keeps for a request (None if it has none yet)."""
    seq = _lookup(req)
    return seq.guardian if seq is not None else None


def _lookup(req) -> Optional[GuardedSequence]:
    try:
        return _by_request.get(req)
    except TypeError:  # not weak-referenceable: fall back on its id
        return _by_rid.get(getattr(req, "rid", None))


def _store(req, seq: GuardedSequence) -> None:
    try:
        _by_request[req] = seq
    except TypeError:
        _by_rid[getattr(req, "rid", None)] = seq
        while len(_by_rid) > MAX_REQUESTS_BY_RID:
            _by_rid.popitem(last=False)


def _eos_of(params: Dict[str, Any], req) -> Optional[int]:
    eos = params.get(EOS_KEY)
    if eos is None:
        own = getattr(req, "eos_token_ids", None)
        if own:
            eos = sorted(own)[0]
    if eos is None:
        tokenizer = getattr(req, "tokenizer", None)
        eos = getattr(tokenizer, "eos_token_id", None)
    return None if eos is None else int(eos)


def _new_sequence(params: Dict[str, Any], req) -> Optional[GuardedSequence]:
    override = params.get(OPTIONS_KEY, {})
    if override is False or override is None:
        return None
    if override is True:
        override = {}
    if not isinstance(override, dict):
        raise ValueError(f"custom_params[{OPTIONS_KEY!r}] must be a dict of Guardian options or False, got {override!r}")
    options = guardian_options(override)
    text = params.get(TEXT_KEY, "auto")
    if text not in ("auto", "text", "raw_ids"):
        raise ValueError(f"custom_params[{TEXT_KEY!r}] must be 'auto', 'text' or 'raw_ids', got {text!r}")
    tokenizer = getattr(req, "tokenizer", None) if text != "raw_ids" else None
    if text != "raw_ids" and tokenizer is None:
        raise ValueError(f"lil.sglang: custom_params[{TEXT_KEY!r}] = {text!r} needs the request's tokenizer, and this "
                         "request carries none; set it to 'raw_ids' for the 4-byte id pricing")
    eos = _eos_of(params, req)
    vocab = _vocabulary_of(tokenizer) if text == "auto" else None
    context = list(getattr(req, "origin_input_ids", None) or [])[-4:]
    if vocab is not None:
        guardian = Guardian(options, vocabulary=vocab, output_starts_text=False)
        source = TextSource()
    else:
        guardian = Guardian(options)
        source = TextSource(tokenizer)
    return GuardedSequence(guardian, source.sequence(context), eos_ids(eos),
                           output=getattr(req, "output_ids", None), eos_id=eos)


def _vocabulary_of(tokenizer):
    key = id(tokenizer)
    if key not in _vocabularies:
        try:
            _vocabularies[key] = vocabulary_from_hf(tokenizer)
        except (UnsupportedTokenizer, TypeError, AttributeError):
            _vocabularies[key] = None  # text mode for this tokenizer
    return _vocabularies[key]


class GuardianLogitProcessor(_ProcessorBase):
    """Forces EOS for each request whose Guardian says stop (SGLang interface)."""

    def __call__(self, logits, custom_param_list: Optional[List[Optional[Dict[str, Any]]]] = None):
        global _warned_no_eos
        if not custom_param_list:
            return logits
        requests = len(custom_param_list)
        total = int(logits.shape[0])
        if total % requests != 0:
            raise ValueError(f"lil.sglang: {total} logit rows for {requests} requests: not a whole number of rows "
                             "per request")
        per_request = total // requests  # > 1 under speculative decoding
        rows, tokens = [], []
        for row, params in enumerate(custom_param_list):
            if params is not None and params.get(OPTIONS_KEY, True) is False:
                continue
            req = params.get("__req__") if params else None
            if req is None:
                raise ValueError(
                    f"lil.sglang: the request at row {row} names GuardianLogitProcessor but SGLang gave it no "
                    "request object: pass custom_params (e.g. {} for the defaults, or {'lil_guardian': False} "
                    "to leave it unguarded) with custom_logit_processor")
            seq = _lookup(req)
            if seq is None:
                seq = _new_sequence(params, req)
                if seq is None:
                    continue
                _store(req, seq)
            seq.catch_up(getattr(req, "output_ids", None) or [])
            if seq.stopped and row < logits.shape[0]:
                if seq.eos_id is None:
                    if not _warned_no_eos:
                        _log.warning("lil.sglang: Guardian said stop but no EOS id is known; "
                                     "set custom_params['eos_token_id']")
                        _warned_no_eos = True
                    continue
                for k in range(per_request):
                    rows.append(row * per_request + k)
                    tokens.append(seq.eos_id)
        return force_token(logits, rows, tokens)
