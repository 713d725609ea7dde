// The smallest decode loop with Guardian (C++). A fake model says new things
// for 2,000 tokens and then repeats one sentence forever; Guardian stops it.
// Copy the loop; replace fake_model with your engine's sampler.
#include <cstdio>
#include <string>

#include "lil/guardian/guardian.hpp"

namespace {

// Stands in for an engine: next token's text (as the engine decodes it).
struct fake_model {
  unsigned step = 0;
  std::string next() {
    ++step;
    if (step < 2000) return " w" + std::to_string(step * 7919 % 10007);  // fresh text
    static const char* const loop[] = {" Wait,", " let", " me", " check", " again."};
    return loop[step % 5];  // the degenerate loop
  }
};

}  // namespace

int main() {
  lil::guardian<> guardian;  // the paper's rule: f = 250, t = 20 bytes, gzip level 6
  fake_model model;
  for (unsigned n = 0; n < 100000; ++n) {  // the engine's own length cap
    const std::string token = model.next();
    // ... append token to the output, stream it to the user ...
    if (guardian.accept(token) == lil::verdict::stop) break;
  }
  const lil::decision d = guardian.decision();
  std::printf("stopped: %s after %llu tokens (%s); last check: C(%llu) = %llu bytes, gain %lld < %g\n",
              d.stop() ? "yes" : "no", static_cast<unsigned long long>(d.tokens), lil::reason_name(d.why),
              static_cast<unsigned long long>(d.last.point.tokens), static_cast<unsigned long long>(d.last.point.size),
              static_cast<long long>(d.last.gain), d.last.threshold);
  return d.stop() ? 0 : 1;
}
