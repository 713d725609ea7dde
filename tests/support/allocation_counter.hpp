// Test support: counts heap allocations, to check that a hot path makes none.
// Include from exactly one source file of a test binary: it replaces the
// global operator new and delete.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace lil::test {
inline std::atomic<std::size_t> allocations_made{0};
// Heap allocations made so far by the whole program.
inline std::size_t allocations() noexcept { return allocations_made.load(std::memory_order_relaxed); }
}  // namespace lil::test

// GCC 12 cannot see that these replacements pair malloc with free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  lil::test::allocations_made.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
