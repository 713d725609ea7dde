"""lil.vllm.GuardianLogitsProcessor against vLLM's own v1 interface classes
(../shared/upstream: LogitsProcessor, BatchUpdateBuilder, MinTokensLogitsProcessor),
driven in the engine's calling order as upstream's code has it:

- vllm/v1/worker/gpu_input_batch.py: a request added to the persistent batch is
  recorded in the BatchUpdateBuilder as (index, params, prompt_ids, output_ids),
  output_ids being the request's live list; removals are recorded likewise;
- vllm/v1/worker/gpu_model_runner.py: update_state(batch_update) runs before the
  forward pass; with async scheduling the previous step's token is still a -1
  placeholder in the output list then, and the runner writes the real id into
  the list just before sampling when a processor needs_output_token_ids();
  then the built-in processors (MinTokens first) and the custom ones apply;
- vllm/v1/core/sched/utils.py check_stop: no stop before min_tokens; EOS
  (request.eos_token_id) stops unless ignore_eos; a stop token id stops.
"""


import pytest

np = pytest.importorskip("numpy")
import lil  # noqa: E402
from conftest import F, T, looping_tokens, novel_tokens, reference_stop  # noqa: E402
import upstream  # noqa: E402

upstream.enter("vllm")

from vllm import SamplingParams  # noqa: E402  (the upstream folder's stand-in of the params' fields)
from vllm.v1.sample.logits_processor import BatchUpdateBuilder, MinTokensLogitsProcessor  # noqa: E402
from vllm.v1.sample.logits_processor.interface import LogitsProcessor  # noqa: E402

import lil.vllm as lv  # noqa: E402

upstream.leave()

MODEL_EOS, PAD = 2, 0


class Config:
    class model_config:
        class hf_config:
            eos_token_id = MODEL_EOS


def table_of(*streams):
    pieces = ["<pad>", "<s>", "</s>", "<eos7>"] + [None] * 4
    ids = {}
    for s in streams:
        for t in s:
            if t not in ids:
                ids[t] = len(pieces)
                pieces.append(t)
    return [b"" if p is None or p.startswith("<") else p.encode() for p in pieces], ids


class Runner:
    """The persistent batch and one engine step, in gpu_model_runner's order."""

    def __init__(self, proc_cls, vocab_size, async_scheduling=True):
        self.builder = BatchUpdateBuilder()
        self.custom = proc_cls(Config(), None, False)
        self.min_tokens = MinTokensLogitsProcessor(Config(), None, False)
        assert isinstance(self.custom, LogitsProcessor)
        self.vocab, self.async_ = vocab_size, async_scheduling
        self.slots = []  # [params, output list, script, finished]
        self.pending_real = {}

    def add(self, params, prompt, script):
        index = len(self.slots)
        out = []
        self.slots.append([params, out, script, False])
        self.builder.added.append((index, params, list(prompt), out))
        return out

    def step(self):
        batch = self.builder.get_and_reset(len(self.slots))
        self.min_tokens.update_state(batch)
        self.custom.update_state(batch)  # async: the outputs still end in -1 here
        if self.custom.needs_output_token_ids():
            for i, real in self.pending_real.items():  # repaired just before sampling
                self.slots[i][1][-1] = real
            self.pending_real = {}
        logits = np.zeros((len(self.slots), self.vocab), dtype=np.float32)
        for i, (params, out, script, done) in enumerate(self.slots):
            n = len(out)
            logits[i, script[n] if n < len(script) else MODEL_EOS] = 5.0
        logits = self.min_tokens.apply(logits)
        logits = self.custom.apply(logits)
        sampled = logits.argmax(axis=1)
        for i, (params, out, script, done) in enumerate(self.slots):
            if done:
                continue
            token = int(sampled[i])
            if self.async_:
                out.append(-1)
                self.pending_real[i] = token
            else:
                out.append(token)
            # check_stop (sched/utils.py), on the real token
            if len(out) >= params.min_tokens and (
                    token in params.all_stop_token_ids or len(out) >= params.max_tokens):
                self.slots[i][3] = True
        return sampled

    def run(self, steps):
        for _ in range(steps):
            if all(s[3] for s in self.slots):
                break
            self.step()
        for i, real in self.pending_real.items():
            self.slots[i][1][-1] = real
        return [s[1] for s in self.slots]


@pytest.fixture
def streams():
    return looping_tokens(12 * F), novel_tokens(12 * F, seed=11)


@pytest.fixture(params=["vocabulary", "token_bytes"])
def pricing(request):
    return request.param


def configured(table, pricing="vocabulary"):
    # Both ways of pricing ids by their text; token_bytes (a table) is also what
    # the adapter took before lil.Vocabulary existed, so these tests run against
    # the adapter before its fixes too (docs/python_upstream_before.txt).
    if pricing == "vocabulary":
        return lv.GuardianLogitsProcessor.configure(vocabulary=lil.Vocabulary(table), check_every=F, min_gain=T)
    return lv.GuardianLogitsProcessor.configure(token_bytes=table, check_every=F, min_gain=T)


def test_declares_it_needs_output_token_ids_and_reads_ids_only_once_real(streams, pricing):
    loop, novel = streams
    table, ids = table_of(loop, novel)
    r = Runner(configured(table, pricing), len(table), async_scheduling=True)
    out = r.add(SamplingParams(max_tokens=12 * F), [1], [ids[t] for t in loop])
    r.add(SamplingParams(max_tokens=12 * F), [1], [ids[t] for t in novel])
    outs = r.run(12 * F + 5)
    stop = reference_stop(loop, check_every=F, min_gain=T)
    assert stop is not None
    # The guarded loop ended with the forced EOS right after the stop; no -1 was ever priced.
    assert len(out) == stop + 1 and out[-1] == MODEL_EOS
    assert r.custom.guardian(0).decision().stopped_at == stop
    assert len(outs[1]) == 12 * F and not r.custom.guardian(1).stopped


def test_eos_is_not_forced_before_min_tokens_nor_with_ignore_eos(streams, pricing):
    loop, _ = streams
    table, ids = table_of(loop)
    stop = reference_stop(loop, check_every=F, min_gain=T)
    r = Runner(configured(table, pricing), len(table))
    late = r.add(SamplingParams(max_tokens=12 * F, min_tokens=stop + 40), [1], [ids[t] for t in loop])
    ignoring = r.add(SamplingParams(max_tokens=6 * F, ignore_eos=True), [1], [ids[t] for t in loop])
    r.run(12 * F + 5)
    assert len(late) == stop + 40 + 1 and late[-1] == MODEL_EOS  # forced once min_tokens allowed it
    assert MODEL_EOS not in late[:-1]
    assert len(ignoring) == 6 * F and MODEL_EOS not in ignoring  # never forced: vLLM would not stop


def test_eos_comes_from_the_request_not_the_model_config(streams, pricing):
    loop, _ = streams
    table, ids = table_of(loop)
    r = Runner(configured(table, pricing), len(table))
    out = r.add(SamplingParams(max_tokens=12 * F, eos=3), [1], [ids[t] for t in loop])
    r.run(12 * F + 5)
    assert out[-1] == 3 and MODEL_EOS not in out


def test_per_request_options_are_scalars_vllm_xargs_accepts(pricing):
    cls = configured([b"", b"a"], pricing)
    params = SamplingParams(extra_args={"lil_min_gain": 30, "lil_check_every": 100})
    cls.validate_params(params)
    o = cls.request_options(params)
    assert (o.check_every, o.min_gain) == (100, 30.0)
    assert cls.request_options(SamplingParams(extra_args={"lil_guardian": "off"})) is None
    with pytest.raises(ValueError, match="check_every"):
        cls.validate_params(SamplingParams(extra_args={"lil_check_every": 0}))


def test_prompt_ids_are_the_detokenization_context_in_text_mode():
    # A sentencepiece-like decode: the text's first space is dropped.
    pieces = ["<pad>", "<s>", "</s>", " Q", " Hello", " world"]

    def decode(ids, **_):
        text = "".join(pieces[i] for i in ids if i > 2)
        return text[1:] if text.startswith(" ") else text

    cls = lv.GuardianLogitsProcessor.configure(tokenizer=None, decode=decode, check_every=F, min_gain=T)
    r = Runner(cls, len(pieces), async_scheduling=False)
    r.add(SamplingParams(max_tokens=2), [1, 3], [4, 5])
    r.run(3)
    r.custom.apply(np.zeros((1, len(pieces)), dtype=np.float32))  # the step that reads the last id
    # " Hello world", 12 bytes: the first generated token kept its space after the prompt " Q"
    # (decoded alone it would be "Hello world", 11).
    assert r.custom.guardian(0).tokens == 2 and r.custom.guardian(0).bytes == 12


def test_nothing_to_price_tokens_by_is_refused():
    cls = lv.GuardianLogitsProcessor.configure(tokenizer=None)
    with pytest.raises(ValueError, match="raw_ids=True"):
        cls(Config(), None, False)
