// Helpers shared by the tiny_llama tests: paths of committed data and a
// synthetic llama2.c checkpoint writer for the error tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "checkpoint.hpp"
#include "eval.hpp"
#include "tokenizer.hpp"

namespace tiny_llama_test {

inline std::string models_dir() { return TINY_LLAMA_MODELS_DIR; }
inline std::string data_dir() { return TINY_LLAMA_DATA_DIR; }
inline std::string reasoner_model() { return models_dir() + "/reasoner.bin"; }
inline std::string reasoner_tokenizer() { return models_dir() + "/reasoner_tok.bin"; }
inline std::string reasoner_problems() { return models_dir() + "/reasoner_eval.tsv"; }

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

struct header {
  std::int32_t dim = 8, hidden_dim = 16, n_layers = 2, n_heads = 2, n_kv_heads = 1, vocab_size = 5, seq_len = 4;
};

// Floats a well-formed checkpoint with this header holds after the header.
inline std::size_t float_count(const header& h) {
  const std::size_t d = static_cast<std::size_t>(h.dim), f = static_cast<std::size_t>(h.hidden_dim),
                    l = static_cast<std::size_t>(h.n_layers), v = static_cast<std::size_t>(h.vocab_size < 0 ? -h.vocab_size : h.vocab_size),
                    kv = static_cast<std::size_t>(h.n_kv_heads * (h.dim / h.n_heads)),
                    half = static_cast<std::size_t>(h.dim / h.n_heads / 2), s = static_cast<std::size_t>(h.seq_len);
  std::size_t n = v * d + l * (2 * d + 2 * d * d + 2 * kv * d + 3 * d * f) + d + 2 * s * half;
  if (h.vocab_size < 0) n += v * d;
  return n;
}

// Header plus `floats` values i * 0.001 (the count may be wrong on purpose).
inline std::vector<char> checkpoint_bytes(const header& h, std::size_t floats) {
  std::vector<char> bytes(28 + floats * 4);
  const std::int32_t fields[7] = {h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len};
  std::memcpy(bytes.data(), fields, 28);
  for (std::size_t i = 0; i < floats; ++i) {
    const float value = static_cast<float>(i) * 0.001f;
    std::memcpy(bytes.data() + 28 + 4 * i, &value, 4);
  }
  return bytes;
}

inline std::string write_temp(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = std::string(::testing::TempDir()) + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// A tokenizer.bin from pieces and scores.
inline std::vector<char> tokenizer_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  std::vector<char> bytes;
  auto put = [&bytes](const void* p, std::size_t n) {
    bytes.insert(bytes.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  };
  std::int32_t max_length = 0;
  for (const auto& p : pieces) max_length = std::max<std::int32_t>(max_length, static_cast<std::int32_t>(p.size()));
  put(&max_length, 4);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::int32_t length = static_cast<std::int32_t>(pieces[i].size());
    put(&scores[i], 4);
    put(&length, 4);
    put(pieces[i].data(), pieces[i].size());
  }
  return bytes;
}

// The committed reasoner, its tokenizer and problems, loaded once per test binary.
struct models_t {
  tiny_llama::checkpoint model = tiny_llama::checkpoint::from_file(reasoner_model());
  tiny_llama::tokenizer tok = tiny_llama::tokenizer::from_file(reasoner_tokenizer());
  std::vector<tiny_llama::problem> problems = tiny_llama::load_problems(reasoner_problems());
};
inline const models_t& models() {
  static const models_t m;
  return m;
}

}  // namespace tiny_llama_test
