"""lil.sglang.GuardianLogitProcessor against SGLang's own CustomLogitProcessor
(../shared/upstream/sglang/srt/sampling/custom_logit_processor.py), called as
sglang/srt/layers/sampler.py's apply_custom_logit_processor calls it: the
processor object is rebuilt from its to_str() string; it gets the logits rows
of the requests that named it and one custom_params dict per request (SGLang
puts the request object under "__req__"); with speculative decoding each
request has several consecutive rows (tokens per request x requests)."""


import pytest

np = pytest.importorskip("numpy")
import lil  # noqa: E402
from conftest import F, T, looping_tokens, novel_tokens, reference_stop  # noqa: E402
import upstream  # noqa: E402

upstream.enter("sglang")

from sglang.srt.sampling.custom_logit_processor import CustomLogitProcessor  # noqa: E402

import lil.sglang as ls  # noqa: E402

upstream.leave()

EOS = 2


class Tokenizer:
    """decode() only: the processor prices text through it (no vocabulary table)."""

    def __init__(self, pieces):
        self.pieces, self.eos_token_id = pieces, EOS

    def decode(self, ids, **_):
        return "".join(self.pieces[i] for i in ids if i > 2)


class Req:
    def __init__(self, rid, prompt, tokenizer):
        self.rid, self.origin_input_ids, self.output_ids, self.tokenizer = rid, prompt, [], tokenizer
        self.eos_token_ids = {EOS}


def vocab_of(*streams):
    pieces = ["<pad>", "<s>", "</s>"]
    ids = {}
    for s in streams:
        for t in s:
            if t not in ids:
                ids[t] = len(pieces)
                pieces.append(t)
    return pieces, ids


def run(proc, reqs, scripts, params, rows_per_request, steps):
    vocab = max(max(s) for s in scripts) + 1
    for step in range(steps):
        live = [i for i, r in enumerate(reqs) if not (r.output_ids and r.output_ids[-1] == EOS)]
        if not live:
            break
        logits = np.zeros((len(live) * rows_per_request, vocab), dtype=np.float32)
        for k, i in enumerate(live):
            logits[k * rows_per_request:(k + 1) * rows_per_request, scripts[i][step]] = 5.0
        logits = proc(logits, [dict(params[i], __req__=reqs[i]) if params[i] is not None else None for i in live])
        for k, i in enumerate(live):
            picked = logits[k * rows_per_request:(k + 1) * rows_per_request].argmax(axis=1)
            reqs[i].output_ids.append(int(picked[0]))  # the first row's token (accepted draft)
            assert len(set(picked.tolist())) == 1, "all rows of a stopped request are forced alike"


@pytest.mark.parametrize("rows_per_request", [1, 3])
def test_each_request_stops_where_its_guardian_says_with_one_or_several_rows(rows_per_request):
    loop, novel = looping_tokens(12 * F), novel_tokens(12 * F, seed=5)
    pieces, ids = vocab_of(loop, novel)
    tok = Tokenizer(pieces)
    proc = CustomLogitProcessor.from_str(ls.GuardianLogitProcessor().to_str())
    reqs = [Req(f"a{rows_per_request}", [1], tok), Req(f"b{rows_per_request}", [1], tok)]
    scripts = [[ids[t] for t in loop], [ids[t] for t in novel]]
    opts = {"lil_guardian": {"check_every": F, "min_gain": T}}
    run(proc, reqs, scripts, [opts, opts], rows_per_request, 12 * F)
    stop = reference_stop(loop, check_every=F, min_gain=T)
    assert stop is not None and len(reqs[0].output_ids) == stop + 1 and reqs[0].output_ids[-1] == EOS
    assert len(reqs[1].output_ids) == 12 * F and EOS not in reqs[1].output_ids


def test_a_request_without_custom_params_is_refused_with_a_clear_error():
    pieces, ids = vocab_of([" a"])
    proc = ls.GuardianLogitProcessor()
    req = Req("c", [1], Tokenizer(pieces))
    with pytest.raises(ValueError, match="custom_params"):
        run(proc, [req], [[ids[" a"]] * 10], [None], 1, 3)
    # {} guards with the defaults; {"lil_guardian": False} leaves it alone.
    run(proc, [req], [[ids[" a"]] * 10], [{}], 1, 3)
    assert ls.guardian_of(req) is not None and ls.guardian_of(req).tokens == 2


def test_rows_that_are_not_a_multiple_of_the_requests_are_refused():
    proc = ls.GuardianLogitProcessor()
    req = Req("d", [1], Tokenizer(["<pad>", "<s>", "</s>", " x"]))
    with pytest.raises(ValueError, match="rows"):
        proc(np.zeros((3, 4), dtype=np.float32), [{"__req__": req}, {"__req__": req}])
