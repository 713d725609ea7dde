#include "sweep_judge.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "lil/config.hpp"

namespace lil::cli {

namespace {

constexpr std::string_view boxed = "\\boxed";

// The position one past the '}' closing the group that opens at `open`, or
// npos when the text ends first.
std::size_t close_group(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;  // \{ and \} are characters, not grouping
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// \name{content} -> content, for every occurrence.
void unwrap(std::string& s, std::string_view name) {
  for (std::size_t at = s.find(name); at != std::string::npos; at = s.find(name, at)) {
    const std::size_t open = at + name.size();
    if (open >= s.size() || s[open] != '{') {
      at = open;
      continue;
    }
    const std::size_t end = close_group(s, open);
    if (end == std::string::npos) return;
    s = s.substr(0, at) + s.substr(open + 1, end - open - 2) + s.substr(end);
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 1,234,567 (and only that shape, with an optional decimal part) -> 1234567.
void drop_thousands_commas(std::string& s) {
  if (s.find(',') == std::string::npos) return;
  static const std::regex grouped("[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]+)?");
  if (!std::regex_match(s, grouped)) return;
  std::string out;
  for (char c : s)
    if (c != ',') out += c;
  s = std::move(out);
}

std::optional<double> plain_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (!(is_digit(c) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

answer_extractor::answer_extractor(const std::string& regex) {
  try {
    regex_.emplace(regex, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw lil::error("--answer-regex '" + regex + "': not a valid regular expression (" + e.what() + ")");
  }
  has_group_ = regex_->mark_count() >= 1;
}

std::vector<answer_span> answer_extractor::spans(std::string_view text) const {
  std::vector<answer_span> out;
  if (regex_) {
    using it = std::regex_iterator<std::string_view::const_iterator>;
    for (it m(text.begin(), text.end(), *regex_), last; m != last; ++m) {
      const auto& match = *m;
      if (match.length(0) == 0) continue;
      const auto& g = has_group_ ? match[1] : match[0];
      if (!g.matched) continue;
      answer_span s;
      s.begin = static_cast<std::size_t>(match.position(0));
      s.end = s.begin + static_cast<std::size_t>(match.length(0));
      s.answer = g.str();
      out.push_back(std::move(s));
    }
    return out;
  }
  std::size_t from = 0;
  while (true) {
    const std::size_t at = text.find(boxed, from);
    if (at == std::string_view::npos) break;
    std::size_t open = at + boxed.size();
    while (open < text.size() && text[open] == ' ') ++open;
    if (open >= text.size() || text[open] != '{') {
      from = at + boxed.size();
      continue;
    }
    const std::size_t end = close_group(text, open);
    if (end == std::string_view::npos) break;  // open to the end: no later box can close either
    answer_span s;
    s.begin = at;
    s.end = end;
    s.answer = std::string(text.substr(open + 1, end - open - 2));
    out.push_back(std::move(s));
    from = end;
  }
  return out;
}

std::optional<std::string> answer_extractor::extract(std::string_view text) const {
  auto all = spans(text);
  if (all.empty()) return std::nullopt;
  return std::move(all.back().answer);
}

std::string normalize_answer(std::string_view answer) {
  std::string s(answer);
  for (std::string_view name : {"\\text", "\\textbf", "\\mathrm", "\\mbox"}) unwrap(s, name);
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  for (std::string_view gone : {"^{\\circ}", "^\\circ", "\\circ", "\xC2\xB0", "\\left", "\\right", "\\displaystyle",
                                "\\quad", "\\!", "\\,", "\\;", "\\:", "\\%", "%", "$"})
    replace_all(s, gone, "");
  std::string compact;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  s = std::move(compact);
  for (std::size_t at = s.find("{,}"); at != std::string::npos; at = s.find("{,}", at)) {
    if (at > 0 && at + 3 < s.size() && is_digit(s[at - 1]) && is_digit(s[at + 3]))
      s.erase(at, 3);
    else
      at += 3;
  }
  drop_thousands_commas(s);
  for (std::size_t at = s.find("\\frac"); at != std::string::npos; at = s.find("\\frac", at + 5)) {
    if (at + 6 < s.size() && is_digit(s[at + 5]) && is_digit(s[at + 6]))
      s = s.substr(0, at) + "\\frac{" + s[at + 5] + "}{" + s[at + 6] + "}" + s.substr(at + 7);
  }
  if (s.size() > 2 && std::isalpha(static_cast<unsigned char>(s[0])) && s[1] == '=') s.erase(0, 2);
  if (!s.empty() && s.back() == '.') s.pop_back();
  while (s.size() >= 2 && s.front() == '{' && close_group(s, 0) == s.size()) s = s.substr(1, s.size() - 2);
  return s;
}

bool answers_equal(std::string_view a, std::string_view b) {
  const std::string x = normalize_answer(a), y = normalize_answer(b);
  if (x == y) return true;
  const auto u = plain_number(x), v = plain_number(y);
  if (!u || !v) return false;
  return std::fabs(*u - *v) <= 1e-9 * std::fmax(1.0, std::fabs(*v));
}

}  // namespace lil::cli
