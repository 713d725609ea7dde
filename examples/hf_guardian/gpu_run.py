#!/usr/bin/env python3
"""The GPU run of lil's Hugging Face stopping criterion (docs/python.md).

The committed reasoner (src/decoder/models/reasoner.bin, a llama2.c checkpoint)
becomes a transformers LlamaForCausalLM with the same weights; model.generate
then runs greedily on the evaluation problems, with and without
lil.hf.GuardianStoppingCriteria, in three settings:

  dense      the model as trained (its traces end with EOS on their own);
  sink       lil's sink policy (4 sink tokens + a window of 12, sink:16) run
             by lil's CUDA kernels through lil_torch.hf.LilCache: the setting
             where the reasoner loses facts and loops until the token cap
             (docs/model.md);
  cyclic     dense, on prompts whose definitions form a cycle.

Guardian's rule is scaled to these short outputs keeping the paper's ratio
t/f = 20/250: f = 25 tokens, t = 2 bytes. The reasoner's tokens are single
characters, so each token's text is its piece (token_bytes). Figures (tokens
with and without the criterion, where it stopped, accuracy, timings) go to
OUT/gpu_run.json, sample outputs to OUT/gpu_samples.txt.

Before generating, the conversion is checked: the HF model's logits against
src/decoder/reference.py (float64, llama2.c's RoPE pairing) and the
stored fixture tests/data/tiny_llama_logits_reasoner.json; and lil's cache
with the Full policy against the model's own cache (the same tokens).

    python3 gpu_run.py --out OUT [--problems 200] [--max-new 600] [--time-limit 400]
    python3 gpu_run.py --dry-run ...   # no transformers: a plain-torch stand-in of generate (CPU check)
"""

import argparse
import json
import os
import re
import sys
import time
import traceback

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("LIL_REPO") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "src", "decoder"))
import llama2c_format  # noqa: E402
import reference  # noqa: E402

import lil  # noqa: E402
from lil.hf import GuardianStoppingCriteria  # noqa: E402

sys.path.append(os.path.join(REPO, "python"))  # lil_torch, after the built lil

BOS, EOS, PAD = 1, 2, 0  # PAD: the tokenizer's <unk>, never generated
CYCLIC_PROMPTS = [
    "A=B+1;B=C+2;C=A+3;D=4\n?A\n",
    "Q=R+1;R=Q-1;K=3\n?Q\n",
    "A=B-1;B=A+1\n?A\n",
    "A=B+1;B=C+1;C=D+1;D=E+1;E=A+1\n?A\n",
    "Z=9;K=8;P=N-2;I=P-7;U=6;H=S-1;N=H+8;G=H+6;S=I-9\n?H\n",
    "A=A+1\n?A\n",
]


# --- the checkpoint as a Hugging Face Llama ---------------------------------------------------

def interleaved_to_half(w, n_heads):
    """llama2.c rotates pairs (2i, 2i+1) of each head; HF's rotate_half pairs
    (i, i + head/2). Reordering each head's output rows [0,2,4,..,1,3,5,..]
    makes HF's rotation compute the same thing."""
    rows, cols = w.shape
    head = rows // n_heads
    return w.reshape(n_heads, head // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def hf_state_dict(cfg, w):
    t = lambda a: torch.from_numpy(a.copy()).float()  # noqa: E731
    sd = {"model.embed_tokens.weight": t(w["tok_embeddings"]), "model.norm.weight": t(w["norm"]),
          "lm_head.weight": t(w["output"])}
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        sd[p + "self_attn.q_proj.weight"] = interleaved_to_half(t(w["wq"][i]), cfg["n_heads"])
        sd[p + "self_attn.k_proj.weight"] = interleaved_to_half(t(w["wk"][i]), cfg["n_kv_heads"])
        sd[p + "self_attn.v_proj.weight"] = t(w["wv"][i])
        sd[p + "self_attn.o_proj.weight"] = t(w["wo"][i])
        sd[p + "mlp.gate_proj.weight"] = t(w["w1"][i])
        sd[p + "mlp.up_proj.weight"] = t(w["w3"][i])
        sd[p + "mlp.down_proj.weight"] = t(w["w2"][i])
        sd[p + "input_layernorm.weight"] = t(w["attention_norm"][i])
        sd[p + "post_attention_layernorm.weight"] = t(w["ffn_norm"][i])
    return sd


def half_rope_forward(cfg, sd, tokens):
    """A plain-torch Llama forward on the HF-named, HF-ordered weights (float64,
    rotate_half RoPE): checks the reordering on the CPU without transformers."""
    g = lambda k: sd[k].double()  # noqa: E731
    T, d, H, KV = len(tokens), cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    head = d // H
    inv = 1.0 / (10000.0 ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos, sin = torch.cat([ang.cos()] * 2, -1)[:, None, :], torch.cat([ang.sin()] * 2, -1)[:, None, :]

    def rot(x):
        a, b = x[..., : head // 2], x[..., head // 2:]
        return x * cos + torch.cat([-b, a], -1) * sin

    def norm(x, gain):
        return gain * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)

    x = g("model.embed_tokens.weight")[torch.tensor(tokens)]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        h = norm(x, g(p + "input_layernorm.weight"))
        q = rot((h @ g(p + "self_attn.q_proj.weight").T).view(T, H, head))
        k = rot((h @ g(p + "self_attn.k_proj.weight").T).view(T, KV, head)).repeat_interleave(H // KV, 1)
        v = (h @ g(p + "self_attn.v_proj.weight").T).view(T, KV, head).repeat_interleave(H // KV, 1)
        s = torch.einsum("thd,shd->hts", q, k) / head ** 0.5 + mask
        o = torch.einsum("hts,shd->thd", torch.softmax(s, -1), v).reshape(T, d)
        x = x + o @ g(p + "self_attn.o_proj.weight").T
        h = norm(x, g(p + "post_attention_layernorm.weight"))
        x = x + (F.silu(h @ g(p + "mlp.gate_proj.weight").T) * (h @ g(p + "mlp.up_proj.weight").T)) @ g(
            p + "mlp.down_proj.weight").T
    return norm(x, g("model.norm.weight")) @ g("lm_head.weight").T


def build_hf_model(cfg, sd, device):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["dim"], intermediate_size=cfg["hidden_dim"],
        num_hidden_layers=cfg["n_layers"], num_attention_heads=cfg["n_heads"],
        num_key_value_heads=cfg["n_kv_heads"], head_dim=cfg["dim"] // cfg["n_heads"],
        max_position_embeddings=cfg["seq_len"], rms_norm_eps=1e-5, hidden_act="silu",
        tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
        attention_bias=False, mlp_bias=False, attn_implementation="sdpa")
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if "rotary" not in k and k != "lm_head.weight"]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    return model.to(device).eval(), config


# --- sparse attention for the "sink" setting ----------------------------------------------------
# lil's own sink policy, on lil's kernels, as a transformers cache (python/lil_torch/hf.py):
# LilCache decides every slot and eviction; lil_attention() makes the model's "sdpa" read them.

# --- generation -------------------------------------------------------------------------------

class TimedGuardian(GuardianStoppingCriteria):
    """The criterion, adding up the time spent in it (a StoppingCriteria too)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seconds, self.calls = 0.0, 0

    def __call__(self, input_ids, scores=None, **kwargs):
        t = time.perf_counter()
        out = super().__call__(input_ids, scores, **kwargs)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


def left_pad(rows):
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)
        mask[i, width - len(r):] = 1
    return ids, mask


def hf_generate(model, prompts, max_new, criterion, device, policy=None):
    """policy: a lil KV policy spec ("sink:16,sinks=4") run through lil's cache, or None (the model's own)."""
    from transformers import StoppingCriteriaList

    ids, mask = left_pad(prompts)
    ids, mask = ids.to(device), mask.to(device)
    extra = {"stopping_criteria": StoppingCriteriaList([criterion])} if criterion is not None else {}
    torch.cuda.synchronize()
    t = time.perf_counter()
    with torch.no_grad():
        if policy is None:
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new,
                                 do_sample=False, pad_token_id=PAD, eos_token_id=EOS, **extra)
        else:
            from lil_torch.hf import LilCache, lil_attention

            cache = LilCache(policy, model.config, mask, max_new)
            with lil_attention(cache):
                out = model.generate(input_ids=ids, attention_mask=mask, past_key_values=cache,
                                     max_new_tokens=max_new, do_sample=False, pad_token_id=PAD, eos_token_id=EOS,
                                     **extra)
    torch.cuda.synchronize()
    wall = time.perf_counter() - t
    return out[:, ids.shape[1]:].tolist(), wall


def dry_generate(cfg, sd, prompts, max_new, criterion):
    """CPU stand-in of generate for --dry-run: greedy over half_rope_forward
    (recomputed from scratch each step) with generate's per-row bookkeeping:
    a finished row gets padding, a row is finished by EOS or the criterion."""
    ids, _ = left_pad(prompts)
    width = ids.shape[1]
    unfinished = torch.ones(len(prompts), dtype=torch.bool)
    rows = [list(p) for p in prompts]
    t = time.perf_counter()
    for _ in range(max_new):
        nxt = [int(half_rope_forward(cfg, sd, row)[-1].argmax()) if unfinished[r] else PAD
               for r, row in enumerate(rows)]
        for row, tok in zip(rows, nxt):
            row.append(tok)
        new = torch.tensor(nxt)
        ids = torch.cat([ids, new[:, None]], 1)
        if criterion is not None:
            unfinished &= ~criterion(ids, None)
        unfinished &= new != EOS
        if not unfinished.any():
            break
    return ids[:, width:].tolist(), time.perf_counter() - t


def generated(row):
    """Generated ids up to EOS (inclusive) or the padding after a stop."""
    out = []
    for t in row:
        if t == PAD:
            break
        out.append(t)
        if t == EOS:
            break
    return out


# --- the experiment ---------------------------------------------------------------------------

def load_problems(n):
    rows = []
    with open(os.path.join(REPO, "src", "decoder", "models", "reasoner_eval.tsv"), encoding="utf-8") as f:
        for line in f:
            prompt, answer = line.rstrip("\n").split("\t")
            rows.append((prompt.replace("\\n", "\n"), answer))
    return rows[:n]


def answer_of(text):
    found = re.findall(r"ans=(\d)", text)
    return found[-1] if found else None


def run_setting(name, gen, prompts, answers, max_new, rule, text_of, log):
    plain, wall_plain = gen(prompts, max_new, None)
    timed = TimedGuardian(token_bytes=text_of, eos_token_id=EOS, pad_token_id=PAD, **rule)
    guarded, wall_guarded = gen(prompts, max_new, timed)
    guard = timed
    stops = guard.stopped_at()
    per = []
    for i, (a, b) in enumerate(zip(plain, guarded)):
        a, b = generated(a), generated(b)
        ta, tb = b"".join(text_of(t) for t in a).decode(), b"".join(text_of(t) for t in b).decode()
        per.append({
            "tokens_without": len(a), "tokens_with": len(b), "stopped_at": stops[i],
            "hit_cap_without": len(a) == max_new and (not a or a[-1] != EOS),
            "correct_without": answers is not None and answer_of(ta) == answers[i],
            "correct_with": answers is not None and answer_of(tb) == answers[i],
            "prefix": a[: len(b)] == b,
        })
    total_a = sum(p["tokens_without"] for p in per)
    total_b = sum(p["tokens_with"] for p in per)
    summary = {
        "setting": name, "sequences": len(per), "max_new_tokens": max_new, "rule": rule,
        "tokens_without": total_a, "tokens_with": total_b,
        "tokens_saved_percent": round(100.0 * (total_a - total_b) / max(1, total_a), 1),
        "stopped": sum(p["stopped_at"] is not None for p in per),
        "hit_cap_without": sum(p["hit_cap_without"] for p in per),
        "accuracy_without": (sum(p["correct_without"] for p in per) / len(per)) if answers else None,
        "accuracy_with": (sum(p["correct_with"] for p in per) / len(per)) if answers else None,
        "with_is_prefix_of_without": sum(p["prefix"] for p in per),
        "seconds_without": round(wall_plain, 3), "seconds_with": round(wall_guarded, 3),
        "criterion_seconds": round(timed.seconds, 4),
        "criterion_calls": timed.calls,
        "per_sequence": per,
    }
    log(f"[{name}] {len(per)} sequences: tokens {total_a} -> {total_b} ({summary['tokens_saved_percent']}% saved), "
        f"stopped {summary['stopped']}, hit cap without {summary['hit_cap_without']}, "
        f"accuracy {summary['accuracy_without']} -> {summary['accuracy_with']}, prefix {summary['with_is_prefix_of_without']}"
        f"/{len(per)}, {wall_plain:.2f} s -> {wall_guarded:.2f} s"
        + f", criterion {timed.seconds:.3f} s over {timed.calls} calls")
    return summary, plain, guarded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--max-new", type=int, default=600)
    ap.add_argument("--f", type=int, default=25)
    ap.add_argument("--t", type=float, default=2.0)
    ap.add_argument("--sinks", type=int, default=4)
    ap.add_argument("--window", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=400)
    ap.add_argument("--dry-run", action="store_true", help="CPU, no transformers: a plain-torch generate")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    record = {"command": " ".join(sys.argv), "lil": lil.__version__, "python": sys.version.split()[0],
              "torch": torch.__version__, "errors": []}
    try:
        import transformers

        record["transformers"] = transformers.__version__
    except Exception as e:  # the dry run needs none
        record["transformers"] = f"not importable: {e}"
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    record["device"] = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    log(f"lil {lil.__version__} ({lil.__file__}), torch {torch.__version__}, transformers {record['transformers']}, "
        f"device {record['device']}")

    cfg, w = llama2c_format.read_checkpoint(os.path.join(REPO, "src", "decoder", "models", "reasoner.bin"))
    pieces, scores = llama2c_format.read_tokenizer(os.path.join(REPO, "src", "decoder", "models", "reasoner_tok.bin"))
    text_of = lambda t: pieces[t] if t > 2 else b""  # noqa: E731  (specials add no text)
    sd = hf_state_dict(cfg, w)
    rule = {"check_every": args.f, "min_gain": args.t}
    record.update(model={k: cfg[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                              "vocab_size", "seq_len")},
                  rule=rule, settings=[])

    fixture = json.load(open(os.path.join(REPO, "tests", "data", "tiny_llama_logits_reasoner.json")))
    tokens = fixture["tokens"]
    with torch.no_grad():
        ref = reference.forward(cfg, w, tokens)
        mine = half_rope_forward(cfg, sd, tokens)
    record["check_reordered_weights_vs_reference"] = float((mine - ref).abs().max())
    log(f"reordered weights (rotate_half forward) vs reference.py: max |logit diff| "
        f"{record['check_reordered_weights_vs_reference']:.2e}")

    problems = load_problems(args.problems)
    prompts = [llama2c_format.encode(pieces, scores, p) for p, _ in problems]
    answers = [a for _, a in problems]
    cyclic = [llama2c_format.encode(pieces, scores, p) for p in CYCLIC_PROMPTS]

    if args.dry_run:
        gen = lambda ps, n, c: dry_generate(cfg, sd, ps, n, c)  # noqa: E731
        for name, ps, ans in [("dense", prompts, answers), ("cyclic", cyclic, None)]:
            summary, _, _ = run_setting(name, gen, ps, ans, args.max_new, rule, text_of, log)
            record["settings"].append(summary)
    else:
        model, _ = build_hf_model(cfg, sd, device)
        with torch.no_grad():
            hf = model(torch.tensor([tokens], device=device)).logits[0].double().cpu()
        record["check_hf_vs_reference"] = float((hf - ref).abs().max())
        positions = fixture["positions"]
        stored = torch.tensor(fixture["logits"], dtype=torch.float64)
        record["check_hf_vs_fixture"] = float((hf[positions] - stored).abs().max())
        log(f"HF LlamaForCausalLM vs reference.py: max |logit diff| {record['check_hf_vs_reference']:.2e}; "
            f"vs the stored fixture: {record['check_hf_vs_fixture']:.2e}")
        if record["check_hf_vs_reference"] > 1e-3:
            record["errors"].append("the converted model does not match the reference; stopping")
            raise SystemExit(write(args.out, record, lines, [], 1))

        gen = lambda ps, n, c: hf_generate(model, ps, n, c, device)  # noqa: E731
        samples = []
        for name, ps, ans in [("dense", prompts, answers), ("cyclic", cyclic, None)]:
            if time.time() - started > args.time_limit:
                record["errors"].append(f"{name}: skipped, time limit")
                continue
            try:
                summary, plain, guarded = run_setting(name, gen, ps, ans, args.max_new, rule, text_of, log)
                record["settings"].append(summary)
                samples.append((name, plain, guarded, summary))
            except Exception:
                record["errors"].append(f"{name}: " + traceback.format_exc())
                log(record["errors"][-1])

        # The sparse setting, through lil's cache. First the same cache with the
        # Full policy must give the model's own tokens.
        try:
            if time.time() - started > args.time_limit:
                raise RuntimeError("skipped, time limit")
            dense_tokens, _ = hf_generate(model, prompts, args.max_new, None, device)
            full_tokens, _ = hf_generate(model, prompts, args.max_new, None, device, policy="full")
            same = sum(generated(a) == generated(b) for a, b in zip(dense_tokens, full_tokens))
            record["check_lil_cache_full_vs_model_cache"] = {"identical_sequences": same, "of": len(prompts)}
            log(f"lil's cache with the Full policy vs the model's own cache: {same}/{len(prompts)} sequences identical")
            if same != len(prompts):
                raise RuntimeError("lil's cache with no sparsity does not reproduce the model")
            spec = f"sink:{args.sinks + args.window},sinks={args.sinks}"
            gen_sink = lambda ps, n, c: hf_generate(model, ps, n, c, device, policy=spec)  # noqa: E731
            summary, plain, guarded = run_setting(f"sink:{args.sinks + args.window}", gen_sink, prompts, answers,
                                                  args.max_new, rule, text_of, log)
            summary["sparse"] = {"sinks": args.sinks, "window": args.window, "policy": spec,
                                 "applied_via": "lil_torch.hf.LilCache (lil's sink policy on lil's CUDA kernels)"}
            record["settings"].append(summary)
            samples.append((summary["setting"], plain, guarded, summary))
        except Exception:
            record["errors"].append("sink: " + traceback.format_exc())
            log(record["errors"][-1])
        record["wall_seconds"] = round(time.time() - started, 1)
        write(args.out, record, lines, samples, 0, pieces=pieces, prompts={"dense": prompts, "cyclic": cyclic})
        return
    record["wall_seconds"] = round(time.time() - started, 1)
    write(args.out, record, lines, [], 0)


def write(out, record, lines, samples, status, pieces=None, prompts=None):
    with open(os.path.join(out, "gpu_run.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "gpu_run_log.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if samples:
        text = lambda ids: b"".join(pieces[t] if t > 2 else (b"<eos>" if t == EOS else b"") for t in ids).decode()  # noqa: E731
        with open(os.path.join(out, "gpu_samples.txt"), "w") as f:
            for name, plain, guarded, summary in samples:
                source = prompts["cyclic"] if name == "cyclic" else prompts["dense"]
                shown = [i for i, p in enumerate(summary["per_sequence"]) if p["stopped_at"] is not None][:2] or [0]
                for i in shown:
                    p = summary["per_sequence"][i]
                    f.write(f"=== {name}, sequence {i}: {p['tokens_without']} tokens without the criterion, "
                            f"{p['tokens_with']} with (stopped at {p['stopped_at']})\n")
                    f.write("--- prompt\n" + text(source[i][1:]) + "\n")
                    f.write("--- without\n" + text(generated(plain[i])) + "\n")
                    f.write("--- with\n" + text(generated(guarded[i])) + "\n\n")
    return status


if __name__ == "__main__":
    main()
