// One trace through the rule, two ways: incrementally with a guardian (what
// an engine runs), or recompressing the text of the first n tokens from
// scratch at every check (the paper's method: baseline and cross-check).
#pragma once

#include <cstdint>
#include <vector>

#include "guard_tokens.hpp"
#include "lil/guardian/guardian.hpp"

namespace lil::cli {

enum class guard_mode { incremental, recompress };

struct trace_result {
  std::size_t tokens = 0;
  std::uint64_t stop = 0;                 // n of the first stop; 0: none
  std::vector<check_point> checks;        // every check, also after the stop
};

trace_result analyse(const token_stream& tokens, const tokenizer& tok, const guardian_options& opts, guard_mode mode);

}  // namespace lil::cli
