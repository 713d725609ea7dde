"""lil.vllm.GuardianLogitsProcessor against a stand-in of vLLM's v1
logits-processor interface (standins.py) and a small persistent-batch engine
loop written from vLLM's documentation: requests join and leave the batch,
the batch is condensed by one-way moves, update_state sees the changes
(removed, added, moved) before each step, apply masks the logits, and the
sampler takes the argmax. vLLM itself is not installed here."""

import importlib

import pytest

import lil
import standins
from conftest import F, T, looping_tokens, novel_tokens, reference_stop

torch = pytest.importorskip("torch")

EOS = 2


@pytest.fixture
def lv(monkeypatch):
    module = standins.install_vllm(monkeypatch)
    yield module
    monkeypatch.undo()
    importlib.reload(module)


class Engine:
    """Persistent batch: slot i holds one request; finished requests leave and
    the last slot moves into the hole (vLLM condenses its batch this way)."""

    def __init__(self, processor_cls, vocab_size, config=None):
        self.proc = processor_cls(config or standins.VllmConfig(), torch.device("cpu"), False)
        self.vocab = vocab_size
        self.slots = []  # request dicts
        self.pending = []
        self.removed, self.added, self.moved = [], [], []

    def submit(self, name, script, params=None, max_tokens=10_000):
        self.pending.append(dict(name=name, script=script, params=params or standins.SamplingParams(),
                                 out=[], max=max_tokens))

    def step(self):
        for r in self.pending:
            self.slots.append(r)
            self.added.append((len(self.slots) - 1, r["params"], [1, 5], r["out"]))
        self.pending = []
        update = None
        if self.removed or self.added or self.moved:
            update = standins.BatchUpdate(len(self.slots), self.removed, self.added, self.moved)
        self.removed, self.added, self.moved = [], [], []
        self.proc.update_state(update)
        logits = torch.zeros(len(self.slots), self.vocab)
        for i, r in enumerate(self.slots):
            k = len(r["out"])
            logits[i, r["script"][k] if k < len(r["script"]) else EOS] = 5.0
        logits = self.proc.apply(logits)
        sampled = logits.argmax(dim=1).tolist()
        finished = []
        for i, (r, t) in enumerate(zip(self.slots, sampled)):
            r["out"].append(t)
            if t == EOS or len(r["out"]) >= r["max"]:
                finished.append(i)
        for i in sorted(finished, reverse=True):
            self.removed.append(i)
            last = len(self.slots) - 1
            if i != last:
                self.slots[i] = self.slots[last]
                self.moved.append((last, i, standins.MoveDirectionality.UNIDIRECTIONAL))
            self.slots.pop()
        return finished

    def run(self, steps):
        for _ in range(steps):
            if not self.slots and not self.pending:
                break
            self.step()


def ids_of(vocab, tokens):
    return [vocab.setdefault(t, len(vocab) + 3) for t in tokens]


def test_processor_fills_the_interface(lv):
    assert issubclass(lv.GuardianLogitsProcessor, standins.LogitsProcessor)
    p = lv.GuardianLogitsProcessor.configure(raw_ids=True)(standins.VllmConfig(), torch.device("cpu"), False)
    assert p.is_argmax_invariant() is False
    p.update_state(None)
    logits = torch.randn(3, 10)
    assert torch.equal(p.apply(logits.clone()), logits)


def test_a_looping_request_gets_eos_right_after_its_stop_and_the_others_go_on(lv):
    vocab = {}
    loop, novel = looping_tokens(12 * F), novel_tokens(12 * F, seed=3)
    Guard = lv.GuardianLogitsProcessor.configure(check_every=F, min_gain=T, token_bytes=lambda i: pieces[i])
    engine = Engine(Guard, 4096)
    engine.submit("loop", ids_of(vocab, loop))
    engine.submit("novel", ids_of(vocab, novel), max_tokens=12 * F)
    engine.submit("loop, not guarded", ids_of(vocab, loop), standins.SamplingParams(extra_args={"lil_guardian": False}),
                  max_tokens=12 * F)
    pieces = {i: t for t, i in vocab.items()}
    reqs = list(engine.pending)
    engine.run(20 * F)
    stop = reference_stop(loop, check_every=F, min_gain=T)
    assert stop is not None
    assert reqs[0]["out"] == ids_of(vocab, loop)[:stop] + [EOS]
    assert reqs[1]["out"] == ids_of(vocab, novel)
    assert reqs[2]["out"] == ids_of(vocab, loop)[: 12 * F]


def test_per_request_options_and_eos(lv):
    vocab = {}
    loop = looping_tokens(12 * F)
    engine = Engine(lv.GuardianLogitsProcessor.configure(raw_ids=True, check_every=F, min_gain=T), 4096)
    engine.submit("a", ids_of(vocab, loop))
    engine.submit("b", ids_of(vocab, loop), standins.SamplingParams(
        extra_args={"lil_guardian": {"check_every": 20, "patience": 2}, "lil_eos_token_id": 4000}))
    a, b = engine.pending
    engine.run(20 * F)
    ga = lil.Guardian(check_every=F, min_gain=T)
    ga.accept_raw_ids(ids_of(vocab, loop))
    gb = lil.Guardian(check_every=20, min_gain=T, patience=2)
    gb.accept_raw_ids(ids_of(vocab, loop))
    assert a["out"][-1] == EOS and len(a["out"]) == ga.decision().stopped_at + 1
    assert b["out"][gb.decision().stopped_at] == 4000  # its own EOS id, forced after its own stop
    assert ga.decision().stopped_at != gb.decision().stopped_at


def test_guardians_follow_their_requests_through_moves_and_swaps(lv):
    p = lv.GuardianLogitsProcessor.configure(raw_ids=True, check_every=4, min_gain=1000)(standins.VllmConfig(), None, False)
    outs = [[], [], []]
    p.update_state(standins.BatchUpdate(3, [], [(i, standins.SamplingParams(), None, outs[i]) for i in range(3)], []))
    outs[0] += [11, 12, 13, 14]  # 4 tokens: request 0's first check (never a stop)
    outs[1] += [21]
    p.update_state(None)
    first = p.guardian(0)
    assert first.tokens == 4 and p.guardian(1).tokens == 1
    p.update_state(standins.BatchUpdate(3, [], [], [(0, 2, standins.MoveDirectionality.SWAP)]))
    assert p.guardian(2) is first and p.guardian(0).tokens == 0  # request 2 now sits at 0
    p.update_state(standins.BatchUpdate(2, [1], [], [(2, 1, standins.MoveDirectionality.UNIDIRECTIONAL)]))
    assert p.guardian(1) is first and p.guardian(2) is None
    outs[0] += [15, 16, 17, 18]  # 8 tokens: the second check, gain < 1000 -> stop
    p.update_state(None)
    assert p.guardian(1).stopped
    logits = p.apply(torch.zeros(2, 30))
    assert logits[1].argmax().item() == EOS and torch.isinf(logits[1]).sum().item() == 29
    assert torch.equal(logits[0], torch.zeros(30))


def test_eos_comes_from_the_model_config(lv):
    config = standins.VllmConfig(standins.ModelConfig(standins.HFConfig(eos_token_id=[9, 10])))
    p = lv.GuardianLogitsProcessor.configure(raw_ids=True, check_every=1, min_gain=1000)(config, None, False)
    out = []
    p.update_state(standins.BatchUpdate(1, [], [(0, standins.SamplingParams(), None, out)], []))
    out += [4, 4]
    p.update_state(None)
    assert p.apply(torch.zeros(1, 12))[0].argmax().item() == 9
    no_eos = standins.VllmConfig(standins.ModelConfig(standins.HFConfig(eos_token_id=None)))
    q = lv.GuardianLogitsProcessor.configure(raw_ids=True)(no_eos, None, False)
    with pytest.raises(ValueError, match="no EOS id"):
        q.update_state(standins.BatchUpdate(1, [], [(0, standins.SamplingParams(), None, [])], []))


def test_validate_params_refuses_bad_per_request_options(lv):
    cls = lv.GuardianLogitsProcessor
    cls.validate_params(standins.SamplingParams(extra_args={"lil_guardian": {"check_every": 9}}))
    cls.validate_params(standins.SamplingParams())
    with pytest.raises(lil.Error, match=r"check_every \(f\) must be >= 1, got 0"):
        cls.validate_params(standins.SamplingParams(extra_args={"lil_guardian": {"check_every": 0}}))
    with pytest.raises(ValueError, match="must be a dict of Guardian options or False"):
        cls.validate_params(standins.SamplingParams(extra_args={"lil_guardian": "yes"}))
    with pytest.raises(ValueError, match="must be an int"):
        cls.validate_params(standins.SamplingParams(extra_args={"lil_eos_token_id": "2"}))
    with pytest.raises(lil.Error):
        cls.configure(min_gain=-1)
