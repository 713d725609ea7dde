// lil/guardian/sentencepiece.hpp - a vocabulary from a sentencepiece model
// (Llama-2, Mistral, Gemma...). Link lil::sentencepiece: a separate compiled
// target, built only when libsentencepiece is found, so that this header (and
// lil's core) carries no sentencepiece type.
//
// Each id's bytes are what sentencepiece's own decoder writes for it:
//   - a normal piece: its text with "▁" (U+2581) as a space;
//   - a byte piece <0xNN>: the one byte NN (consecutive byte pieces spell a
//     UTF-8 character; a prefix cut inside one decodes to one U+FFFD per byte,
//     which the vocabulary's unfinished() says: per_byte);
//   - control pieces (<s>, </s>, ...) and unused pieces: no bytes;
//   - the unknown piece: the model's unk surface (" ⁇ " for Llama-2).
// A model with a dummy prefix (add_dummy_prefix, Llama-2's default) drops the
// leading space of the first piece of a decoded text: strips_leading_space()
// is true, and a guardian prices its first token without that space unless
// told that the output continues a prompt (guardian_options::output_starts_text).
#pragma once

#include <string>
#include <string_view>

#include "lil/config.hpp"
#include "lil/guardian/vocabulary.hpp"

namespace lil {

// From a .model file; throws lil::error naming the path when it cannot be read.
LIL_API vocabulary load_sentencepiece_vocabulary(const std::string& model_path);
// From the serialized model proto already in memory.
LIL_API vocabulary sentencepiece_vocabulary_from_proto(std::string_view serialized_model);

}  // namespace lil
