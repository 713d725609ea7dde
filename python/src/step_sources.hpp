// python/src/step_sources.hpp - the ways one decode step's ids reach a
// GuardianBatch, callable from C++ so that lil.ColumnFeed (bind_column_feed.cpp)
// runs a whole step without going back to Python. Each lives beside the verb
// it serves and applies that verb's checks, so the two cannot drift apart.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>

#include "lil/guardian/batch.hpp"

namespace lil::python {

// Slot i accepts ids[i] (-1: no token) through the batch's vocabulary
// (GuardianBatch.step's rule; lil.Error naming `verb` for an unknown id).
void step_by_vocabulary(lil::guardian_batch<>& batch, const std::int32_t* ids, const char* verb);

// When `source` is a lil.IncrementalDetokenizer: its step (or step_at_checks)
// into `batch`, and true; false for any other object.
bool step_detokenizer(pybind11::handle source, const std::int32_t* ids, lil::guardian_batch<>& batch, bool at_checks);

// When `source` is a lil.PieceCache: its step into `batch`, and true.
bool step_piece_cache(pybind11::handle source, const std::int32_t* ids, lil::guardian_batch<>& batch);

}  // namespace lil::python
