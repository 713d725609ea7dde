#!/usr/bin/env python3
""""Less is Less" on the GPU through lil's own policies: the committed reasoner
as a transformers LlamaForCausalLM (examples/hf_guardian/gpu_run.py converts
it), model.generate over all evaluation problems in one batch, greedy, with
lil_torch.hf.LilCache running each policy at budgets 16..128 (lil's CUDA
kernels decide every slot, eviction and Quest page), beside dense attention.

Per setting: accuracy, mean generated tokens, traces that hit the cap, and
with Guardian (f = 25, t = 2: the paper's t/f scaled to these short outputs,
as in docs/python.md) read off each recorded trace - under greedy decoding a
run with the criterion is a prefix of the run without it - the tokens saved
and the accuracy of the cut traces.

Checks first: the lil cache with the Full policy against the model's own
cache (the same tokens, sequence by sequence), which exercises the slot
writes, the token-by-token prompt and the attention path with no sparsity.

    python3 lil_table.py --out OUT [--problems 200] [--max-new 600] [--budgets 16,32,64,128]
"""

import argparse
import os
import sys
import time
import traceback

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# python/ goes last: the lil module that was built (PYTHONPATH) must win over
# the source folder python/lil, which holds no compiled extension.
sys.path.append(os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "examples", "hf_guardian"))
for sub in (("src", "decoder"), ("examples", "tiny_llama")):
    if os.path.isdir(os.path.join(REPO, *sub)):
        sys.path.insert(0, os.path.join(REPO, *sub))
os.environ.setdefault("LIL_REPO", REPO)

import gpu_run  # noqa: E402  (the reasoner as a HF model, prompts, answers)
from run_files import save_record  # noqa: E402  (beside this file)
import llama2c_format  # noqa: E402
import lil  # noqa: E402
from lil_torch.hf import MISSING_LAYER_METHODS, LilCache, lil_attention  # noqa: E402
from lil_torch.spec import SpecError  # noqa: E402

BOS, EOS, PAD = gpu_run.BOS, gpu_run.EOS, gpu_run.PAD


def generate(model, ids, mask, max_new, cache=None):
    torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.no_grad():
        if cache is None:
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                                 pad_token_id=PAD, eos_token_id=EOS)
        else:
            with lil_attention(cache):
                out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                                     max_new_tokens=max_new, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
    torch.cuda.synchronize()
    return [gpu_run.generated(r) for r in out[:, ids.shape[1]:].tolist()], time.perf_counter() - t


def summarize(name, budget, traces, answers, text_of, max_new, f, t, seconds):
    per = []
    for trace, answer in zip(traces, answers):
        text = b"".join(text_of(x) for x in trace).decode(errors="replace")
        g = lil.Guardian(check_every=f, min_gain=t)
        stop = None
        for i, x in enumerate(trace):
            if g.accept(text_of(x)):
                stop = g.decision().stopped_at
                break
        cut = trace[:stop] if stop is not None else trace
        cut_text = b"".join(text_of(x) for x in cut).decode(errors="replace")
        per.append({"tokens": len(trace), "tokens_with_guardian": len(cut), "stopped_at": stop,
                    "hit_cap": len(trace) == max_new and (not trace or trace[-1] != EOS),
                    "correct": gpu_run.answer_of(text) == answer,
                    "correct_with_guardian": gpu_run.answer_of(cut_text) == answer})
    n = len(per)
    total = sum(p["tokens"] for p in per)
    total_g = sum(p["tokens_with_guardian"] for p in per)
    return {"policy": name, "budget": budget, "sequences": n,
            "accuracy": round(sum(p["correct"] for p in per) / n, 3),
            "mean_tokens": round(total / n, 1), "hit_cap": sum(p["hit_cap"] for p in per),
            "tokens": total, "tokens_with_guardian": total_g,
            "guardian_saved_percent": round(100.0 * (total - total_g) / max(1, total), 1),
            "guardian_stopped": sum(p["stopped_at"] is not None for p in per),
            "accuracy_with_guardian": round(sum(p["correct_with_guardian"] for p in per) / n, 3),
            "generate_seconds": round(seconds, 2), "per_sequence": per}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--max-new", type=int, default=600)
    ap.add_argument("--budgets", default="16,32,64,128")
    ap.add_argument("--policies", default="sink,h2o,quest,snapkv,tova")
    ap.add_argument("--extra", default="snapkv:64,evict_generated=1;snapkv:128,evict_generated=1",
                    help="further specs after the grid, separated by ';' (not the papers' settings)")
    ap.add_argument("--f", type=int, default=25)
    ap.add_argument("--t", type=float, default=2.0)
    ap.add_argument("--time-limit", type=float, default=420)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    import transformers

    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    models = next(p for p in (os.path.join(REPO, "src", "decoder", "models"), os.path.join(REPO, "examples", "models"))
                  if os.path.isdir(p))
    cfg, w = llama2c_format.read_checkpoint(os.path.join(models, "reasoner.bin"))
    pieces, scores = llama2c_format.read_tokenizer(os.path.join(models, "reasoner_tok.bin"))
    text_of = lambda x: pieces[x] if x > 2 else b""  # noqa: E731
    model, config = gpu_run.build_hf_model(cfg, gpu_run.hf_state_dict(cfg, w), dev)
    problems = gpu_run.load_problems(args.problems)
    prompts = [llama2c_format.encode(pieces, scores, p) for p, _ in problems]
    answers = [a for _, a in problems]
    ids, mask = gpu_run.left_pad(prompts)
    ids, mask = ids.to(dev), mask.to(dev)
    record = {"command": " ".join(sys.argv), "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "transformers": transformers.__version__, "lil": lil.__version__, "problems": len(prompts),
              "prompt_columns": ids.shape[1], "max_new_tokens": args.max_new,
              "guardian": {"check_every": args.f, "min_gain": args.t}, "settings": [], "errors": [],
              "cache_layer_methods_not_implemented": MISSING_LAYER_METHODS}
    log(f"{record['device']}, torch {torch.__version__}, transformers {transformers.__version__}; "
        f"{len(prompts)} problems in one batch ({ids.shape[1]} prompt columns), cap {args.max_new} new tokens")

    dense, secs = generate(model, ids, mask, args.max_new)
    row = summarize("dense", None, dense, answers, text_of, args.max_new, args.f, args.t, secs)
    record["settings"].append(row)
    log(f"[dense (the model's own cache)] accuracy {row['accuracy']}, mean tokens {row['mean_tokens']}, "
        f"hit cap {row['hit_cap']}, guardian saves {row['guardian_saved_percent']}%, {secs:.2f} s")

    cache = LilCache("full", model.config, mask, args.max_new)
    full, secs = generate(model, ids, mask, args.max_new, cache)
    same = sum(a == b for a, b in zip(dense, full))
    record["check_full_equals_dense"] = {"identical_sequences": same, "of": len(dense)}
    row = summarize("full", None, full, answers, text_of, args.max_new, args.f, args.t, secs)
    record["settings"].append(row)
    log(f"[lil full] identical to dense in {same}/{len(dense)} sequences; accuracy {row['accuracy']}, "
        f"mean tokens {row['mean_tokens']}, {secs:.2f} s")

    settings = [(p, int(b), f"{p}:{b}") for p in args.policies.split(",") for b in args.budgets.split(",")]
    for text in filter(None, args.extra.split(";")):
        head, _, options = text.partition(",")
        policy, _, budget = head.partition(":")
        settings.append((f"{policy} ({options})" if options else policy, int(budget), text))
    for policy, budget, name in settings:
        if time.time() - started > args.time_limit:
            record["errors"].append(f"{name}: skipped, time limit")
            log(record["errors"][-1])
            continue
        try:
            cache = LilCache(name, model.config, mask, args.max_new)
        except SpecError as e:
            record["errors"].append(f"{name}: {e}")
            log(f"[{name}] not run: {e}")
            continue
        try:
            traces, secs = generate(model, ids, mask, args.max_new, cache)
            row = summarize(policy, budget, traces, answers, text_of, args.max_new, args.f, args.t, secs)
            held = cache.held().float().mean(dim=1).tolist()
            row["mean_tokens_held_per_layer_at_end"] = [round(h, 1) for h in held]
            record["settings"].append(row)
            log(f"[{name}] accuracy {row['accuracy']}, mean tokens {row['mean_tokens']}, hit cap {row['hit_cap']}, "
                f"guardian: {row['guardian_saved_percent']}% saved, stopped {row['guardian_stopped']}, accuracy "
                f"{row['accuracy_with_guardian']}; most held in a layer at the end {max(held):.1f}; {secs:.2f} s")
        except Exception:  # noqa: BLE001 - record and go on with the next setting
            record["errors"].append(f"{name}: " + traceback.format_exc())
            log(record["errors"][-1])
        del cache
        torch.cuda.empty_cache()
    record["wall_seconds"] = round(time.time() - started, 1)
    save_record(args.out, "lil_table", record, lines)


if __name__ == "__main__":
    main()
