#include "convert.hpp"

#include <cstring>
#include <limits>

namespace lil::python {

namespace {

std::string type_name(py::handle value) { return py::str(py::type::handle_of(value).attr("__name__")); }

[[noreturn]] void type_error(const std::string& message) { throw py::type_error(message); }

// A 1-D view of a buffer (any stride: a numpy column reads in place); other
// dimensions are refused. `kind` is the struct format character with any
// byte-order prefix removed.
struct flat_buffer {
  py::buffer_info info;
  char kind = 0;
};

bool flat_view(py::handle value, flat_buffer& out, const std::string& what) {
  if (!PyObject_CheckBuffer(value.ptr())) return false;
  out.info = py::reinterpret_borrow<py::buffer>(value).request();
  if (out.info.ndim != 1)
    fail(what + " must be one-dimensional, got an array of " + std::to_string(out.info.ndim) + " dimensions");
  std::string format = out.info.format;
  if (!format.empty() && (format[0] == '<' || format[0] == '@' || format[0] == '=')) format.erase(0, 1);
  out.kind = format.size() == 1 ? format[0] : '?';
  return true;
}

template <class T>
T read_at(const py::buffer_info& b, py::ssize_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(b.ptr) + i * b.strides[0], sizeof(T));
  return v;
}

// Reads element i of an integer buffer as a 64-bit value (unsigned 64-bit
// values above the signed range are clamped to it: they are out of range for
// a token id either way).
long long integer_at(const flat_buffer& b, py::ssize_t i) {
  const py::buffer_info& p = b.info;
  switch (b.kind) {
    case 'b': return read_at<std::int8_t>(p, i);
    case 'B': return read_at<std::uint8_t>(p, i);
    case 'h': return read_at<std::int16_t>(p, i);
    case 'H': return read_at<std::uint16_t>(p, i);
    case 'i': return read_at<std::int32_t>(p, i);
    case 'I': return read_at<std::uint32_t>(p, i);
    case 'l':
    case 'q':
      return b.info.itemsize == 8 ? read_at<std::int64_t>(p, i) : read_at<std::int32_t>(p, i);
    case 'L':
    case 'Q': {
      const std::uint64_t u = b.info.itemsize == 8 ? read_at<std::uint64_t>(p, i) : read_at<std::uint32_t>(p, i);
      return u > static_cast<std::uint64_t>(std::numeric_limits<long long>::max())
                 ? std::numeric_limits<long long>::max()
                 : static_cast<long long>(u);
    }
    default: break;
  }
  return 0;
}

bool is_integer_kind(char k) { return std::strchr("bBhHiIlLqQ", k) != nullptr && k != 0; }

std::int32_t checked_id(long long v, const char* what, std::size_t index) {
  if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
    fail(std::string(what) + "[" + std::to_string(index) + "] = " + std::to_string(v) +
         " is outside the 32-bit token id range");
  return static_cast<std::int32_t>(v);
}

}  // namespace

std::string_view token_bytes(py::handle owner, const char* what) {
  PyObject* o = owner.ptr();
  if (PyUnicode_Check(o)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(o, &size);
    if (data == nullptr) throw py::error_already_set();
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyBytes_Check(o)) return {PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o))};
  if (PyByteArray_Check(o)) return {PyByteArray_AS_STRING(o), static_cast<std::size_t>(PyByteArray_GET_SIZE(o))};
  if (PyObject_CheckBuffer(o)) {
    flat_buffer b;
    flat_view(owner, b, what);
    if (b.info.itemsize != 1) fail(std::string(what) + " must be a buffer of bytes, got items of " +
                                   std::to_string(b.info.itemsize) + " bytes");
    if (b.info.shape[0] > 1 && b.info.strides[0] != 1) fail(std::string(what) + " must be a contiguous buffer");
    // The view is read at once, before any Python code can run and resize the
    // exporter, so it does not outlive the buffer request that matters.
    return {static_cast<const char*>(b.info.ptr), static_cast<std::size_t>(b.info.shape[0])};
  }
  type_error(std::string(what) + " must be str or bytes, got " + type_name(owner));
}

long long to_integer(py::handle value, const char* what) {
  if (PyBool_Check(value.ptr()) || !PyIndex_Check(value.ptr()))
    type_error(std::string(what) + " must be an int, got " + type_name(value));
  int overflow = 0;
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) throw py::error_already_set();
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow > 0) return std::numeric_limits<long long>::max();
  if (overflow < 0) return std::numeric_limits<long long>::min();
  return v;
}

long long integer_in_range(py::handle value, long long lo, long long hi, const std::string& message_prefix) {
  const long long v = to_integer(value, message_prefix.c_str());
  if (v < lo || v > hi) {
    // Report the value as Python spells it (it may not fit in 64 bits).
    fail(message_prefix + "got " + std::string(py::str(value)));
  }
  return v;
}

double to_number(py::handle value, const char* what) {
  if (PyBool_Check(value.ptr()) || !(PyFloat_Check(value.ptr()) || PyIndex_Check(value.ptr()) ||
                                     PyNumber_Check(value.ptr())))
    type_error(std::string(what) + " must be a number, got " + type_name(value));
  const double v = PyFloat_AsDouble(value.ptr());
  if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}

std::vector<std::int32_t> token_ids(py::handle ids, const char* what, bool allow_none, std::int32_t none_value) {
  if (PyUnicode_Check(ids.ptr()) || PyBytes_Check(ids.ptr()) || PyByteArray_Check(ids.ptr()))
    type_error(std::string(what) + " must be a sequence of ints, got " + type_name(ids));
  std::vector<std::int32_t> out;
  flat_buffer b;
  if (flat_view(ids, b, what)) {
    if (!is_integer_kind(b.kind))
      type_error(std::string(what) + " must hold integers, got a buffer of format '" + b.info.format + "'");
    out.reserve(static_cast<std::size_t>(b.info.shape[0]));
    for (py::ssize_t i = 0; i < b.info.shape[0]; ++i)
      out.push_back(checked_id(integer_at(b, i), what, static_cast<std::size_t>(i)));
    return out;
  }
  if (!PyObject_HasAttrString(ids.ptr(), "__iter__"))
    type_error(std::string(what) + " must be a sequence of ints, got " + type_name(ids));
  for (py::handle item : ids) {
    if (allow_none && item.is_none()) {
      out.push_back(none_value);
      continue;
    }
    out.push_back(checked_id(to_integer(item, what), what, out.size()));
  }
  return out;
}

const std::int32_t* step_ids(py::handle ids, std::size_t expected, std::vector<std::int32_t>& scratch, py::object& keep,
                             const char* what) {
  keep = py::reinterpret_borrow<py::object>(ids);
  if (!PyObject_CheckBuffer(ids.ptr())) {
    // A CPU torch tensor (or anything numpy-like) through __array__: no copy.
    if (!PyObject_HasAttrString(ids.ptr(), "__array__"))
      type_error(std::string(what) + " must be an integer buffer (numpy array, CPU torch tensor, array.array), got " +
                 type_name(ids));
    try {
      keep = ids.attr("__array__")();
    } catch (py::error_already_set& e) {
      fail(std::string(what) + " cannot be read on the host (" + std::string(py::str(e.value())) +
           "); copy the step's ids to the CPU once, e.g. ids.cpu()");
    }
  }
  flat_buffer b;
  if (!flat_view(keep, b, what)) type_error(std::string(what) + " must be an integer buffer, got " + type_name(ids));
  if (!is_integer_kind(b.kind))
    type_error(std::string(what) + " must hold integers, got a buffer of format '" + b.info.format + "'");
  if (static_cast<std::size_t>(b.info.shape[0]) != expected)
    fail(std::string(what) + ": got " + std::to_string(b.info.shape[0]) + " ids for " + std::to_string(expected) +
         " slots");
  if (b.info.itemsize == 4 && (b.kind == 'i' || b.kind == 'l') && (expected <= 1 || b.info.strides[0] == 4))
    return static_cast<const std::int32_t*>(b.info.ptr);
  scratch.resize(expected);
  for (std::size_t i = 0; i < expected; ++i)
    scratch[i] = checked_id(integer_at(b, static_cast<py::ssize_t>(i)), what, i);
  return scratch.data();
}

std::vector<float> floats(py::handle values, std::size_t expected, const std::string& what) {
  std::vector<float> out;
  flat_buffer b;
  if (flat_view(values, b, what)) {
    if (b.kind != 'f' && b.kind != 'd')
      type_error(what + " must hold float32 or float64 values, got a buffer of format '" + b.info.format + "'");
    out.resize(static_cast<std::size_t>(b.info.shape[0]));
    for (py::ssize_t i = 0; i < b.info.shape[0]; ++i)
      out[static_cast<std::size_t>(i)] =
          b.kind == 'f' ? read_at<float>(b.info, i) : static_cast<float>(read_at<double>(b.info, i));
  } else {
    if (!PyObject_HasAttrString(values.ptr(), "__iter__"))
      type_error(what + " must be a float buffer or a sequence of numbers, got " + type_name(values));
    for (py::handle item : values) out.push_back(static_cast<float>(to_number(item, what.c_str())));
  }
  if (out.size() != expected)
    fail(what + " must hold " + std::to_string(expected) + " values, got " + std::to_string(out.size()));
  return out;
}

int profile_from(py::handle value, const std::string& field) {
  if (PyUnicode_Check(value.ptr())) {
    const std::string name = py::str(value);
    if (name == "gzip") return 0;
    if (name == "zlib") return 1;
  }
  fail(field + " must be \"gzip\" or \"zlib\", got " + std::string(py::repr(value)));
}

}  // namespace lil::python
