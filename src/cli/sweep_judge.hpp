// How `lil sweep` decides whether a (possibly cut) trace got the answer right.
//
// Extraction. The answer of a text is its last answer span: by default the
// content of the last \boxed{...} (braces balanced, \{ and \} not counted; a
// \boxed inside another belongs to the outer one), or, with a pattern, the
// last match of an ECMAScript regular expression (its first capture group
// when it has one, else the whole match). A cut trace keeps only the spans
// that lie wholly inside its kept text, so a box cut open is no answer; a
// cut that keeps no span is wrong.
//
// Normalisation, applied to both the extracted and the reference answer
// before they are compared (the order matters and is this one):
//   1. \text{..}, \textbf{..}, \mathrm{..}, \mbox{..} are replaced by their
//      content; \dfrac and \tfrac become \frac;
//   2. removed: $, \left, \right, \!, \,, \;, \:, \quad, \displaystyle,
//      ^\circ, ^{\circ}, \circ, the degree sign, \%, %, and all whitespace;
//   3. {,} between digits (LaTeX's thousands separator) is removed, and so
//      are commas in a number written 1,234,567;
//   4. \fracAB with single digits A and B becomes \frac{A}{B};
//   5. a leading "x=" (one letter, then =) is dropped; a trailing "." too;
//   6. braces around the whole answer are dropped (repeatedly).
// Two answers are equal when their normal forms are equal as strings, or
// when both are plain decimal numbers equal to within 1e-9 (relative).
// There is no symbolic algebra: \frac{1}{2} and 0.5 differ, as do 2\sqrt2
// and \sqrt8. That is why a trace's own correctness flag, when the input has
// one, is trusted for the full trace (see sweep_engine.hpp).
#pragma once

#include <cstddef>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace lil::cli {

struct answer_span {
  std::size_t begin = 0;  // first byte of the span (the backslash of \boxed, or the match)
  std::size_t end = 0;    // one past its last byte: kept by a cut at end or later
  std::string answer;     // the extracted answer, as written
};

class answer_extractor {
 public:
  answer_extractor() = default;                       // the last \boxed{...}
  explicit answer_extractor(const std::string& regex);  // throws lil::error naming --answer-regex

  // Every answer span of `text`, in order (they do not overlap).
  std::vector<answer_span> spans(std::string_view text) const;
  // The answer of `text`: its last span's; none when it has none.
  std::optional<std::string> extract(std::string_view text) const;

 private:
  std::optional<std::regex> regex_;
  bool has_group_ = false;
};

std::string normalize_answer(std::string_view answer);
bool answers_equal(std::string_view a, std::string_view b);  // both as written; normalises

}  // namespace lil::cli
