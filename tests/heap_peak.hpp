// tests/heap_peak.hpp - the heap in use and its peak, counted by replacing the
// global operator new / delete (malloc underneath; sentencepiece's allocations
// go through them too). Include it in exactly one source file of a program:
// it defines the replacements.
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace lil_heap {
inline std::atomic<std::size_t> now{0}, peak{0};

// Starts a peak measurement; returns the bytes in use now, to subtract.
inline std::size_t start_peak() {
  const std::size_t base = now.load();
  peak = base;
  return base;
}
}  // namespace lil_heap

void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (!p) throw std::bad_alloc();
  const std::size_t in_use = lil_heap::now += malloc_usable_size(p);
  std::size_t seen = lil_heap::peak.load();
  while (in_use > seen && !lil_heap::peak.compare_exchange_weak(seen, in_use)) {
  }
  return p;
}
void operator delete(void* p) noexcept {
  if (!p) return;
  lil_heap::now -= malloc_usable_size(p);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
