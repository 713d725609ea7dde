#!/usr/bin/python3
"""PyTorch reference of tiny_llama's forward pass (model.hpp), for the logits
fixture of the C++ test (tests/tiny_llama_model_test.cpp).

It reads the same llama2.c checkpoint and tokenizer and runs the whole prompt
at once in float64 with a causal mask: a different formulation (no KV cache,
matrix products, float64) of the same mathematics, so agreement within 1e-4
checks the C++ decoder's incremental fp32 path, its RoPE pairing, GQA mapping
and weight layout. It writes the logits of the first and the last prompt
position as JSON.

  /usr/bin/python3 src/decoder/reference.py MODEL.bin TOK.bin "prompt" OUT.json [--name NAME]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama2c_format  # noqa: E402


def rms_norm(x, gain, eps=1e-5):
    return gain * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate(x, positions):
    """x: [T, heads, head]; rotates pairs (2i, 2i+1) by position / 10000^(2i/head)."""
    head = x.shape[-1]
    freqs = 1.0 / (10000.0 ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    angles = torch.outer(positions.to(torch.float64), freqs)  # [T, head/2]
    cos, sin = torch.cos(angles)[:, None, :], torch.sin(angles)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def forward(cfg, w, tokens):
    t = lambda name: torch.from_numpy(w[name].astype("float64"))  # noqa: E731
    T = len(tokens)
    d, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    head = d // H
    pos = torch.arange(T)
    x = t("tok_embeddings")[torch.tensor(tokens)]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["n_layers"]):
        h = rms_norm(x, t("attention_norm")[l])
        q = (h @ t("wq")[l].T).view(T, H, head)
        k = (h @ t("wk")[l].T).view(T, KV, head)
        v = (h @ t("wv")[l].T).view(T, KV, head)
        q, k = rotate(q, pos), rotate(k, pos)
        k = k.repeat_interleave(H // KV, dim=1)  # query head i reads KV head i // group
        v = v.repeat_interleave(H // KV, dim=1)
        scores = torch.einsum("thd,shd->hts", q, k) / head ** 0.5 + mask
        o = torch.einsum("hts,shd->thd", torch.softmax(scores, dim=-1), v).reshape(T, d)
        x = x + o @ t("wo")[l].T
        h = rms_norm(x, t("ffn_norm")[l])
        gate = h @ t("w1")[l].T
        x = x + (torch.nn.functional.silu(gate) * (h @ t("w3")[l].T)) @ t("w2")[l].T
    x = rms_norm(x, t("norm"))
    return x @ t("output").T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("prompt")
    ap.add_argument("out")
    ap.add_argument("--name", default="")
    args = ap.parse_args()
    cfg, w = llama2c_format.read_checkpoint(args.model)
    pieces, scores = llama2c_format.read_tokenizer(args.tokenizer)
    tokens = llama2c_format.encode(pieces, scores, args.prompt.replace("\\n", "\n"))
    with torch.no_grad():
        logits = forward(cfg, w, tokens)
    positions = [0, len(tokens) - 1]
    fixture = {
        "model": args.name or os.path.basename(args.model),
        "prompt": args.prompt.replace("\\n", "\n"),
        "tokens": tokens,
        "positions": positions,
        "logits": [[round(float(v), 6) for v in logits[p]] for p in positions],
        "generator": "src/decoder/reference.py (PyTorch %s, float64)" % torch.__version__,
    }
    with open(args.out, "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    top = torch.topk(logits[-1], 5)
    print(f"{fixture['model']}: {len(tokens)} tokens, last position top-5 ids {top.indices.tolist()}"
          f" logits {[round(v, 4) for v in top.values.tolist()]}")


if __name__ == "__main__":
    main()
