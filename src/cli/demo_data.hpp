// The data `lil demo` runs on, embedded in the lil binary at build time: the
// self-trained reasoner's checkpoint and tokenizer and its evaluation
// problems (src/decoder/models/). So the demo runs from any directory, with no
// files around it.
#pragma once

#include <string_view>

namespace lil::cli::demo_data {

std::string_view reasoner_model();      // llama2.c legacy checkpoint
std::string_view reasoner_tokenizer();  // llama2.c tokenizer.bin
std::string_view reasoner_problems();   // TSV: prompt TAB answer

}  // namespace lil::cli::demo_data
