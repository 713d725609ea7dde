// libFuzzer target: the trace reader of `lil guard` on arbitrary input.
//   - it never crashes or throws, whatever the nesting, numbers or bytes;
//   - every record is either valid non-empty UTF-8 text or an error that
//     names it, short enough to print (no echo of a huge token);
//   - records are numbered 0, 1, 2, ... and their ids can be copied and printed;
//   - reading one byte at a time gives the same records as reading 64 KiB
//     at a time (records cut across reads);
//   - a JSON array document that nlohmann's parser reads whole gives, element
//     by element, the records that document holds (the reader cuts the array
//     itself, so this checks its scanner against the real parser).
// The first byte picks the format and --array-key; the rest is the input.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "trace_reader.hpp"
#include "utf8.hpp"

namespace {

using lil::cli::input_format;
using lil::cli::input_spec;
using lil::cli::trace_record;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "trace_reader_fuzz: %s\n", what);
  std::abort();
}

std::vector<trace_record> read_all(std::string_view content, const input_spec& spec, std::size_t chunk) {
  lil::cli::trace_reader reader(content, "<input>", spec, chunk);
  std::vector<trace_record> out;
  trace_record r;
  while (reader.next(r)) {
    out.push_back(std::move(r));
    if (out.size() > content.size() + 2) fail("more records than the input has bytes");
  }
  return out;
}

bool same(const trace_record& a, const trace_record& b) {
  return a.index == b.index && a.where == b.where && a.text == b.text && a.error == b.error &&
         a.id.has_value() == b.id.has_value() && (!a.id || *a.id == *b.id);
}

// Deepest nesting of a JSON value, without recursion.
int depth_of(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

void check_against_whole_parse(std::string_view content, const input_spec& spec,
                               const std::vector<trace_record>& records) {
  // nlohmann's lexer takes a NUL byte for the end of the input (C strings);
  // the reader calls what follows it text after the array.
  if (content.find('\0') != std::string_view::npos) return;
  if (depth_of(content) > lil::cli::max_record_depth) return;
  const auto doc = nlohmann::json::parse(content.begin(), content.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) return;
  if (records.size() != doc.size()) fail("a document nlohmann reads has a different number of records");
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& e = doc[i];
    const auto& r = records[i];
    const auto field = e.is_object() ? e.find(spec.field) : e.end();
    const bool good = e.is_object() && field != e.end() && field->is_string() && !field->get_ref<const std::string&>().empty();
    if (good != r.error.empty()) fail("a record's verdict differs from nlohmann's reading of the document");
    if (good && r.text != field->get_ref<const std::string&>()) fail("a record's text differs from the document's");
    if (e.is_object()) {
      const auto id = e.find(spec.id_field);
      if ((id != e.end()) != r.id.has_value() || (r.id && *r.id != *id)) fail("a record's id differs from the document's");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  input_spec spec;
  static constexpr input_format formats[] = {input_format::automatic, input_format::jsonl, input_format::json,
                                             input_format::text};
  spec.format = formats[data[0] & 3];
  if (data[0] & 4) spec.array_key = "traces";
  if (data[0] & 8) spec.field = "text";
  const std::string_view content(reinterpret_cast<const char*>(data) + 1, size - 1);

  const auto records = read_all(content, spec, 1 << 16);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.index != i) fail("records are not numbered in order");
    if (r.error.empty() == r.text.empty()) fail("a record has both or neither of text and error");
    if (!r.text.empty() && lil::cli::first_invalid_utf8(r.text) != std::string_view::npos) fail("text is not UTF-8");
    if (!r.error.empty() && r.error.size() > 400) fail("an error message is not bounded");
    if (!r.error.empty() && r.error.compare(0, r.where.size(), r.where) != 0) fail("an error does not name its record");
    if (r.id) {
      const nlohmann::json copy = *r.id;
      if (copy.dump().empty()) fail("an id prints as nothing");
    }
  }
  const auto bytewise = read_all(content, spec, 1);
  if (bytewise.size() != records.size()) fail("reading byte by byte gives another number of records");
  for (std::size_t i = 0; i < records.size(); ++i)
    if (!same(records[i], bytewise[i])) fail("reading byte by byte gives another record");

  // The same input as a JSON array document, checked against the real parser.
  if (spec.array_key.empty() && spec.format != input_format::jsonl && spec.format != input_format::text) {
    const auto first = content.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && content[first] == '[') check_against_whole_parse(content, spec, records);
  }
  return 0;
}
