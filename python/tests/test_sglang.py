"""lil.sglang.GuardianLogitProcessor against a stand-in of SGLang's custom
logit processor interface (standins.py): each step the engine rebuilds the
processor from its serialized form, passes one custom_params dict per request
with the request under '__req__', and samples the argmax. SGLang itself is
not installed here."""

import gc
import importlib

import pytest

import lil
import standins
from conftest import F, T, looping_tokens, novel_tokens, reference_stop

torch = pytest.importorskip("torch")

EOS = 2


@pytest.fixture
def ls(monkeypatch):
    module = standins.install_sglang(monkeypatch)
    yield module
    monkeypatch.undo()
    importlib.reload(module)


def ids_of(vocab, tokens):
    return [vocab.setdefault(t, len(vocab) + 3) for t in tokens]


def run(ls, requests, steps, vocab_size=4096):
    """requests: list of (Req, script, custom_params). Runs until all finish."""
    serialized = ls.GuardianLogitProcessor().to_str()
    live = list(requests)
    for _ in range(steps):
        if not live:
            break
        processor = standins.CustomLogitProcessor.from_str(serialized)  # a new object every step
        logits = torch.zeros(len(live), vocab_size)
        for i, (req, script, _) in enumerate(live):
            k = len(req.output_ids)
            logits[i, script[k] if k < len(script) else EOS] = 5.0
        params = [dict(p, __req__=req) if p is not None else None for req, _, p in live]
        logits = processor(logits, params)
        for (req, _, _), t in zip(live, logits.argmax(dim=1).tolist()):
            req.output_ids.append(t)
        live = [r for r in live if r[0].output_ids[-1] != EOS and len(r[0].output_ids) < len(r[1]) + 1]


def test_processor_fills_the_interface(ls):
    assert issubclass(ls.GuardianLogitProcessor, standins.CustomLogitProcessor)
    p = ls.GuardianLogitProcessor()
    logits = torch.randn(2, 8)
    assert torch.equal(p(logits.clone(), None), logits)
    assert torch.equal(p(logits.clone(), [{"lil_guardian": False}, {"lil_guardian": False}]), logits)


def test_a_looping_request_gets_eos_after_its_stop_and_the_others_go_on(ls):
    vocab = {}
    loop, novel = looping_tokens(12 * F), novel_tokens(12 * F, seed=5)
    opts = {"lil_guardian": {"check_every": F, "min_gain": T}, "eos_token_id": EOS, "lil_text": "raw_ids"}
    a = standins.Req("a", [1, 5])
    b = standins.Req("b", [1, 6])
    c = standins.Req("c", [1, 7], eos_token_ids={EOS})
    d = standins.Req("d", [1, 8])
    run(ls, [(a, ids_of(vocab, loop), opts), (b, ids_of(vocab, novel), opts),
             (c, ids_of(vocab, loop), {"lil_guardian": {"check_every": F, "min_gain": T}, "lil_text": "raw_ids"}),
             (d, ids_of(vocab, loop), {"lil_guardian": False})], 20 * F)
    g = lil.Guardian(check_every=F, min_gain=T)
    g.accept_raw_ids(ids_of(vocab, loop))  # ids as 4 bytes: asked for with lil_text='raw_ids'
    stop = g.decision().stopped_at
    assert stop and a.output_ids == ids_of(vocab, loop)[:stop] + [EOS]
    assert c.output_ids == a.output_ids  # EOS from the request's own eos_token_ids
    assert b.output_ids[: len(novel)] == ids_of(vocab, novel)
    assert d.output_ids[: len(loop)] == ids_of(vocab, loop)  # not guarded
    assert ls.guardian_of(a).stopped and not ls.guardian_of(b).stopped and ls.guardian_of(d) is None


def test_text_pricing_uses_the_requests_tokenizer(ls):
    vocab = {}
    loop = looping_tokens(12 * F)
    pieces = {}

    class Tokenizer:
        eos_token_id = EOS

        def decode(self, ids, **_):
            return "".join(pieces.get(i, "") for i in ids)

    req = standins.Req("t", [1])
    req.tokenizer = Tokenizer()
    script = ids_of(vocab, loop)
    pieces.update({i: t for t, i in vocab.items()})
    run(ls, [(req, script, {"lil_guardian": {"check_every": F, "min_gain": T}, "lil_text": "text"})], 20 * F)
    assert len(req.output_ids) == reference_stop(loop, check_every=F, min_gain=T) + 1
    assert req.output_ids[-1] == EOS


def test_a_finished_request_takes_its_guardian_with_it(ls):
    req = standins.Req("gone", [1])
    run(ls, [(req, [5, 6, 7], {"eos_token_id": EOS})], 10)
    assert ls.guardian_of(req) is not None
    before = len(ls._by_request)
    del req
    gc.collect()
    assert len(ls._by_request) == before - 1


def test_bad_custom_params_are_refused(ls):
    p = ls.GuardianLogitProcessor()
    for params, message in [({"lil_guardian": {"check_every": 0}}, r"check_every \(f\) must be >= 1, got 0"),
                            ({"lil_guardian": 3}, "must be a dict of Guardian options or False"),
                            ({"lil_text": "bytes"}, "must be 'auto', 'text' or 'raw_ids'"),
                            ({"lil_text": "text"}, "carries none")]:
        with pytest.raises(ValueError, match=message):
            p(torch.zeros(1, 4), [dict(params, __req__=standins.Req("x", [1]))])
