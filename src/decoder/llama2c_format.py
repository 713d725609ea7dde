"""llama2.c file formats in plain Python + numpy: the legacy checkpoint
(7 int32 header, fp32 tensors in llama2.c's order) and tokenizer.bin
(int32 max_token_length, then per token: float32 score, int32 length, bytes),
with llama2.c's BPE encoding. Shared by reference.py (reads) and the
reasoner's train.py (writes); checkpoint.hpp / tokenizer.hpp are the C++ side.
"""
import struct

import numpy as np

HEADER_FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")


def tensor_shapes(cfg):
    """(name, shape) in file order; cfg is a dict of HEADER_FIELDS plus 'shared'."""
    d, h, L, v = cfg["dim"], cfg["hidden_dim"], cfg["n_layers"], cfg["vocab_size"]
    head = d // cfg["n_heads"]
    kv = cfg["n_kv_heads"] * head
    shapes = [
        ("tok_embeddings", (v, d)),
        ("attention_norm", (L, d)),
        ("wq", (L, d, d)),
        ("wk", (L, kv, d)),
        ("wv", (L, kv, d)),
        ("wo", (L, d, d)),
        ("ffn_norm", (L, d)),
        ("w1", (L, h, d)),
        ("w2", (L, d, h)),
        ("w3", (L, h, d)),
        ("norm", (d,)),
        ("freq_cis_real", (cfg["seq_len"], head // 2)),
        ("freq_cis_imag", (cfg["seq_len"], head // 2)),
    ]
    if not cfg["shared"]:
        shapes.append(("output", (v, d)))
    return shapes


def read_checkpoint(path):
    raw = open(path, "rb").read()
    header = struct.unpack("<7i", raw[:28])
    cfg = dict(zip(HEADER_FIELDS, header))
    cfg["shared"] = cfg["vocab_size"] > 0
    cfg["vocab_size"] = abs(cfg["vocab_size"])
    data = np.frombuffer(raw, dtype="<f4", offset=28)
    tensors, at = {}, 0
    for name, shape in tensor_shapes(cfg):
        n = int(np.prod(shape))
        if at + n > data.size:
            raise ValueError(f"{path}: truncated in {name}")
        tensors[name] = data[at:at + n].reshape(shape)
        at += n
    if at != data.size:
        raise ValueError(f"{path}: {data.size - at} floats after the last tensor")
    if cfg["shared"]:
        tensors["output"] = tensors["tok_embeddings"]
    return cfg, tensors


def write_checkpoint(path, cfg, tensors):
    """tensors: name -> float array (layer tensors stacked on axis 0)."""
    head = cfg["dim"] // cfg["n_heads"]
    half = head // 2
    # The RoPE tables old exporters wrote; readers skip them, but the size counts.
    freqs = 1.0 / (10000.0 ** (np.arange(0, head, 2)[:half] / head))
    angles = np.outer(np.arange(cfg["seq_len"]), freqs)
    tensors = dict(tensors, freq_cis_real=np.cos(angles), freq_cis_imag=np.sin(angles))
    vocab = cfg["vocab_size"] if cfg["shared"] else -cfg["vocab_size"]
    header = [cfg[f] for f in HEADER_FIELDS[:5]] + [vocab, cfg["seq_len"]]
    with open(path, "wb") as out:
        out.write(struct.pack("<7i", *header))
        for name, shape in tensor_shapes(cfg):
            t = np.asarray(tensors[name], dtype="<f4")
            if t.shape != shape:
                raise ValueError(f"tensor {name} has shape {t.shape}, the header needs {shape}")
            out.write(t.tobytes())


def read_tokenizer(path):
    raw = open(path, "rb").read()
    (max_len,) = struct.unpack("<i", raw[:4])
    pieces, scores, at = [], [], 4
    while at < len(raw):
        score, n = struct.unpack("<fi", raw[at:at + 8])
        pieces.append(raw[at + 8:at + 8 + n])
        scores.append(score)
        at += 8 + n
    return pieces, scores


def write_tokenizer(path, pieces, scores):
    with open(path, "wb") as out:
        out.write(struct.pack("<i", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            out.write(struct.pack("<fi", s, len(p)))
            out.write(p)


def encode(pieces, scores, text, bos=True, eos=False):
    """llama2.c's encoding: BOS, dummy-prefix space, code points (byte
    fallback id = byte + 3), then merge the best-scoring pair until none."""
    ids = {}
    for i, p in enumerate(pieces):
        ids.setdefault(p, i)
    tokens = [1] if bos else []
    if text:
        tokens.append(ids[b" "])
    for ch in text:
        b = ch.encode("utf-8")
        if b in ids:
            tokens.append(ids[b])
        else:
            tokens.extend(x + 3 for x in b)
    start = 1 if bos else 0
    while True:
        best, best_at = None, None
        for i in range(start, len(tokens) - 1):
            merged = ids.get(pieces[tokens[i]] + pieces[tokens[i + 1]])
            if merged is not None and (best is None or scores[merged] > scores[best]):
                best, best_at = merged, i
        if best is None:
            break
        tokens[best_at:best_at + 2] = [best]
    if eos:
        tokens.append(2)
    return tokens
