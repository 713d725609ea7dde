#include "trace_reader.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <unistd.h>

#include "io.hpp"
#include "utf8.hpp"

namespace lil::cli {

namespace {

using json = nlohmann::json;

constexpr std::size_t npos = std::string::npos;
constexpr std::size_t read_chunk = 1 << 16;
constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Parses one record's JSON with nesting bounded by max_record_depth; the
// values below the bound are discarded (not built) and `too_deep` is set.
json parse_bounded(std::string_view text, bool& too_deep) {
  too_deep = false;
  return json::parse(text.begin(), text.end(), [&too_deep](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_record_depth) {
      too_deep = true;
      return false;
    }
    return true;
  });
}

// nlohmann's message without its "[json.exception...] " tag, quotes bounded.
std::string parser_message(const json::exception& e) {
  std::string_view m = e.what();
  if (const auto close = m.find("] "); m.rfind("[json.exception", 0) == 0 && close != std::string_view::npos)
    m.remove_prefix(close + 2);
  return bounded_message(m);
}

std::string utf8_error(std::string_view s, std::size_t at, const std::string& where) {
  return fmt::format("{}: invalid UTF-8 at byte {} (0x{:02X})", where, at + 1, static_cast<unsigned char>(s[at]));
}

// Fills r.text (or r.error) from one parsed JSON value, moving out of it.
void take_text(json& value, const input_spec& spec, trace_record& r) {
  if (!value.is_object()) {
    r.error = fmt::format("{}: expected a JSON object, got {}", r.where, value.type_name());
    return;
  }
  if (auto id = value.find(spec.id_field); id != value.end()) r.id = std::move(*id);
  const auto it = value.find(spec.field);
  if (it == value.end()) {
    r.error = fmt::format("{}: no field \"{}\"", r.where, spec.field);
    return;
  }
  if (!it->is_string()) {
    r.error = fmt::format("{}: field \"{}\" is a {}, not a string", r.where, spec.field, it->type_name());
    return;
  }
  r.text = std::move(it->get_ref<std::string&>());
  if (r.text.empty()) r.error = fmt::format("{}: field \"{}\" is empty", r.where, spec.field);
  if (spec.keep_record) r.record = std::move(value);
}

// One record's JSON text (a line or an element) into r.
void parse_record(std::string_view text, const input_spec& spec, trace_record& r) {
  if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
    r.error = utf8_error(text, bad, r.where);
    return;
  }
  try {
    bool too_deep = false;
    json value = parse_bounded(text, too_deep);
    if (too_deep) {
      r.error = fmt::format("{}: arrays or objects nested deeper than {} levels", r.where, max_record_depth);
      return;
    }
    take_text(value, spec, r);
  } catch (const json::exception& e) {
    // parse_error and out_of_range (a number such as 1e400) alike.
    r.error = fmt::format("{}: malformed JSON ({})", r.where, parser_message(e));
  }
}

// What a JSON value starting with `c` is, for messages.
const char* kind_of(char c) {
  switch (c) {
    case '{': return "object";
    case '[': return "array";
    case '"': return "string";
    case 't':
    case 'f': return "boolean";
    case 'n': return "null";
    default: return (c == '-' || (c >= '0' && c <= '9')) ? "number" : nullptr;
  }
}

std::string a_or_an(const char* kind) { return fmt::format("{} {}", *kind == 'a' || *kind == 'o' ? "an" : "a", kind); }

}  // namespace

std::string bounded_message(std::string_view message) {
  constexpr std::size_t keep = 60;
  // nlohmann quotes the token it stopped at after "last read: " (and may
  // quote the tokens it expected after it); other messages quote one thing.
  constexpr std::string_view last_read = "last read: '";
  std::size_t open, close;
  if (const auto at = message.find(last_read); at != std::string_view::npos) {
    open = at + last_read.size() - 1;
    close = message.rfind("'; expected");
    if (close == std::string_view::npos || close <= open) close = message.rfind('\'');
  } else {
    open = message.find('\'');
    close = message.rfind('\'');
  }
  if (open == std::string_view::npos || close <= open || close - open - 1 <= keep + 20) return std::string(message);
  const std::string_view quoted = message.substr(open + 1, close - open - 1);
  std::size_t cut = keep;
  // Never end the excerpt inside a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(quoted[cut]) & 0xC0) == 0x80) --cut;
  return fmt::format("{}'{}'... ({} bytes in all){}", message.substr(0, open), quoted.substr(0, cut), quoted.size(),
                     message.substr(close + 1));
}

trace_reader::trace_reader(std::FILE* f, std::string name, input_spec spec)
    : file_(f), name_(std::move(name)), spec_(std::move(spec)) {}

trace_reader::trace_reader(std::string_view content, std::string name, input_spec spec, std::size_t chunk)
    : memory_(content), chunk_(std::max<std::size_t>(chunk, 1)), name_(std::move(name)), spec_(std::move(spec)) {}

bool trace_reader::fill() {
  if (eof_) return false;
  const std::size_t old = buf_.size();
  if (file_) {
    // read(2), not fread: a pipe gives what it has, so a record is handled
    // as soon as it has arrived, not when 64 KiB have.
    buf_.resize(old + read_chunk);
    ssize_t n;
    do {
      n = ::read(fileno(file_), buf_.data() + old, read_chunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int code = errno;
      buf_.resize(old);
      throw io_error(fmt::format("cannot read {}: {}", name_, std::strerror(code)));
    }
    buf_.resize(old + static_cast<std::size_t>(n));
    if (n == 0) eof_ = true;
    return n != 0;
  }
  const std::size_t n = std::min(chunk_, memory_.size());
  buf_.append(memory_.data(), n);
  memory_.remove_prefix(n);
  if (memory_.empty()) eof_ = true;
  return n != 0;
}

bool trace_reader::at(std::size_t i) {
  while (i >= buf_.size())
    if (!fill()) return false;
  return true;
}

std::size_t trace_reader::skip_space(std::size_t i) {
  while (at(i) && is_space(buf_[i])) ++i;
  return i;
}

std::size_t trace_reader::string_end(std::size_t i) {
  for (++i; at(i); ++i) {
    if (buf_[i] == '\\') {
      ++i;
    } else if (buf_[i] == '"') {
      return i + 1;
    }
  }
  return npos;
}

std::size_t trace_reader::value_end(std::size_t i) {
  if (!at(i)) return npos;
  if (buf_[i] == '"') return string_end(i);
  if (buf_[i] != '[' && buf_[i] != '{') {
    // A scalar (or garbage, which the record's parser will name).
    while (at(i) && !is_space(buf_[i]) && buf_[i] != ',' && buf_[i] != ']' && buf_[i] != '}') ++i;
    return i;
  }
  // Only the depth matters here; a mismatched bracket is the parser's to report.
  std::size_t depth = 0;
  for (; at(i); ++i) {
    const char c = buf_[i];
    if (c == '"') {
      i = string_end(i);
      if (i == npos) return npos;
      --i;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) return i + 1;
    }
  }
  return npos;
}

void trace_reader::compact() {
  if (begin_ == 0 || begin_ < buf_.size() / 2) return;
  buf_.erase(0, begin_);
  consumed_ += begin_;
  begin_ = 0;
}

bool trace_reader::document_fails(trace_record& out, std::string message) {
  out = trace_record{};
  out.index = index_++;
  out.where = name_;
  out.error = std::move(message);
  phase_ = phase::done;
  begin_ = buf_.size();
  return true;
}

void trace_reader::start() {
  at(byte_order_mark.size() - 1);
  if (std::string_view(buf_).substr(0, byte_order_mark.size()) == byte_order_mark) begin_ = byte_order_mark.size();
  format_ = spec_.format;
  if (format_ == input_format::automatic) {
    const std::size_t first = skip_space(begin_);
    const char c = at(first) ? buf_[first] : '\0';
    if (c == '[')
      format_ = input_format::json;
    else if (c == '{')
      format_ = spec_.array_key.empty() ? input_format::jsonl : input_format::json;
    else
      format_ = input_format::text;
  }
  switch (format_) {
    case input_format::jsonl: phase_ = phase::lines; break;
    case input_format::json: phase_ = spec_.array_key.empty() ? phase::first_element : phase::object; break;
    default: phase_ = phase::text; break;
  }
}

bool trace_reader::whole_text(trace_record& out) {
  while (fill()) {
  }
  out = trace_record{};
  out.index = index_++;
  out.where = name_;
  const std::string_view text = std::string_view(buf_).substr(begin_);
  if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos)
    out.error = utf8_error(text, bad, name_);
  else if (text.empty())
    out.error = fmt::format("{}: the text is empty", name_);
  else
    out.text = text;
  phase_ = phase::done;
  begin_ = buf_.size();
  return true;
}

bool trace_reader::next_line(trace_record& out) {
  for (;;) {
    compact();
    std::size_t end = begin_;
    for (;;) {
      if (const auto nl = buf_.find('\n', end); nl != npos) {
        end = nl;
        break;
      }
      end = buf_.size();
      if (!fill()) break;
    }
    if (begin_ >= buf_.size()) return false;
    std::string_view line = std::string_view(buf_).substr(begin_, end - begin_);
    const std::size_t next = std::min(end + 1, buf_.size());
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {  // blank lines are not records
      begin_ = next;
      continue;
    }
    out = trace_record{};
    out.index = index_++;
    out.where = fmt::format("line {}", line_no_);
    parse_record(line, spec_, out);
    begin_ = next;
    return true;
  }
}

bool trace_reader::open_object_key(trace_record& out) {
  // The top-level object: skip members until the one named --array-key.
  std::size_t i = skip_space(begin_);
  if (!at(i)) return document_fails(out, fmt::format("{}: malformed JSON document (empty input)", name_));
  if (buf_[i] != '{') {
    const char* kind = kind_of(buf_[i]);
    return document_fails(out, kind ? fmt::format("{}: the JSON document is {}, not an object holding \"{}\" (--array-key)",
                                                  name_, a_or_an(kind), spec_.array_key)
                                    : fmt::format("{}: malformed JSON document (unexpected byte 0x{:02X} at byte {})", name_,
                                                  static_cast<unsigned char>(buf_[i]), bytes_read() + (i - begin_) + 1));
  }
  ++i;
  for (bool first = true;; first = false) {
    i = skip_space(i);
    if (!at(i) || (buf_[i] == '}' && first)) break;
    if (!first) {
      if (buf_[i] == '}') break;
      if (buf_[i] != ',') break;
      i = skip_space(i + 1);
    }
    if (!at(i) || buf_[i] != '"') break;
    const std::size_t key_end = string_end(i);
    if (key_end == npos) break;
    std::string key;
    try {
      key = json::parse(std::string_view(buf_).substr(i, key_end - i)).get<std::string>();
    } catch (const json::exception& e) {
      return document_fails(out, fmt::format("{}: malformed JSON document ({})", name_, parser_message(e)));
    }
    i = skip_space(key_end);
    if (!at(i) || buf_[i] != ':') break;
    i = skip_space(i + 1);
    if (key == spec_.array_key) {
      if (!at(i)) break;
      if (buf_[i] != '[') {
        const char* kind = kind_of(buf_[i]);
        return document_fails(out, fmt::format("{}: \"{}\" is {}, not an array", name_, spec_.array_key,
                                               kind ? a_or_an(kind) : std::string("a malformed value")));
      }
      begin_ = i;
      phase_ = phase::first_element;
      return false;
    }
    i = value_end(i);
    if (i == npos) break;
    // Drop what is skipped: a large member before the array costs no memory.
    begin_ = i;
    compact();
    i = begin_;
  }
  if (!at(i))
    return document_fails(out, fmt::format("{}: malformed JSON document (it ends before \"{}\" (--array-key) is found)",
                                           name_, spec_.array_key));
  if (buf_[i] == '}')
    return document_fails(out, fmt::format("{}: no key \"{}\" (--array-key) at the top level", name_, spec_.array_key));
  return document_fails(out, fmt::format("{}: malformed JSON document (unexpected byte 0x{:02X} at byte {})", name_,
                                         static_cast<unsigned char>(buf_[i]), bytes_read() + (i - begin_) + 1));
}

bool trace_reader::next_element(trace_record& out) {
  compact();
  std::size_t i = skip_space(begin_);
  if (phase_ == phase::first_element) {
    if (!at(i)) return document_fails(out, fmt::format("{}: malformed JSON document (empty input)", name_));
    if (buf_[i] != '[') {
      const char* kind = kind_of(buf_[i]);
      return document_fails(
          out, kind ? fmt::format("{}: the JSON document is {}, not an array (use --array-key KEY for an object)",
                                  name_, a_or_an(kind))
                    : fmt::format("{}: malformed JSON document (unexpected byte 0x{:02X} at byte {})", name_,
                                  static_cast<unsigned char>(buf_[i]), bytes_read() + (i - begin_) + 1));
    }
    i = skip_space(i + 1);
    if (at(i) && buf_[i] == ']') {
      phase_ = phase::done;
      begin_ = i + 1;
      return false;
    }
  } else {
    if (!at(i)) return document_fails(out, fmt::format("{}: malformed JSON document (the array is not closed)", name_));
    if (buf_[i] == ']') {
      phase_ = phase::done;
      begin_ = i + 1;
      if (spec_.array_key.empty()) {
        // Nothing but whitespace may follow a top-level array.
        const std::size_t rest = skip_space(begin_);
        if (at(rest))
          return document_fails(out, fmt::format("{}: malformed JSON document (text after the array, at byte {})",
                                                 name_, bytes_read() + (rest - begin_) + 1));
      }
      return false;
    }
    if (buf_[i] != ',')
      return document_fails(out, fmt::format("{}: malformed JSON document (expected ',' or ']' after element {}, at byte {})",
                                             name_, index_ - 1, bytes_read() + (i - begin_) + 1));
    i = skip_space(i + 1);
  }
  phase_ = phase::elements;
  const std::size_t end = value_end(i);
  if (end == npos)
    return document_fails(out, fmt::format("{}: malformed JSON document (element {} starting at byte {} never ends)", name_,
                                           index_, bytes_read() + (i - begin_) + 1));
  out = trace_record{};
  out.index = index_;
  out.where = fmt::format("element {}", index_);
  ++index_;
  parse_record(std::string_view(buf_).substr(i, end - i), spec_, out);
  begin_ = end;
  return true;
}

bool trace_reader::next(trace_record& out) {
  if (phase_ == phase::start) start();
  switch (format_) {
    case input_format::jsonl: return next_line(out);
    case input_format::json:
      if (phase_ == phase::object && open_object_key(out)) return true;
      if (phase_ == phase::done) return false;
      return next_element(out);
    default: return phase_ == phase::text && whole_text(out);
  }
}

std::vector<trace_record> read_records(std::string_view content, const std::string& name, const input_spec& spec) {
  trace_reader reader(content, name, spec);
  std::vector<trace_record> out;
  trace_record r;
  while (reader.next(r)) out.push_back(std::move(r));
  return out;
}

}  // namespace lil::cli
