// python/src/convert.hpp - how Python values become the C++ API's arguments.
//
// The module's verbs take what Python code naturally holds: a token's text as
// str (sent as its UTF-8 bytes) or bytes, ids as ints, lists or any buffer of
// integers (a numpy int32/int64 array is read in place), vectors as float
// buffers or lists. Each converter names what it was reading when it refuses
// a value, so that the exception says which argument was wrong.
//
// Integer options are read as Python ints and range-checked here, before they
// are narrowed to the C++ field's type: a negative count must not wrap into a
// huge unsigned one that the C++ validation would then accept.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lil/config.hpp"

namespace lil::python {

namespace py = pybind11;

// The bytes of a token's text: str as UTF-8, bytes, bytearray, or any
// contiguous byte buffer. The view points into `owner`'s memory (a str caches
// its UTF-8 form), so it lives as long as the Python object does.
std::string_view token_bytes(py::handle owner, const char* what);

// A Python int as a signed 64-bit value; a TypeError for non-integers.
long long to_integer(py::handle value, const char* what);

// A Python int checked against [lo, hi]; out of range raises lil.Error with
// `message_prefix` + "got <value>".
long long integer_in_range(py::handle value, long long lo, long long hi, const std::string& message_prefix);

// A Python number as a double (int or float); a TypeError otherwise.
double to_number(py::handle value, const char* what);

// Token ids from a list/tuple/iterable of ints or from a buffer of integers.
// `allow_none` maps None to `none_value` (the batch's "no token this step").
std::vector<std::int32_t> token_ids(py::handle ids, const char* what, bool allow_none = false,
                                    std::int32_t none_value = -1);

// One decode step's ids, `expected` of them, from any integer buffer (numpy,
// array.array) or a CPU torch tensor (through __array__, no copy): a pointer
// into the caller's memory when it is contiguous int32, else into `scratch`
// (reused between calls). `keep` holds the object the pointer reads.
const std::int32_t* step_ids(py::handle ids, std::size_t expected, std::vector<std::int32_t>& scratch, py::object& keep,
                             const char* what);

// Floats from a float32/float64 buffer or a sequence of numbers, exactly
// `expected` of them (lil.Error otherwise).
std::vector<float> floats(py::handle values, std::size_t expected, const std::string& what);

// "gzip" / "zlib" -> the deflate profile (lil.Error naming `field` otherwise).
int profile_from(py::handle value, const std::string& field);

[[noreturn]] inline void fail(const std::string& message) { lil::detail::throw_error(message); }

}  // namespace lil::python
