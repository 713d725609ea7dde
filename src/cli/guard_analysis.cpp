#include "guard_analysis.hpp"

#include <string>

#include "lil/deflate/compressor.hpp"

namespace lil::cli {

namespace {

// lil's compressor, plus the unfinished-character tail of the cut being
// checked: the tail belongs to C(n) but not to the stream (the next token
// replaces it), so it is priced on a fork. Cuts inside a character are rare
// (a handful per thousand checks), so the fork's copy is too.
class tail_priced_compressor {
 public:
  tail_priced_compressor(const deflate::options& opts, const std::string* tail) : inner_(opts), tail_(tail) {}

  void feed(const void* data, std::size_t size) { inner_.feed(data, size); }
  std::uint64_t size_if_finished() noexcept {
    if (tail_->empty()) return inner_.size_if_finished();
    deflate::compressor fork = inner_;
    fork.feed(*tail_);
    return fork.size_if_finished();
  }
  void reset() noexcept { inner_.reset(); }

 private:
  deflate::compressor inner_;
  const std::string* tail_;
};

trace_result incremental(const token_stream& s, const guardian_options& opts) {
  std::string tail;
  const std::size_t checks = s.size() / opts.rule.check_every + 1;
  guardian<tail_priced_compressor> g(tail_priced_compressor(opts.deflate_options(), &tail), plateau_detector(opts.rule),
                                     opts.pending_capacity, checks);
  for (std::size_t i = 0; i < s.size(); ++i) {
    tail.clear();
    if ((i + 1) % opts.rule.check_every == 0)
      for (unsigned k = 0; k < s.unfinished[i]; ++k) tail += replacement_character;
    g.accept(s.token(i));
  }
  trace_result r;
  r.tokens = s.size();
  r.stop = g.decision().stopped_at;
  r.checks.assign(g.curve().begin(), g.curve().end());
  return r;
}

trace_result recompress(const token_stream& s, const tokenizer& tok, const guardian_options& opts) {
  plateau_detector detector(opts.rule);
  const auto deflate_opts = opts.deflate_options();
  trace_result r;
  r.tokens = s.size();
  for (std::size_t n = opts.rule.check_every; n <= s.size(); n += opts.rule.check_every) {
    const std::string text = tok.prefix_text(s, n);
    check_point p;
    p.tokens = n;
    p.bytes = text.size();
    p.size = deflate::deflate_size(text.data(), text.size(), deflate_opts);
    if (detector.observe(p).action == verdict::stop && r.stop == 0) r.stop = n;
    r.checks.push_back(p);
  }
  return r;
}

}  // namespace

trace_result analyse(const token_stream& tokens, const tokenizer& tok, const guardian_options& opts, guard_mode mode) {
  return mode == guard_mode::incremental ? incremental(tokens, opts) : recompress(tokens, tok, opts);
}

}  // namespace lil::cli
