#!/usr/bin/env python3
"""What lil.hf.GuardianStoppingCriteria costs inside Hugging Face generate (docs/python.md).

A random-weight 12-layer Llama (bf16) generates 256 new tokens greedily at
batch 1, 16, 64 and 256, with the criterion at min_gain=0 (so it never stops
a sequence: every run does the same work). The criterion's own time per call
is measured between two CUDA synchronizes (the step's GPU work is finished
before the clock starts), beside the step time (the time from the end of one
criterion call to the start of the next, measured with a criterion that only
synchronizes), and end-to-end generate times with and without the criterion.

Modes of the criterion (how a token becomes the bytes Guardian prices):
  ids          lil.vocabulary_from_hf(tokenizer): one device-to-host copy of
               the new column and one C++ call per step (GuardianBatch.step);
  pieces       token_bytes as a table (a list indexed by id): the same path;
  pieces_fn    token_bytes as a function id -> bytes: Python per token;
  text         incremental detokenization (lil.IncrementalDetokenizer), text
               decoded at the checks (the default): one call of the
               tokenizer's Rust decode_batch every f steps;
  text_per_token  the same, every token decoded: one call per step.

The tokenizer is a real Hugging Face fast tokenizer (tokenizers' byte-level
BPE, GPT-2 alphabet) over a synthetic 32,000-piece vocabulary: the machine
has no network, so no pretrained tokenizer; its decode is the same Rust code
a pretrained byte-level tokenizer runs.

    python3 criterion_timing.py --out OUT [--batches 1,16,64,256] [--new 256]
    python3 criterion_timing.py --dry-run     # no torch: the criterion's paths on a numpy loop (CPU)

Floors, measured in the same run at each batch size: a criterion that only
synchronizes (the clock's own cost), one that only copies the last two columns
to the host, and one that also copies a flag per row back, both by the
criterion's own transfers (CopyProbe): what the criterion pays before doing
anything with the ids.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

GPT2_PRINTABLE = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or b >= 174]


def byte_alphabet():
    """GPT-2's byte -> printable code point table."""
    table, extra = {}, 0
    for b in range(256):
        if b in GPT2_PRINTABLE:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def synthetic_pieces(size, seed=0):
    """`size` distinct byte strings: the 256 bytes, then words and word pieces
    (ASCII, some with a leading space, a few accented) like a BPE vocabulary."""
    rng = random.Random(seed)
    pieces = [bytes([b]) for b in range(256)]
    seen = set(pieces)
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(pieces) < size:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(2, 7)))
        if rng.random() < 0.05:
            word += rng.choice("éüñç")
        if rng.random() < 0.6:
            word = " " + word
        p = word.encode()
        if p not in seen:
            seen.add(p)
            pieces.append(p)
    return pieces


def hf_tokenizer(pieces):
    """A transformers PreTrainedTokenizerFast over `pieces` (byte-level BPE)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alpha = byte_alphabet()
    vocab = {"".join(alpha[b] for b in p): i for i, p in enumerate(pieces)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=tok)


class TimedCriterion:
    """Wraps a criterion: the time of each call between two synchronizes."""

    def __init__(self, inner, sync):
        self.inner, self.sync = inner, sync
        self.calls, self.gaps = [], []
        self._end = None

    def __call__(self, input_ids, scores=None, **kwargs):
        self.sync()
        start = time.perf_counter()
        if self._end is not None:
            self.gaps.append(start - self._end)  # the model's step since the last call
        flags = self.inner(input_ids, scores, **kwargs) if self.inner is not None else None
        self.sync()
        end = time.perf_counter()
        self.calls.append(end - start)
        self._end = end
        if flags is None:  # the synchronize-only criterion: never stops
            import torch

            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return flags


class CopyProbe:
    """The device traffic of GuardianStoppingCriteria and nothing else (its own
    lil.hf._host and _PinnedFlags): the last two columns of input_ids to the
    host and, with `back`, a bool per row back to the device from page-locked
    memory. Its time per call is the floor under the criterion."""

    def __init__(self, back):
        self.back, self.flags = back, None

    def __call__(self, input_ids, scores=None, **kwargs):
        from lil.hf import _host, _PinnedFlags

        if self.flags is None:
            self.flags = _PinnedFlags.make(input_ids, input_ids.shape[0])
        width = input_ids.shape[1]
        _host(input_ids, width - 2, width, True)
        return self.flags.to_device() if self.back else None


class ProfiledCriterion:
    """Wraps a criterion: cProfile runs only inside its calls (after a synchronize)."""

    def __init__(self, inner, prof):
        import torch

        self.inner, self.prof, self.sync, self.calls = inner, prof, torch.cuda.synchronize, []

    def __call__(self, input_ids, scores=None, **kwargs):
        self.sync()
        start = time.perf_counter()
        self.prof.enable()
        flags = self.inner(input_ids, scores, **kwargs)
        self.sync()
        self.prof.disable()
        self.calls.append(time.perf_counter() - start)
        return flags


def summary(seconds):
    if not seconds:
        return {}
    s = sorted(seconds)
    return {"median_ms": 1e3 * statistics.median(s), "mean_ms": 1e3 * statistics.fmean(s),
            "p90_ms": 1e3 * s[int(0.9 * (len(s) - 1))], "calls": len(s)}


def make_criterion(mode, tokenizer, pieces, vocabulary):
    from lil.hf import GuardianStoppingCriteria

    rule = {"check_every": 250, "min_gain": 0}
    if mode == "ids":
        return GuardianStoppingCriteria(vocabulary=vocabulary, eos_token_id=[], **rule)
    if mode == "pieces":
        return GuardianStoppingCriteria(token_bytes=list(pieces), eos_token_id=[], **rule)
    if mode == "pieces_fn":
        return GuardianStoppingCriteria(token_bytes=pieces.__getitem__, eos_token_id=[], **rule)
    if mode == "text":
        return GuardianStoppingCriteria(tokenizer, text=True, eos_token_id=[], **rule)
    if mode == "text_per_token":
        return GuardianStoppingCriteria(tokenizer, text=True, text_at_checks=False, eos_token_id=[], **rule)
    raise ValueError(mode)


MODES = ("ids", "pieces", "pieces_fn", "text", "text_per_token")


def run_gpu(args):
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM, StoppingCriteriaList

    import lil

    global TimedCriterion, ProfiledCriterion

    class TimedCriterion(TimedCriterion, transformers.StoppingCriteria):  # noqa: F811 (generate wants the base)
        pass

    class ProfiledCriterion(ProfiledCriterion, transformers.StoppingCriteria):  # noqa: F811
        pass

    out = {"torch": torch.__version__, "transformers": transformers.__version__, "lil": lil.__version__,
           "device": torch.cuda.get_device_name(0), "new_tokens": args.new, "runs": []}
    pieces = synthetic_pieces(args.vocab)
    tokenizer = hf_tokenizer(pieces)
    t0 = time.perf_counter()
    vocabulary = lil.vocabulary_from_hf(tokenizer)
    out["vocabulary_from_hf_s"] = time.perf_counter() - t0
    assert all(vocabulary.bytes(i) == pieces[i] for i in range(0, len(pieces), 97)), "vocabulary != pieces"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=12, num_key_value_heads=12, max_position_embeddings=1024,
                         bos_token_id=1, eos_token_id=None, pad_token_id=0)
    model = LlamaForCausalLM(config).to("cuda", dtype=torch.bfloat16).eval()
    sync = torch.cuda.synchronize
    gen = dict(max_new_tokens=args.new, min_new_tokens=args.new, do_sample=False, eos_token_id=None, pad_token_id=0)

    def generate(batch, criteria):
        torch.manual_seed(batch)  # the same prompts (so, greedy, the same tokens) for every mode of a batch size
        ids = torch.randint(3, args.vocab, (batch, 16), device="cuda")
        sync()
        t = time.perf_counter()
        with torch.no_grad():
            res = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 stopping_criteria=StoppingCriteriaList(criteria), **gen)
        sync()
        return time.perf_counter() - t, res

    generate(4, [])  # warm-up: kernels, allocator
    for batch in args.batches:
        row = {"batch": batch}
        plain, res = generate(batch, [])
        row["generate_s_without"] = plain
        assert res.shape[1] == 16 + args.new
        timer = TimedCriterion(None, sync)
        row["generate_s_sync_only"], _ = generate(batch, [timer])
        row["step"] = summary(timer.gaps)
        row["sync_only_call"] = summary(timer.calls[1:])  # the clock's own floor: two synchronizes
        for probe, back in (("copy_in", False), ("copy_in_and_back", True)):
            t = TimedCriterion(CopyProbe(back), sync)
            generate(batch, [t])
            row[probe] = summary(t.calls[1:])
        print(f"batch {batch:4d} floors (medians): sync-only call {row['sync_only_call']['median_ms']:.3f} ms; ids to "
              f"the host {row['copy_in']['median_ms']:.3f} ms, and the flags back "
              f"{row['copy_in_and_back']['median_ms']:.3f} ms", flush=True)
        for mode in args.modes:
            crit = make_criterion(mode, tokenizer, pieces, vocabulary)
            timed = TimedCriterion(crit, sync)
            total, res = generate(batch, [timed])
            assert res.shape[1] == 16 + args.new, f"{mode}: generate stopped early"
            toks = [d.tokens for d in crit.decisions()]
            assert toks == [args.new] * batch, f"{mode}: the criterion accepted {toks[:4]}..."
            call = summary(timed.calls[1:])  # the first call builds the batch
            call["first_call_ms"] = 1e3 * timed.calls[0]
            call["generate_s"] = total
            call["us_per_sequence_token"] = 1e3 * call["median_ms"] / batch
            call["percent_of_step"] = 100 * call["median_ms"] / row["step"]["median_ms"]
            call["mean_percent_of_step"] = 100 * call["mean_ms"] / row["step"]["median_ms"]
            call["mode_reported"] = crit.mode
            call["text_decode"] = crit.text_decode
            curves = [[p.size for p in g.curve()] for g in crit._guardians()]
            if mode == "ids":
                ids_curves = curves
                # The generated ids fed on the host, column by column: what the
                # criterion read from the device each step must be those ids.
                ref = lil.GuardianBatch(batch, check_every=250, min_gain=0, vocabulary=vocabulary)
                host = res[:, 16:].cpu().numpy().astype("int32")
                for k in range(host.shape[1]):
                    ref.step(host[:, k].copy())
                call["sequences_as_on_the_host"] = sum(
                    a == [p.size for p in ref[i].curve()] for i, a in enumerate(curves))
                assert call["sequences_as_on_the_host"] == batch, "ids mode read other ids than generate made"
            else:  # the same tokens priced the same way: every C(n) alike (invalid UTF-8 may differ)
                call["sequences_with_the_ids_curve"] = sum(a == b for a, b in zip(curves, ids_curves))
            row[mode] = call
            print(f"batch {batch:4d} {mode:14s} criterion {call['median_ms']:.3f} ms/call, mean {call['mean_ms']:.3f} "
                  f"({call['percent_of_step']:.2f}%, mean {call['mean_percent_of_step']:.2f}% of a "
                  f"{row['step']['median_ms']:.2f} ms step, "
                  f"{call['us_per_sequence_token']:.3f} us/seq-token); generate {total:.2f} s "
                  f"vs {plain:.2f} s without"
                  + (f"; C(n) as ids mode in {call['sequences_with_the_ids_curve']}/{batch}"
                     if "sequences_with_the_ids_curve" in call else ""), flush=True)
        # Plain generate once more, now that every path ran at this batch size:
        # whether the first plain run paid for a warm-up.
        row["generate_s_without_again"], _ = generate(batch, [])
        print(f"batch {batch:4d} plain generate {row['generate_s_without']:.2f} s first, "
              f"{row['generate_s_without_again']:.2f} s again; sync-only criterion {row['generate_s_sync_only']:.2f} s",
              flush=True)
        out["runs"].append(row)
        with open(os.path.join(args.out, "criterion_timing.json"), "w") as f:
            json.dump(out, f, indent=1)
    if args.profile:
        profile_calls(args, generate, lambda m: make_criterion(m, tokenizer, pieces, vocabulary),
                      sorted({min(args.batches), max(args.batches)}))
    return out


def profile_calls(args, generate, make, batches):
    """Where a call's time goes, inside generate (the caches as the model's
    step leaves them): cProfile switched on only around each criterion call,
    at the smallest and the largest batch. Writes OUT/profile_<batch>_<mode>.txt."""
    import cProfile
    import io
    import pstats

    for batch in batches:
        for mode in args.modes:
            crit = make(mode)
            prof = cProfile.Profile()
            timed = ProfiledCriterion(crit, prof)
            generate(batch, [timed])
            per_call = statistics.median(timed.calls[1:])
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(16)
            with open(os.path.join(args.out, f"profile_{batch}_{mode}.txt"), "w") as f:
                f.write(f"batch {batch} mode {mode}: {1e3 * per_call:.3f} ms per call (median, under cProfile, "
                        f"{len(timed.calls)} calls inside generate)\n")
                f.write(text.getvalue())
            print(f"profile batch {batch} {mode:14s} {1e3 * per_call:.3f} ms/call under cProfile", flush=True)


def dry_run(args):
    """Every mode's code path on a numpy generate loop, without torch (CPU)."""
    import numpy as np

    import lil
    from lil.hf import GuardianStoppingCriteria  # noqa: F401 (import check)

    pieces = synthetic_pieces(2000)

    class PieceTokenizer:  # decode() only: the text mode's interface
        def decode(self, ids, **_):
            return b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")

    vocabulary = lil.Vocabulary(pieces, unfinished="per_character")
    rng = np.random.default_rng(0)
    for batch in (1, 16):
        ids = rng.integers(256, 2000, size=(batch, 5))
        crits = {m: make_criterion(m, PieceTokenizer(), pieces, vocabulary) for m in MODES}
        timers = {m: TimedCriterion(c, lambda: None) for m, c in crits.items()}
        for _ in range(args.new):
            ids = np.concatenate([ids, rng.integers(256, 2000, size=(batch, 1))], axis=1)
            for t in timers.values():
                t(ids, None)
        for m, c in crits.items():
            toks = [d.tokens for d in c.decisions()]
            assert toks == [args.new] * batch, (m, toks)
            print(f"dry-run batch {batch} {m:9s} mode={c.mode:7s} {summary(timers[m].calls[1:])['median_ms']:.3f} ms/call")
    # Every mode prices the same text: the same C(n) at each check.
    crits = {m: make_criterion(m, PieceTokenizer(), pieces, vocabulary) for m in MODES}
    ids = rng.integers(256, 2000, size=(2, 1001))  # whole characters: text mode decodes them alike
    for k in range(2, ids.shape[1] + 1):
        for c in crits.values():
            c(ids[:, :k], None)
    sizes = {m: [[p.last.size for p in [d]] for d in c.decisions()] for m, c in crits.items()}
    assert len({json.dumps(v) for v in sizes.values()}) == 1, sizes
    print("dry-run: every mode measured the same C(n):", sizes["ids"])


def table(path):
    """docs/python.md's table, from a run's criterion_timing.json."""
    data = json.load(open(path))
    modes = [m for m in MODES if all(m in r for r in data["runs"])]
    names = {"ids": "ids (vocabulary)", "pieces": "pieces (table)", "pieces_fn": "pieces (function)",
             "text": "text, decoded at checks", "text_per_token": "text, every token decoded"}
    lines = ["| batch | step | " + " | ".join(names[m] for m in modes) +
             " | generate: sync-only criterion | generate with lil: " + " / ".join(modes) +
             " | generate, no criterion: first / again |",
             "|---" * (5 + len(modes)) + "|"]
    for r in data["runs"]:
        cells = [f"{r[m]['median_ms']:.3f} / {r[m]['mean_ms']:.3f} ms, {r[m]['percent_of_step']:.1f}% / "
                 f"{r[m].get('mean_percent_of_step', 100 * r[m]['mean_ms'] / r['step']['median_ms']):.1f}% "
                 f"({r[m]['us_per_sequence_token']:.2f} µs)" for m in modes]
        again = r.get("generate_s_without_again")
        lines.append(f"| {r['batch']} | {r['step']['median_ms']:.2f} ms | " + " | ".join(cells) +
                     f" | {r['generate_s_sync_only']:.2f} s | " + " / ".join(f"{r[m]['generate_s']:.2f}" for m in modes) +
                     f" s | {r['generate_s_without']:.2f} / " + (f"{again:.2f} s |" if again is not None else "- |"))
    if all("copy_in" in r for r in data["runs"]):
        lines += ["", "| batch | sync-only call | ids to the host | and the flags back | the cheapest mode's call |",
                  "|---|---|---|---|---|"]
        for r in data["runs"]:
            best = min(r[m]["median_ms"] for m in modes)
            lines.append(f"| {r['batch']} | {r['sync_only_call']['median_ms']:.3f} ms | {r['copy_in']['median_ms']:.3f} ms"
                         f" | {r['copy_in_and_back']['median_ms']:.3f} ms | {best:.3f} ms |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="out")
    p.add_argument("--batches", default="1,16,64,256")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--new", type=int, default=256)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--profile", action="store_true", help="also profile each mode's calls inside generate at the smallest and largest batch")
    p.add_argument("--table", metavar="JSON", help="print docs/python.md's table from a run's criterion_timing.json")
    args = p.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    args.modes = args.modes.split(",")
    if args.table:
        print(table(args.table))
        return 0
    os.makedirs(args.out, exist_ok=True)
    if args.dry_run:
        dry_run(args)
        return 0
    run_gpu(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
