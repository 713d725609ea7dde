// The files are pulled in by the assembler (.incbin), not converted to a C
// array: a 4.8 MB model as source would cost the compiler seconds and
// hundreds of MB; .incbin costs a file copy. CMake passes the folder as
// LIL_DEMO_MODELS_DIR and rebuilds this file when a model changes. Needs an
// assembler with .incbin (GCC and Clang, on ELF and Mach-O targets).
#include "demo_data.hpp"

#include <cstddef>
#include <cstdint>

#ifndef LIL_DEMO_MODELS_DIR
#error "LIL_DEMO_MODELS_DIR (the folder of reasoner.bin) must be defined by the build"
#endif

// Mach-O prefixes C symbols with '_' and names its read-only data section
// differently; ELF can keep the symbols out of the dynamic symbol table.
#if defined(__APPLE__)
#define LIL_DEMO_SYMBOL(name) "_" #name
#define LIL_DEMO_SECTION ".const_data\n"
#define LIL_DEMO_SECTION_END ".text\n"
#define LIL_DEMO_HIDDEN(name) ".private_extern " LIL_DEMO_SYMBOL(name) "\n"
#else
#define LIL_DEMO_SYMBOL(name) #name
#define LIL_DEMO_SECTION ".pushsection .rodata\n"
#define LIL_DEMO_SECTION_END ".popsection\n"
#define LIL_DEMO_HIDDEN(name) ".hidden " LIL_DEMO_SYMBOL(name) "\n"
#endif

#define LIL_DEMO_EMBED(name, file)                                                                        \
  __asm__(LIL_DEMO_SECTION ".balign 16\n"                                                                 \
          ".globl " LIL_DEMO_SYMBOL(name) "\n" LIL_DEMO_HIDDEN(name) LIL_DEMO_SYMBOL(name) ":\n"          \
          ".incbin \"" LIL_DEMO_MODELS_DIR "/" file "\"\n"                                                \
          ".globl " LIL_DEMO_SYMBOL(name##_end) "\n" LIL_DEMO_HIDDEN(name##_end) LIL_DEMO_SYMBOL(name##_end) ":\n" \
          LIL_DEMO_SECTION_END);                                                              \
  extern "C" const unsigned char name[];                                                                  \
  extern "C" const unsigned char name##_end[]

LIL_DEMO_EMBED(lil_demo_reasoner_bin, "reasoner.bin");
LIL_DEMO_EMBED(lil_demo_reasoner_tok, "reasoner_tok.bin");
LIL_DEMO_EMBED(lil_demo_reasoner_eval, "reasoner_eval.tsv");

namespace lil::cli::demo_data {

namespace {
// The two labels are separate symbols to the compiler, so the size is taken
// from their addresses rather than by subtracting pointers to different objects.
std::string_view view(const unsigned char* begin, const unsigned char* end) {
  const auto size = reinterpret_cast<std::uintptr_t>(end) - reinterpret_cast<std::uintptr_t>(begin);
  return {reinterpret_cast<const char*>(begin), static_cast<std::size_t>(size)};
}
}  // namespace

std::string_view reasoner_model() { return view(lil_demo_reasoner_bin, lil_demo_reasoner_bin_end); }
std::string_view reasoner_tokenizer() { return view(lil_demo_reasoner_tok, lil_demo_reasoner_tok_end); }
std::string_view reasoner_problems() { return view(lil_demo_reasoner_eval, lil_demo_reasoner_eval_end); }

}  // namespace lil::cli::demo_data
