#!/usr/bin/env python3
"""Trains the reasoner (task.py) and exports it as a llama2.c checkpoint.

  python3 train.py --config A --steps 6000 --out DIR            # GPU (cuda) if present
  python3 train.py --config tiny --steps 60 --batch 16 --out DIR  # CPU smoke test

--steps auto picks the step count that fills --train-seconds from the step
time measured over steps 20-120 (and records it: rerun with that number to
reproduce); --steps-from FILE waits for another run's choice instead, so two
runs of one recipe train the same number of steps.

Writes DIR/reasoner.bin, DIR/reasoner_tok.bin and DIR/train_log.txt (the
command, configuration, versions, loss every 100 steps, greedy accuracy on
evaluation problems from task.EVAL_SEED at checkpoints and at the end).

Determinism: the data of batch i depends only on (--seed, i), whatever the
number of loader workers; the model's initialisation on --seed. On a GPU,
some kernels (attention and embedding backward) accumulate in a
nondeterministic order, so reruns agree closely but not bit for bit; on a CPU
a rerun is identical.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import task  # noqa: E402
from model import CONFIGS, Transformer, greedy_decode  # noqa: E402
import llama2c_format  # noqa: E402


class Batches(torch.utils.data.IterableDataset):
    """Batch i is made from random.Random(seed * 1000003 + i); worker w of W
    makes batches w, w+W, ... and the loader yields them in order."""

    def __init__(self, seed, batch, seq_len, mistake_rate):
        self.seed, self.batch, self.seq_len, self.mistake_rate = seed, batch, seq_len, mistake_rate

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        w, W = (info.id, info.num_workers) if info else (0, 1)
        i = w
        while True:
            yield make_batch(random.Random(self.seed * 1000003 + i), self.batch, self.seq_len, self.mistake_rate)
            i += W


def make_batch(rng, batch, seq_len, mistake_rate):
    examples = [task.make_example(rng, mistake_rate) for _ in range(batch)]
    T = min(seq_len, max(len(t) for t, _ in examples))
    tokens = torch.zeros(batch, T, dtype=torch.long)
    weights = torch.zeros(batch, T)
    for i, (t, m) in enumerate(examples):
        t, m = t[:T], m[:T]
        tokens[i, :len(t)] = torch.tensor(t)
        weights[i, :len(m)] = torch.tensor(m, dtype=torch.float)
    return tokens, weights


def learning_rate(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def evaluate(model, problems, max_new_tokens, batch=100):
    """Greedy accuracy, mean generated tokens, share of traces with a redo."""
    model.eval()
    pieces = task.PIECES
    correct, lengths, redos = 0, [], 0
    for at in range(0, len(problems), batch):
        chunk = problems[at:at + batch]
        prompts = [[task.BOS] + task.encode_chars(" " + p) for p, _, _ in chunk]
        outs = greedy_decode(model, prompts, max_new_tokens)
        for (prompt, answer, _), out in zip(chunk, outs):
            text = b"".join(pieces[t] for t in out).decode()
            at_ans = text.rfind("ans=")
            given = text[at_ans + 4:].split("\n")[0] if at_ans >= 0 else ""
            correct += given == answer
            lengths.append(len(out))
            redos += "redo" in text
    model.train()
    n = len(problems)
    return correct / n, sum(lengths) / n, redos / n


def write_tokenizer(path):
    """The character vocabulary as a llama2.c tokenizer.bin (no merges: all scores 0)."""
    llama2c_format.write_tokenizer(path, task.PIECES, [0.0] * len(task.PIECES))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="A", choices=sorted(CONFIGS))
    ap.add_argument("--steps", default="auto", help="number of steps, or 'auto' (fill --train-seconds)")
    ap.add_argument("--steps-from", default="", help="wait for this file (another run's chosen steps)")
    ap.add_argument("--steps-to", default="", help="where 'auto' writes its choice (default OUT/steps.txt)")
    ap.add_argument("--skip-tokenizer", action="store_true", help="do not write reasoner_tok.bin")
    ap.add_argument("--train-seconds", type=float, default=420.0)
    ap.add_argument("--time-limit", type=float, default=0.0, help="hard stop (seconds, 0 = none); the log says if hit")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--mistake-rate", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--eval-problems", type=int, default=100)
    ap.add_argument("--final-eval-problems", type=int, default=200)
    ap.add_argument("--eval-max-new", type=int, default=700)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    start = time.time()
    os.makedirs(args.out, exist_ok=True)
    log_file = open(os.path.join(args.out, "train_log.txt"), "w")

    def log(line):
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    cfg = CONFIGS[args.config]
    model = Transformer(cfg, task.VOCAB_SIZE).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log("command: python3 train.py " + " ".join(sys.argv[1:]))
    log("config %s: %s vocab %d parameters %d" % (args.config, json.dumps(cfg), task.VOCAB_SIZE, n_params))
    log("python %s torch %s device %s%s" % (platform.python_version(), torch.__version__, device,
                                            " (%s)" % torch.cuda.get_device_name(0) if device.type == "cuda" else ""))
    log("data: seed %d, batch %d, mistake_rate %.2f; eval problems from seed %d" %
        (args.seed, args.batch, args.mistake_rate, task.EVAL_SEED))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    loader = torch.utils.data.DataLoader(Batches(args.seed, args.batch, cfg["seq_len"], args.mistake_rate),
                                         batch_size=None, num_workers=args.workers,
                                         pin_memory=device.type == "cuda",
                                         prefetch_factor=4 if args.workers > 0 else None) \
        if args.workers > 0 else torch.utils.data.DataLoader(
            Batches(args.seed, args.batch, cfg["seq_len"], args.mistake_rate), batch_size=None)
    use_bf16 = device.type == "cuda"
    problems = task.eval_problems(max(args.eval_problems, args.final_eval_problems))

    steps = None if args.steps == "auto" else int(args.steps)
    chosen_by = "given"
    calib_from, calib_to = 20, 120
    t_calib = None
    step = 0
    loss_sum, loss_n, tokens_seen = 0.0, 0, 0
    stopped_early = False
    train_start = time.time()
    for tokens, weights in loader:
        if steps is not None and step >= steps:
            break
        if args.time_limit and time.time() - start > args.time_limit:
            stopped_early = True
            log("time limit %.0f s reached at step %d: stopping early" % (args.time_limit, step))
            break
        if steps is None or args.steps_from:
            if step == calib_from:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t_calib = time.time()
            if step == calib_to and steps is None:
                if args.steps_from:
                    while not os.path.exists(args.steps_from):
                        time.sleep(0.05)
                    time.sleep(0.1)
                    steps = int(open(args.steps_from).read().split()[0])
                    chosen_by = "read from " + args.steps_from
                else:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    per_step = (time.time() - t_calib) / (calib_to - calib_from)
                    left = args.train_seconds - (time.time() - train_start)
                    steps = max(calib_to + 100, int(calib_to + 0.92 * left / per_step) // 100 * 100)
                    chosen_by = "auto: %.1f ms/step over steps %d-%d, %.0f s to fill" % (
                        1000 * per_step, calib_from, calib_to, args.train_seconds)
                    steps_to = args.steps_to or os.path.join(args.out, "steps.txt")
                    with open(steps_to + ".tmp", "w") as f:
                        f.write("%d\n" % steps)
                    os.replace(steps_to + ".tmp", steps_to)
                log("steps: %d (%s)" % (steps, chosen_by))
        schedule_steps = steps if steps is not None else 10 ** 9
        lr = learning_rate(step, schedule_steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        tokens = tokens.to(device, non_blocking=True)
        weights = weights.to(device, non_blocking=True)
        if use_bf16:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                logits = model(tokens[:, :-1])
        else:
            logits = model(tokens[:, :-1])
        target_w = weights[:, 1:]
        loss_all = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1),
                                   reduction="none")
        loss = (loss_all * target_w.reshape(-1)).sum() / target_w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_sum += float(loss.detach()) if step % 10 == 0 else 0.0
        loss_n += 1 if step % 10 == 0 else 0
        tokens_seen += int(tokens.numel())
        if step % 100 == 0:
            log("step %d loss %.4f lr %.2e tokens %d elapsed %.0fs" %
                (step, loss_sum / max(1, loss_n), lr, tokens_seen, time.time() - start))
            loss_sum, loss_n = 0.0, 0
        if args.eval_every and step % args.eval_every == 0 and (steps is None or step < steps):
            try:
                acc, mean_len, redo = evaluate(model, problems[:args.eval_problems], args.eval_max_new)
                log("eval step %d: greedy accuracy %.3f on %d problems, mean generated tokens %.1f, "
                    "traces with redo %.3f" % (step, acc, args.eval_problems, mean_len, redo))
            except Exception as e:  # an evaluation must never cost the training run
                model.train()
                log("eval step %d failed: %r" % (step, e))

    train_seconds = time.time() - train_start
    model.eval()
    model.float()
    model.export(os.path.join(args.out, "reasoner.bin"))
    if not args.skip_tokenizer:
        write_tokenizer(os.path.join(args.out, "reasoner_tok.bin"))
    log("final: steps %d%s, training %.0f s, examples %d, tokens %d (padded)" %
        (step, " (stopped early by the time limit)" if stopped_early else "", train_seconds, step * args.batch, tokens_seen))
    try:
        acc, mean_len, redo = evaluate(model, problems[:args.final_eval_problems], args.eval_max_new)
        log("final: greedy accuracy %.3f on %d evaluation problems (PyTorch, fp32), mean generated tokens %.1f, "
            "traces with redo %.3f" % (acc, args.final_eval_problems, mean_len, redo))
    except Exception as e:
        log("final evaluation failed: %r" % (e,))
    log("total wall time %.0f s" % (time.time() - start))


if __name__ == "__main__":
    main()
