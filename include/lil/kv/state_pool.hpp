// lil/kv/state_pool.hpp - the structure-of-arrays storage behind every policy (internal).
//
// Why
//   A policy object is the logic of one sequence; its state lives in arrays
//   shared with every other sequence of the same layer, sequence id first
//   (planner.hpp documents them). Each named array is allocated once, for all
//   max_batch sequences, when the first sequence asks for it; sequence s gets
//   the slice at s * elements. Forking a sequence is then one copy per array,
//   and a GPU mirror of the state is the same arrays uploaded as they are.
//   A policy built alone (make_policy) owns a pool of one sequence.
//
// Costs
//   All memory is taken while the policies are constructed; afterwards the
//   pool is only read (slices) or copied (fork).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lil/config.hpp"

namespace lil::kv::detail {

template <class T>
const char* dtype_name() noexcept {
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, std::uint16_t>) return "uint16";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  return "?";
}

// A sequence's slice of one array: what a std::vector member used to be.
template <class T>
class seq_array {
 public:
  seq_array() = default;
  seq_array(T* p, std::size_t n) noexcept : p_(p), n_(n) {}
  T* data() noexcept { return p_; }
  const T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  T* begin() noexcept { return p_; }
  T* end() noexcept { return p_ + n_; }
  const T* begin() const noexcept { return p_; }
  const T* end() const noexcept { return p_ + n_; }
  T& operator[](std::size_t i) noexcept { return p_[i]; }
  const T& operator[](std::size_t i) const noexcept { return p_[i]; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

class state_pool {
 public:
  struct array {
    std::string name;
    const char* dtype = nullptr;
    std::size_t elements = 0;  // per sequence
    std::size_t element_size = 0;
    std::unique_ptr<std::uint64_t[]> storage;  // 8-byte aligned, max_batch slices
    void* data() const noexcept { return storage.get(); }
  };

  explicit state_pool(int max_batch) : max_batch_(max_batch) {}
  state_pool(const state_pool&) = delete;
  state_pool& operator=(const state_pool&) = delete;

  int max_batch() const noexcept { return max_batch_; }

  // Sequence seq's slice of array `name` (allocated for every sequence and
  // filled with `init` on first use). Every sequence asks for the same sizes.
  template <class T>
  seq_array<T> take(const char* name, std::size_t elements, int seq, T init = T{}) {
    array* a = find(name);
    if (a == nullptr) {
      arrays_.emplace_back();
      a = &arrays_.back();
      a->name = name;
      a->dtype = dtype_name<T>();
      a->elements = elements;
      a->element_size = sizeof(T);
      const std::size_t total = elements * static_cast<std::size_t>(max_batch_);
      a->storage.reset(new std::uint64_t[(total * sizeof(T) + 7) / 8 + 1]);
      std::fill(static_cast<T*>(a->data()), static_cast<T*>(a->data()) + total, init);
    } else if (a->elements != elements || a->element_size != sizeof(T)) {
      lil::detail::throw_error(std::string("kv state_pool: array ") + name + " asked with two shapes");
    }
    return {static_cast<T*>(a->data()) + elements * static_cast<std::size_t>(seq), elements};
  }

  // dst := src in every array.
  void copy(int src, int dst) noexcept {
    for (auto& a : arrays_) {
      const std::size_t bytes = a.elements * a.element_size;
      auto* base = static_cast<unsigned char*>(a.data());
      std::memcpy(base + bytes * static_cast<std::size_t>(dst), base + bytes * static_cast<std::size_t>(src), bytes);
    }
  }

  const array* find(std::string_view name) const noexcept {
    for (const auto& a : arrays_)
      if (a.name == name) return &a;
    return nullptr;
  }
  const std::vector<array>& arrays() const noexcept { return arrays_; }
  std::size_t bytes_per_sequence() const noexcept {
    std::size_t b = 0;
    for (const auto& a : arrays_) b += a.elements * a.element_size;
    return b;
  }

 private:
  array* find(std::string_view name) noexcept {
    for (auto& a : arrays_)
      if (a.name == name) return &a;
    return nullptr;
  }
  int max_batch_;
  std::vector<array> arrays_;  // storage is on the heap: slices survive a vector move
};

// Where a policy object's state lives: sequence `seq` of `pool`.
struct state_binding {
  state_pool* pool = nullptr;
  int seq = 0;
};

}  // namespace lil::kv::detail
