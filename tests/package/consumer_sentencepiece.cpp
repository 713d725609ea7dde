// Uses lil::sentencepiece through the installed package: a vocabulary from a
// sentencepiece model. An engine passes its model's file; here an empty
// serialized model must be refused with lil's error (what links and runs is
// the point), and a missing file named in the message.
#include <lil/guardian/sentencepiece.hpp>
#include <lil/lil.hpp>

#include <cstdio>
#include <string>

int main() {
  int failures = 0;
  try {
    (void)lil::load_sentencepiece_vocabulary("/nonexistent/tokenizer.model");
    std::puts("a missing model file was accepted");
    ++failures;
  } catch (const lil::error& e) {
    if (std::string(e.what()).find("/nonexistent/tokenizer.model") == std::string::npos) {
      std::printf("the error does not name the file: %s\n", e.what());
      ++failures;
    }
  }
  try {
    (void)lil::sentencepiece_vocabulary_from_proto("not a model");
    std::puts("a malformed model was accepted");
    ++failures;
  } catch (const lil::error&) {
  }
  std::puts(failures ? "lil::sentencepiece consumer: FAILED" : "lil::sentencepiece consumer: ok");
  return failures ? 1 : 0;
}
