// The records of a trace file, read one at a time: JSON Lines, a JSON
// document (an array, or an object holding one under a key), or plain text.
//
// Memory is bounded by the longest record, not by the file: JSON Lines are
// cut at newlines, and a JSON document is walked by a small structural scanner
// (strings, escapes and bracket depth, nothing more) that cuts the array into
// its elements; each line or element is then parsed on its own by nlohmann's
// parser. So one bad record (malformed, a number out of range, nesting too
// deep, invalid UTF-8) fails alone, named by its line or element, and the
// records after it are still read. Only a document whose structure breaks
// (an element that never ends) stops the reading, with one failed record.
//
// A leading UTF-8 byte-order mark is skipped before the format is detected.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lil::cli {

enum class input_format { automatic, jsonl, json, text };

struct trace_record {
  std::size_t index = 0;            // position among the input's records, from 0
  std::string where;                // "line 7", "element 3", "<stdin>": for messages
  std::optional<nlohmann::json> id; // the record's id field, when it has one
  std::string text;                 // the trace's text (valid, non-empty UTF-8) ...
  std::string error;                // ... or why the record cannot be analysed
  nlohmann::json record;            // input_spec.keep_record: the record's other fields (its text moved out)
};

struct input_spec {
  input_format format = input_format::automatic;
  std::string field = "response";  // where the text is
  std::string id_field = "id";
  std::string array_key;           // JSON document: the array is under this key
  bool keep_record = false;        // keep each JSON record in trace_record.record (lil sweep reads its answer)
};

// Arrays and objects nested deeper than this fail their record: deeper
// values would be copied and printed by recursion (a stack overflow at tens
// of thousands of levels).
inline constexpr int max_record_depth = 256;

class trace_reader {
 public:
  // Reads `f` (not owned; stdin is fine), named `name` in messages.
  trace_reader(std::FILE* f, std::string name, input_spec spec);
  // Reads `content`, which must outlive the reader, `chunk` bytes at a time
  // (tests and the fuzzer make it small to cut records across reads).
  trace_reader(std::string_view content, std::string name, input_spec spec, std::size_t chunk = 1 << 16);

  // The next record, analysable or failed; false at the end of the input.
  // Throws io_error when the file cannot be read.
  bool next(trace_record& out);

  // Bytes of the input consumed so far (for a progress bar).
  std::uint64_t bytes_read() const noexcept { return consumed_ + begin_; }
  // The format being read; automatic until the first next().
  input_format format() const noexcept { return format_; }
  const std::string& name() const noexcept { return name_; }

 private:
  bool fill();                                  // appends input to buf_; false at its end
  bool at(std::size_t i);                       // buf_[i] exists (reading more if needed)
  std::size_t skip_space(std::size_t i);        // first non-whitespace at or after i
  std::size_t value_end(std::size_t i);         // end of the JSON value at i; npos: input ended
  std::size_t string_end(std::size_t i);        // past the closing quote of the string at i
  void compact();
  void start();
  bool next_line(trace_record& out);
  bool next_element(trace_record& out);
  bool open_object_key(trace_record& out);
  bool whole_text(trace_record& out);
  bool document_fails(trace_record& out, std::string message);

  std::FILE* file_ = nullptr;
  std::string_view memory_;
  std::size_t chunk_ = 1 << 16;
  std::string name_;
  input_spec spec_;
  input_format format_ = input_format::automatic;

  std::string buf_;              // input read and not yet discarded ...
  std::size_t begin_ = 0;        // ... of which buf_[0, begin_) is consumed
  std::uint64_t consumed_ = 0;   // bytes discarded before buf_[0]
  bool eof_ = false;

  enum class phase { start, text, lines, object, first_element, elements, done };
  phase phase_ = phase::start;
  std::size_t line_no_ = 0;
  std::size_t index_ = 0;
};

// All the records of `content` at once (tests and small inputs).
std::vector<trace_record> read_records(std::string_view content, const std::string& name, const input_spec& spec);

// `message` with any quoted excerpt longer than a line shortened, so that an
// error about a 10 MB token does not echo it.
std::string bounded_message(std::string_view message);

}  // namespace lil::cli
