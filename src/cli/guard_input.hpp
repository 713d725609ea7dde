// The records `lil guard` reads: JSON Lines, a JSON document (an array, or an
// object holding one under a key), or plain text. Each record either carries
// its text or says, naming its line or element, why it cannot be analysed.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lil::cli {

enum class input_format { automatic, jsonl, json, text };

struct trace_record {
  std::size_t index = 0;            // position among the input's records, from 0
  std::string where;                // "line 7", "element 3", "input": for messages
  std::optional<nlohmann::json> id; // the record's id field, when it has one
  std::string text;                 // the trace's text (valid, non-empty UTF-8) ...
  nlohmann::json record;            // the whole record, when input_spec.keep_record (other fields)
  std::string error;                // ... or why the record cannot be analysed
};

struct input_spec {
  input_format format = input_format::automatic;
  std::string field = "response";  // where the text is
  std::string id_field = "id";
  std::string array_key;           // JSON document: the array is under this key
  bool keep_record = false;        // keep each record's JSON object (lil sweep reads its answer)
};

// Splits `content` (the whole input, named `name` in messages) into records.
// A JSON document that cannot be parsed at all gives one failed record.
std::vector<trace_record> read_records(const std::string& content, const std::string& name, const input_spec& spec);

}  // namespace lil::cli
