// lil.ColumnFeed: a generate loop's new columns of input_ids into a
// GuardianBatch, the whole step in one call.
//
// Why
//   A Hugging Face stopping criterion is called once per step with the whole
//   input_ids. What it does per row is small (is the new id an EOS, has the row
//   ended or stopped, did beam search reorder the rows), but done with numpy it
//   is a dozen array operations a step, each a few microseconds of Python and
//   dispatch, run with the caches cold from the model's forward pass. At batch 1
//   they were most of the criterion's time. Here they are one loop in C++, and
//   the step's ids go straight to the chosen source (vocabulary, detokenizer,
//   piece cache, raw ids) without returning to Python.
//
// What it keeps per row: whether the row has ended (an EOS, after which it
//   takes no more tokens) and the last id it saw. A call's first column is
//   that id again when the caller asks for an overlap; a row whose id differs
//   changed its history, which is what beam search does, and is refused.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/batch.hpp"
#include "step_flags.hpp"
#include "step_sources.hpp"

namespace lil::python {

namespace {

using batch_t = lil::guardian_batch<>;
using columns_t = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

class column_feed {
 public:
  column_feed(std::size_t rows, std::vector<std::int64_t> eos)
      : eos_(std::move(eos)), ended_(rows, 0), eos_now_(rows, 0), last_(rows, 0), ids_(rows, no_token) {
    std::sort(eos_.begin(), eos_.end());
  }

  std::size_t size() const noexcept { return ended_.size(); }
  bool has_last() const noexcept { return has_last_; }
  bool ended(std::size_t row) const noexcept { return ended_[row] != 0; }

  // `source`: None (the batch's vocabulary), "raw_ids", a detokenizer or a
  // piece cache. Fills `flags` with every row's stop flag.
  void take(const columns_t& columns, batch_t& batch, py::handle source, bool at_checks, py::array_t<bool>& flags) {
    if (columns.ndim() != 2 || static_cast<std::size_t>(columns.shape(0)) != size())
      fail("ColumnFeed.take: columns must be a 2-D integer array of " + std::to_string(size()) + " rows");
    if (batch.size() != size())
      fail("ColumnFeed.take: the batch has " + std::to_string(batch.size()) + " slots, the feed " +
           std::to_string(size()) + " rows");
    const std::size_t width = static_cast<std::size_t>(columns.shape(1));
    const std::int64_t* cells = columns.data();
    std::size_t first = 0;
    if (has_last_ && width > 0) {
      for (std::size_t r = 0; r < size(); ++r)
        if (cells[r * width] != last_[r])
          throw std::runtime_error(
              "lil.hf.GuardianStoppingCriteria: rows of input_ids changed their earlier tokens between calls (row " + std::to_string(r) +
              "): beam search reorders its candidates every step, so a row is not one sequence; Guardian follows "
              "sequences: use num_beams=1 (greedy or sampling)");
      first = 1;
    }
    // A column changes the feed only once its step went through, so a refused
    // id or a failing decode leaves the feed as it was before that column.
    for (std::size_t k = first; k < width; ++k) {
      for (std::size_t r = 0; r < size(); ++r) {
        const std::int64_t id = cells[r * width + k];
        if (id < 0 || id > INT32_MAX)
          fail("ColumnFeed.take: id " + std::to_string(id) + " in row " + std::to_string(r) + ", column " +
               std::to_string(k) + " is not a token id (0..2^31-1)");
        eos_now_[r] = std::binary_search(eos_.begin(), eos_.end(), id);
        ids_[r] = ended_[r] || eos_now_[r] || batch[r].stopped() ? no_token : static_cast<std::int32_t>(id);
      }
      step(batch, source, at_checks);
      for (std::size_t r = 0; r < size(); ++r) {
        ended_[r] |= eos_now_[r];
        last_[r] = cells[r * width + k];
      }
      has_last_ = true;
    }
    fill_flags(flags, batch);
  }

 private:
  void step(batch_t& batch, py::handle source, bool at_checks) {
    const std::int32_t* ids = ids_.data();
    if (source.is_none()) {
      step_by_vocabulary(batch, ids, "ColumnFeed.take");
    } else if (PyUnicode_Check(source.ptr()) && PyUnicode_CompareWithASCIIString(source.ptr(), "raw_ids") == 0) {
      batch.accept_raw_ids(ids, nullptr, 0, batch.size());
    } else if (!step_detokenizer(source, ids, batch, at_checks) && !step_piece_cache(source, ids, batch)) {
      throw py::type_error("ColumnFeed.take: source must be None (the batch's vocabulary), 'raw_ids', a "
                           "lil.IncrementalDetokenizer or a lil.PieceCache");
    }
  }

  std::vector<std::int64_t> eos_;  // sorted
  std::vector<std::uint8_t> ended_;
  std::vector<std::uint8_t> eos_now_;  // the column being taken: which rows brought an EOS
  std::vector<std::int64_t> last_;
  std::vector<std::int32_t> ids_;  // one column's ids as the sources take them
  bool has_last_ = false;
};

}  // namespace

void bind_column_feed(py::module_& m) {
  py::class_<column_feed>(m, "ColumnFeed", R"doc(
A generate loop's new columns of input_ids into a GuardianBatch, one call a
step (what lil.hf.GuardianStoppingCriteria runs on).

    feed = lil.ColumnFeed(batch_size, eos_ids=[2])
    feed.take(columns, batch, flags)            # columns: [rows][k] ids, numpy
    feed.take(columns, batch, flags, detok, True)  # text decoded at the checks

Each new column is one decode step: row r takes columns[r][k] unless it is an
EOS (the row then takes nothing more) or batch[r] already says stop. After the
first call, a call's first column must repeat the last one taken (the caller
reads one column back to prove the rows are still the same sequences; beam
search reorders them and is refused). `source` says how ids become bytes: None
(the batch's vocabulary), 'raw_ids' (4 bytes an id), a lil.PieceCache or a
lil.IncrementalDetokenizer (`at_checks`: its step_at_checks rule).
)doc")
      .def(py::init([](py::handle rows, py::handle eos) {
             const long long n = integer_in_range(rows, 0, 1LL << 40, "ColumnFeed rows must be >= 0, ");
             std::vector<std::int64_t> ids;
             for (const std::int32_t id : token_ids(eos, "eos_ids")) ids.push_back(id);
             return new column_feed(static_cast<std::size_t>(n), std::move(ids));
           }),
           py::arg("rows"), py::arg("eos_ids") = py::tuple())
      .def("__len__", &column_feed::size)
      .def_property_readonly("has_last", &column_feed::has_last,
                             "True once a column was taken: the next call's first column repeats it.")
      .def(
          "ended",
          [](const column_feed& f, long long row) {
            if (row < 0 || static_cast<std::size_t>(row) >= f.size())
              throw py::index_error("ColumnFeed: row " + std::to_string(row) + " is outside 0.." +
                                    std::to_string(f.size()));
            return f.ended(static_cast<std::size_t>(row));
          },
          py::arg("row"), "True once the row produced an EOS.")
      .def(
          "take",
          [](column_feed& f, const columns_t& columns, batch_t& batch, py::handle out, py::handle source,
             bool at_checks) {
            py::array_t<bool> flags = flags_out(f.size(), out, "ColumnFeed.take");
            f.take(columns, batch, source, at_checks, flags);
            return flags;
          },
          py::arg("columns"), py::arg("batch"), py::arg("out") = py::none(), py::arg("source") = py::none(),
          py::arg("at_checks") = false,
          "The new columns (after the repeated one, once there is one) into the batch; returns (or fills\n"
          "`out`) each row's stop flag.")
      .def("__copy__", [](const column_feed& f) { return column_feed(f); })
      .def(
          "__deepcopy__", [](const column_feed& f, py::handle) { return column_feed(f); }, py::arg("memo"));
}

}  // namespace lil::python
