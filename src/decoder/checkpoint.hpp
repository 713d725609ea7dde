// tiny_llama/checkpoint.hpp - a llama2.c "legacy" checkpoint, read and checked.
//
// What it holds: a header of seven int32 (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size, seq_len) followed by fp32 tensors in llama2.c's
// order: token embedding [vocab][dim]; per layer, grouped by kind, the
// attention RMSNorm gains, wq, wk, wv, wo, the FFN RMSNorm gains, w1, w2, w3;
// the final RMSNorm gain; two RoPE tables of seq_len*head_size/2 floats each
// (written by old exporters, recomputed here, so only skipped); and, when
// vocab_size is negative, an unshared classifier [vocab][dim]. A matrix is
// stored as PyTorch keeps nn.Linear weights: [out][in], row-major, so a
// matrix-vector product walks each row contiguously.
//
// Why this way: the format is the lingua franca of tiny Llamas (llama2.c's
// stories models, our self-trained reasoner), needs no parser, and its size
// is fully determined by the header, so a truncated or padded file is caught
// before a single weight is used. Every failure names the file and the field.
//
// Costs: the whole file is read into one float buffer (a few MB here); the
// tensors are views into it, so loading is one read and no copies.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "lil/config.hpp"

namespace tiny_llama {

struct config {
  int dim = 0;         // width of the residual stream
  int hidden_dim = 0;  // width of the SwiGLU feed-forward layer
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (grouped-query attention when fewer)
  int vocab_size = 0;  // always positive here; see shared_classifier
  int seq_len = 0;     // longest sequence the model (and its KV cache) takes
  bool shared_classifier = true;  // logits use the token embedding matrix

  int head_size() const { return dim / n_heads; }
  int kv_dim() const { return n_kv_heads * head_size(); }
  int kv_group() const { return n_heads / n_kv_heads; }  // query heads per KV head
};

// Views into the checkpoint's float buffer, per layer already offset.
struct layer_weights {
  const float* rms_attention;  // [dim]
  const float* wq;             // [dim][dim]
  const float* wk;             // [kv_dim][dim]
  const float* wv;             // [kv_dim][dim]
  const float* wo;             // [dim][dim]
  const float* rms_ffn;        // [dim]
  const float* w1;             // [hidden][dim]  gate
  const float* w2;             // [dim][hidden]  down
  const float* w3;             // [hidden][dim]  up
};

class checkpoint {
 public:
  // Reads and checks `path`; throws lil::error naming the file and field.
  static checkpoint from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) lil::detail::throw_error("checkpoint '" + path + "': cannot open file");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) lil::detail::throw_error("checkpoint '" + path + "': read error");
    return from_bytes(bytes.data(), bytes.size(), path);
  }

  // Same checks on a buffer (an embedded model); `name` appears in errors.
  static checkpoint from_bytes(const void* data, std::size_t size, const std::string& name) {
    checkpoint c;
    c.parse(static_cast<const unsigned char*>(data), size, name);
    return c;
  }

  const config& cfg() const { return cfg_; }
  const std::string& name() const { return name_; }
  const float* token_embedding() const { return embedding_; }  // [vocab][dim]
  const float* rms_final() const { return rms_final_; }        // [dim]
  const float* classifier() const { return classifier_; }      // [vocab][dim]
  const layer_weights& layer(int l) const { return layers_[static_cast<std::size_t>(l)]; }
  std::size_t parameter_count() const { return parameters_; }

  // A checkpoint is moved, never copied: the views point into its buffer.
  checkpoint(checkpoint&&) = default;
  checkpoint& operator=(checkpoint&&) = default;
  checkpoint(const checkpoint&) = delete;
  checkpoint& operator=(const checkpoint&) = delete;

 private:
  checkpoint() = default;

  [[noreturn]] static void fail(const std::string& name, const std::string& what) {
    lil::detail::throw_error("checkpoint '" + name + "': " + what);
  }

  static void require_positive(const std::string& name, const char* field, long long value) {
    if (value <= 0) fail(name, std::string("header field ") + field + " = " + std::to_string(value) + " must be positive");
  }

  void parse(const unsigned char* data, std::size_t size, const std::string& name) {
    name_ = name;
    constexpr std::size_t header_bytes = 7 * sizeof(std::int32_t);
    if (size < header_bytes)
      fail(name, "truncated header: " + std::to_string(size) + " bytes, the header alone needs " +
                     std::to_string(header_bytes));
    std::int32_t h[7];
    std::memcpy(h, data, header_bytes);
    static const char* const fields[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; ++i)
      if (i != 5) require_positive(name, fields[i], h[i]);
    if (h[5] == 0) fail(name, "header field vocab_size = 0 must be non-zero");
    cfg_.dim = h[0];
    cfg_.hidden_dim = h[1];
    cfg_.n_layers = h[2];
    cfg_.n_heads = h[3];
    cfg_.n_kv_heads = h[4];
    cfg_.shared_classifier = h[5] > 0;
    const long long vocab_magnitude = h[5] > 0 ? h[5] : -static_cast<long long>(h[5]);
    cfg_.vocab_size = vocab_magnitude > 0x7fffffff ? 0 : static_cast<int>(vocab_magnitude);
    cfg_.seq_len = h[6];
    if (cfg_.vocab_size <= 0) fail(name, "header field vocab_size = " + std::to_string(h[5]) + " is out of range");
    if (cfg_.dim % cfg_.n_heads != 0)
      fail(name, "header field n_heads = " + std::to_string(cfg_.n_heads) + " does not divide dim = " + std::to_string(cfg_.dim));
    if (cfg_.head_size() % 2 != 0)
      fail(name, "head size dim/n_heads = " + std::to_string(cfg_.head_size()) + " must be even for RoPE");
    if (cfg_.n_kv_heads > cfg_.n_heads || cfg_.n_heads % cfg_.n_kv_heads != 0)
      fail(name, "header field n_kv_heads = " + std::to_string(cfg_.n_kv_heads) + " must divide n_heads = " +
                     std::to_string(cfg_.n_heads));

    // Sizes in 64 bits: a hostile header cannot overflow the expected size.
    const std::uint64_t dim = static_cast<std::uint64_t>(cfg_.dim), hidden = static_cast<std::uint64_t>(cfg_.hidden_dim),
                        layers = static_cast<std::uint64_t>(cfg_.n_layers), vocab = static_cast<std::uint64_t>(cfg_.vocab_size),
                        kv = static_cast<std::uint64_t>(cfg_.kv_dim()), seq = static_cast<std::uint64_t>(cfg_.seq_len),
                        half_head = static_cast<std::uint64_t>(cfg_.head_size() / 2);
    struct tensor {
      const char* field;
      std::uint64_t floats;
    };
    const tensor order[] = {
        {"token_embedding", vocab * dim},      {"rms_att_weight", layers * dim},       {"wq", layers * dim * dim},
        {"wk", layers * kv * dim},             {"wv", layers * kv * dim},              {"wo", layers * dim * dim},
        {"rms_ffn_weight", layers * dim},      {"w1", layers * hidden * dim},          {"w2", layers * dim * hidden},
        {"w3", layers * hidden * dim},         {"rms_final_weight", dim},              {"freq_cis_real", seq * half_head},
        {"freq_cis_imag", seq * half_head},    {"wcls", cfg_.shared_classifier ? 0 : vocab * dim},
    };
    const std::uint64_t available = (size - header_bytes) / sizeof(float);
    std::uint64_t offsets[14];
    std::uint64_t at = 0;
    for (int i = 0; i < 14; ++i) {
      offsets[i] = at;
      if (at + order[i].floats > available)
        fail(name, std::string("truncated in tensor ") + order[i].field + ": the header needs " +
                       std::to_string(header_bytes + (at + order[i].floats) * sizeof(float)) + " bytes, the file has " +
                       std::to_string(size));
      at += order[i].floats;
    }
    const std::uint64_t expected = header_bytes + at * sizeof(float);
    if (size != expected)
      fail(name, std::to_string(size - expected) + " bytes after the last tensor (expected exactly " +
                     std::to_string(expected) + " bytes for this header): wrong header or not a legacy checkpoint");

    buffer_.resize(static_cast<std::size_t>(at));
    std::memcpy(buffer_.data(), data + header_bytes, static_cast<std::size_t>(at) * sizeof(float));
    parameters_ = static_cast<std::size_t>(at - 2 * seq * half_head);

    const float* base = buffer_.data();
    auto view = [&](int i) { return base + offsets[i]; };
    embedding_ = view(0);
    layers_.resize(static_cast<std::size_t>(cfg_.n_layers));
    for (std::uint64_t l = 0; l < layers; ++l) {
      layer_weights& w = layers_[static_cast<std::size_t>(l)];
      w.rms_attention = view(1) + l * dim;
      w.wq = view(2) + l * dim * dim;
      w.wk = view(3) + l * kv * dim;
      w.wv = view(4) + l * kv * dim;
      w.wo = view(5) + l * dim * dim;
      w.rms_ffn = view(6) + l * dim;
      w.w1 = view(7) + l * hidden * dim;
      w.w2 = view(8) + l * dim * hidden;
      w.w3 = view(9) + l * hidden * dim;
    }
    rms_final_ = view(10);
    classifier_ = cfg_.shared_classifier ? embedding_ : view(13);
  }

  config cfg_;
  std::string name_;
  std::vector<float> buffer_;
  std::vector<layer_weights> layers_;
  const float* embedding_ = nullptr;
  const float* rms_final_ = nullptr;
  const float* classifier_ = nullptr;
  std::size_t parameters_ = 0;
};

}  // namespace tiny_llama
