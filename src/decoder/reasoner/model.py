"""A Llama-family transformer in PyTorch with exactly llama2.c's (and so
tiny_llama's) architecture: RMSNorm (eps 1e-5), RoPE on pairs (2i, 2i+1) with
theta 10000, grouped-query attention, SwiGLU, no biases, tied classifier.
`export` writes it as a llama2.c legacy checkpoint for the C++ decoder.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
for p in (HERE, os.path.dirname(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)
import llama2c_format  # noqa: E402

CONFIGS = {
    # For the CPU smoke test of the whole recipe.
    "tiny": dict(dim=32, hidden_dim=64, n_layers=2, n_heads=4, n_kv_heads=2, seq_len=1024),
    # The committed reasoner candidates.
    "A": dict(dim=128, hidden_dim=384, n_layers=6, n_heads=8, n_kv_heads=4, seq_len=1024),
    "B": dict(dim=192, hidden_dim=448, n_layers=6, n_heads=6, n_kv_heads=2, seq_len=1024),
}


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(head, seq_len):
    freqs = 1.0 / (10000.0 ** (torch.arange(0, head, 2, dtype=torch.float64) / head))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), freqs)
    return torch.cos(angles).float(), torch.sin(angles).float()


def rotate(x, cos, sin):
    """x [B, T, H, head]; cos/sin [B, T, head/2]: pairs (2i, 2i+1) rotate."""
    xf = x.float().unflatten(-1, (-1, 2))
    a, b = xf[..., 0], xf[..., 1]
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2).type_as(x)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
        self.H, self.KV, self.head = H, KV, d // H
        self.attention_norm = RMSNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, KV * self.head, bias=False)
        self.wv = nn.Linear(d, KV * self.head, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.w1 = nn.Linear(d, cfg["hidden_dim"], bias=False)
        self.w2 = nn.Linear(cfg["hidden_dim"], d, bias=False)
        self.w3 = nn.Linear(d, cfg["hidden_dim"], bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.attention_norm(x)
        q = rotate(self.wq(h).view(B, T, self.H, self.head), cos, sin)
        k = rotate(self.wk(h).view(B, T, self.KV, self.head), cos, sin)
        v = self.wv(h).view(B, T, self.KV, self.head)
        group = self.H // self.KV
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, heads, T, head]
        k = k.repeat_interleave(group, dim=1)  # query head i reads KV head i // group
        v = v.repeat_interleave(group, dim=1)
        if hasattr(F, "scaled_dot_product_attention"):
            if mask is None:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        else:  # PyTorch 1.x
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head)
            allowed = mask[:, None] if mask is not None else torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            o = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
        x = x + self.wo(o.transpose(1, 2).reshape(B, T, -1))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Transformer(nn.Module):
    def __init__(self, cfg, vocab_size):
        super().__init__()
        self.cfg = dict(cfg, vocab_size=vocab_size)
        self.tok_embeddings = nn.Embedding(vocab_size, cfg["dim"])
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layers"]))
        self.norm = RMSNorm(cfg["dim"])
        self.output = nn.Linear(cfg["dim"], vocab_size, bias=False)
        self.output.weight = self.tok_embeddings.weight  # tied, as llama2.c's shared classifier
        cos, sin = rope_tables(cfg["dim"] // cfg["n_heads"], cfg["seq_len"])
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["n_layers"]) if name.endswith(("wo.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, tokens, positions=None, mask=None):
        """tokens [B, T]; positions [B, T] (default 0..T-1); mask [B, T, T]
        boolean, True where a query may attend a key (default causal)."""
        B, T = tokens.shape
        if positions is None:
            positions = torch.arange(T, device=tokens.device).expand(B, T)
        cos, sin = self.rope_cos[positions], self.rope_sin[positions]
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.output(self.norm(x))

    def export(self, path):
        L = self.layers
        stack = lambda f: torch.stack([f(l) for l in L]).detach().float().cpu().numpy()  # noqa: E731
        tensors = {
            "tok_embeddings": self.tok_embeddings.weight.detach().float().cpu().numpy(),
            "attention_norm": stack(lambda l: l.attention_norm.weight),
            "wq": stack(lambda l: l.wq.weight),
            "wk": stack(lambda l: l.wk.weight),
            "wv": stack(lambda l: l.wv.weight),
            "wo": stack(lambda l: l.wo.weight),
            "ffn_norm": stack(lambda l: l.ffn_norm.weight),
            "w1": stack(lambda l: l.w1.weight),
            "w2": stack(lambda l: l.w2.weight),
            "w3": stack(lambda l: l.w3.weight),
            "norm": self.norm.weight.detach().float().cpu().numpy(),
        }
        llama2c_format.write_checkpoint(path, dict(self.cfg, shared=True), tensors)


@torch.no_grad()
def greedy_decode(model, prompts, max_new_tokens, stop_ids=(1, 2)):
    """Batched greedy decoding without a cache: prompts are left-padded, each
    sequence's positions start at 0 at its first real token, and pad keys are
    masked (a pad query sees itself only, so no row is empty). Returns the
    generated ids per prompt, without the stop token."""
    device = next(model.parameters()).device
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    P = int(lengths.max())
    seq = torch.zeros(len(prompts), P, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        seq[i, P - len(p):] = torch.tensor(p, device=device)
    pad = P - lengths
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    out = [[] for _ in prompts]
    for _ in range(max_new_tokens):
        T = seq.shape[1]
        raw = torch.arange(T, device=device)[None, :] - pad[:, None]
        real = raw >= 0
        idx = torch.arange(T, device=device)
        causal = idx[None, :, None] >= idx[None, None, :]
        mask = causal & (real[:, None, :] | (idx[None, :, None] == idx[None, None, :]))
        logits = model(seq, raw.clamp(min=0), mask)[:, -1].float()
        nxt = logits.argmax(-1)
        stop = torch.zeros_like(done)
        for s in stop_ids:
            stop |= nxt == s
        for i in torch.nonzero(~done & ~stop).flatten().tolist():
            out[i].append(int(nxt[i]))
        done |= stop
        if bool(done.all()):
            break
        seq = torch.cat([seq, torch.where(done, torch.zeros_like(nxt), nxt)[:, None]], dim=1)
    return out
