// python/src/step_flags.hpp - what the batched step verbs share: the `out`
// array of stop flags they fill (or make), and filling it from a batch.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>

#include "convert.hpp"
#include "lil/guardian/batch.hpp"

namespace lil::python {

// `out` when it is a writable 1-D numpy bool array of `slots` (lil.Error
// naming `verb` otherwise), or a new array when it is None.
inline pybind11::array_t<bool> flags_out(std::size_t slots, pybind11::handle out, const char* verb) {
  namespace py = pybind11;
  if (out.is_none()) return py::array_t<bool>(static_cast<py::ssize_t>(slots));
  py::array_t<bool> flags = py::array_t<bool>::ensure(out);
  if (!flags || flags.ndim() != 1 || static_cast<std::size_t>(flags.shape(0)) != slots || !flags.writeable() ||
      flags.ptr() != out.ptr())
    fail(std::string(verb) + ": out must be a writable 1-D numpy bool array of " + std::to_string(slots) + " slots");
  return flags;
}

// Each slot's stop flag into `flags`.
inline pybind11::array_t<bool> fill_flags(pybind11::array_t<bool>& flags, const lil::guardian_batch<>& batch) {
  auto f = flags.mutable_unchecked<1>();
  for (std::size_t i = 0; i < batch.size(); ++i) f(static_cast<pybind11::ssize_t>(i)) = batch[i].stopped();
  return flags;
}

}  // namespace lil::python
