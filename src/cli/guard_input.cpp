#include "guard_input.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <string_view>

#include "utf8.hpp"

namespace lil::cli {

namespace {

using json = nlohmann::json;

// Fills record.text (or record.error) from one parsed JSON value.
void take_text(const json& value, const input_spec& spec, trace_record& r) {
  if (!value.is_object()) {
    r.error = fmt::format("{}: expected a JSON object, got {}", r.where, value.type_name());
    return;
  }
  if (auto id = value.find(spec.id_field); id != value.end()) r.id = *id;
  const auto it = value.find(spec.field);
  if (it == value.end()) {
    r.error = fmt::format("{}: no field \"{}\"", r.where, spec.field);
    return;
  }
  if (!it->is_string()) {
    r.error = fmt::format("{}: field \"{}\" is a {}, not a string", r.where, spec.field, it->type_name());
    return;
  }
  r.text = it->get<std::string>();
  if (r.text.empty()) r.error = fmt::format("{}: field \"{}\" is empty", r.where, spec.field);
  if (spec.keep_record) r.record = value;
}

// nlohmann's message without its "[json.exception...] " tag.
std::string parser_message(const nlohmann::json::parse_error& e) {
  std::string_view m = e.what();
  if (const auto close = m.find("] "); m.rfind("[json.exception", 0) == 0 && close != std::string_view::npos)
    m.remove_prefix(close + 2);
  return std::string(m);
}

std::string utf8_error(std::string_view s, std::size_t at, const std::string& where) {
  return fmt::format("{}: invalid UTF-8 at byte {} (0x{:02X})", where, at + 1, static_cast<unsigned char>(s[at]));
}

std::vector<trace_record> read_jsonl(const std::string& content, const input_spec& spec) {
  std::vector<trace_record> out;
  std::size_t line_no = 0, pos = 0;
  while (pos < content.size()) {
    std::size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines are not records
    trace_record r;
    r.index = out.size();
    r.where = fmt::format("line {}", line_no);
    if (const auto bad = first_invalid_utf8(line); bad != std::string_view::npos) {
      r.error = utf8_error(line, bad, r.where);
    } else {
      try {
        take_text(json::parse(line), spec, r);
      } catch (const json::parse_error& e) {
        r.error = fmt::format("{}: malformed JSON ({})", r.where, parser_message(e));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<trace_record> read_json_document(const std::string& content, const std::string& name,
                                             const input_spec& spec) {
  auto whole_input_fails = [&](std::string message) {
    trace_record r;
    r.where = name;
    r.error = std::move(message);
    return std::vector<trace_record>{std::move(r)};
  };
  if (const auto bad = first_invalid_utf8(content); bad != std::string::npos) {
    const auto line = 1 + std::count(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    return whole_input_fails(utf8_error(content, bad, fmt::format("{}: line {}", name, line)));
  }
  json doc;
  try {
    doc = json::parse(content);
  } catch (const json::parse_error& e) {
    return whole_input_fails(fmt::format("{}: malformed JSON document ({})", name, parser_message(e)));
  }
  const json* array = &doc;
  if (!spec.array_key.empty()) {
    if (!doc.is_object() || !doc.contains(spec.array_key))
      return whole_input_fails(fmt::format("{}: no key \"{}\" (--array-key) at the top level", name, spec.array_key));
    array = &doc[spec.array_key];
  }
  if (!array->is_array())
    return whole_input_fails(
        spec.array_key.empty()
            ? fmt::format("{}: the JSON document is a {}, not an array (use --array-key KEY for an object)", name,
                          doc.type_name())
            : fmt::format("{}: \"{}\" is a {}, not an array", name, spec.array_key, array->type_name()));
  std::vector<trace_record> out;
  for (const auto& value : *array) {
    trace_record r;
    r.index = out.size();
    r.where = fmt::format("element {}", out.size());
    take_text(value, spec, r);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<trace_record> read_text(const std::string& content, const std::string& name) {
  trace_record r;
  r.where = name;
  if (const auto bad = first_invalid_utf8(content); bad != std::string::npos)
    r.error = utf8_error(content, bad, name);
  else if (content.empty())
    r.error = fmt::format("{}: the text is empty", name);
  else
    r.text = content;
  return {std::move(r)};
}

input_format detect(const std::string& content, const input_spec& spec) {
  const auto first = content.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return input_format::text;
  if (content[first] == '[') return input_format::json;
  if (content[first] == '{') return spec.array_key.empty() ? input_format::jsonl : input_format::json;
  return input_format::text;
}

}  // namespace

std::vector<trace_record> read_records(const std::string& content, const std::string& name, const input_spec& spec) {
  input_format format = spec.format == input_format::automatic ? detect(content, spec) : spec.format;
  switch (format) {
    case input_format::jsonl: return read_jsonl(content, spec);
    case input_format::json: return read_json_document(content, name, spec);
    default: return read_text(content, name);
  }
}

}  // namespace lil::cli
