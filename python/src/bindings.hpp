// python/src/bindings.hpp - one function per part of the API, called by the
// module's entry point (module.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace lil::python {

void bind_vocabulary(pybind11::module_& m);
void bind_guardian(pybind11::module_& m);
void bind_detokenizer(pybind11::module_& m);
void bind_piece_cache(pybind11::module_& m);
void bind_column_feed(pybind11::module_& m);
void bind_repetition(pybind11::module_& m);
void bind_deflate(pybind11::module_& m);
void bind_kv(pybind11::module_& kv);

}  // namespace lil::python
