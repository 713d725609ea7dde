// Shared by the llama.cpp tests: where the provisioned GGUFs and backends
// are (CMake passes them), one loaded model per test binary, and lil's own
// decoder over the same checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "eval.hpp"
#include "llama_run.hpp"
#include "tokenizer.hpp"

namespace llama_test {

inline std::string models_dir() { return LIL_LLAMA_CPP_MODELS_DIR; }
inline std::string backend_dir() { return LIL_LLAMA_CPP_BACKEND_DIR; }
inline std::string lil_models() { return TINY_LLAMA_MODELS_DIR; }

struct reasoner {
  llama_run::model_ptr model = llama_run::load_model(models_dir() + "/reasoner.gguf", backend_dir());
  llama_run::context_ptr ctx = llama_run::new_context(model.get(), 1024);
  std::shared_ptr<const lil::llama_cpp::token_pieces> pieces =
      std::make_shared<const lil::llama_cpp::token_pieces>(llama_model_get_vocab(model.get()));
  tiny_llama::checkpoint lil_model = tiny_llama::checkpoint::from_file(lil_models() + "/reasoner.bin");
  tiny_llama::tokenizer tok = tiny_llama::tokenizer::from_file(lil_models() + "/reasoner_tok.bin");
  std::vector<tiny_llama::problem> problems = tiny_llama::load_problems(lil_models() + "/reasoner_eval.tsv");

  std::vector<llama_token> prompt(std::size_t i) const {
    const std::vector<int> ids = tok.encode(problems[i].prompt, true, false);
    return {ids.begin(), ids.end()};
  }
};

// One per process: loading is cheap, but the backends load once anyway.
inline reasoner& shared_reasoner() {
  static reasoner r;
  return r;
}

}  // namespace llama_test
