// lil.PieceCache: a token_bytes function (id -> bytes) for a whole batch in
// one call per step, each id's bytes asked of the function once.
//
// Why: a function of the vocabulary cannot be made into a lil.Vocabulary
// without knowing every id, and calling it from Python for every sequence at
// every step costs more than Guardian itself at large batches. A token's
// bytes never change, so the first answer for an id is kept (the table
// grows to the largest id seen) and later steps read it in C++: after the
// first few hundred steps of a generation the function is rarely called.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/batch.hpp"
#include "step_flags.hpp"
#include "step_sources.hpp"

namespace lil::python {

namespace {

using batch_t = lil::guardian_batch<>;

class piece_cache {
 public:
  piece_cache(py::object piece, std::size_t size_hint) : piece_(std::move(piece)) {
    bytes_.reserve(size_hint);
    known_.reserve(size_hint);
  }

  std::size_t known() const noexcept { return known_count_; }

  // The bytes of `id` (the function's answer, asked once).
  std::string_view bytes_of(std::int32_t id) {
    const auto i = static_cast<std::size_t>(id);
    if (i >= known_.size()) {
      bytes_.resize(i + 1);
      known_.resize(i + 1, 0);
    }
    if (!known_[i]) {
      py::object answer = piece_(id);
      bytes_[i] = std::string(token_bytes(answer, "token_bytes(id)"));
      known_[i] = 1;
      ++known_count_;
    }
    return bytes_[i];
  }

 private:
  py::object piece_;
  std::vector<std::string> bytes_;
  std::vector<std::uint8_t> known_;
  std::size_t known_count_ = 0;
};

void step_into(piece_cache& c, const std::int32_t* ids, batch_t& batch) {
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (ids[i] >= 0) batch[i].accept(c.bytes_of(ids[i]));
}

}  // namespace

bool step_piece_cache(py::handle source, const std::int32_t* ids, batch_t& batch) {
  if (!py::isinstance<piece_cache>(source)) return false;
  step_into(source.cast<piece_cache&>(), ids, batch);
  return true;
}

void bind_piece_cache(py::module_& m) {
  py::class_<piece_cache>(m, "PieceCache", R"doc(
A token_bytes function (id -> bytes or str) for a GuardianBatch, one call per
decode step; each id's bytes are asked of the function once and kept.

    pieces = lil.PieceCache(my_token_bytes)
    flags = pieces.step(step_ids, batch)   # slot i accepts my_token_bytes(ids[i]); -1: no token
)doc")
      .def(py::init([](py::object piece, py::handle size_hint) {
             if (!PyCallable_Check(piece.ptr()))
               throw py::type_error("PieceCache: token_bytes must be a function id -> bytes");
             const long long n = integer_in_range(size_hint, 0, 1LL << 31, "PieceCache size_hint must be >= 0, ");
             return new piece_cache(std::move(piece), static_cast<std::size_t>(n));
           }),
           py::arg("token_bytes"), py::arg("size_hint") = 0,
           "PieceCache(token_bytes, size_hint=0): size_hint, the vocabulary's size when known, reserves the table.")
      .def_property_readonly("known", &piece_cache::known, "How many ids' bytes are kept.")
      .def(
          "bytes", [](piece_cache& c, std::int32_t id) {
            if (id < 0) fail("PieceCache.bytes: id must be >= 0, got " + std::to_string(id));
            const std::string_view b = c.bytes_of(id);
            return py::bytes(b.data(), b.size());
          },
          py::arg("id"), "The bytes of one id (asking the function the first time).")
      .def(
          "step",
          [](piece_cache& c, py::handle ids, batch_t& batch, py::handle out) {
            static thread_local std::vector<std::int32_t> scratch;
            py::object keep;
            const std::int32_t* p = step_ids(ids, batch.size(), scratch, keep, "PieceCache.step ids");
            py::array_t<bool> flags = flags_out(batch.size(), out, "PieceCache.step");
            step_into(c, p, batch);
            return fill_flags(flags, batch);
          },
          py::arg("ids"), py::arg("batch"), py::arg("out") = py::none(),
          "One decode step: slot i of `batch` accepts the bytes of ids[i] (-1: no token). Returns (or fills\n"
          "`out`) each slot's stop flag.");
}

}  // namespace lil::python
