// The KV policies' bookkeeping kernels (see include/lil/kv/cuda/kernels.hpp
// for the layout and the order of a step).
//
// Equality with the CPU
//   Every score is built with __fadd_rn / __fmul_rn / __fdiv_rn in the order
//   the CPU loop uses, so nvcc cannot contract a multiply-add into an FMA (the
//   CPU build has none either: no -march, no -ffast-math) and the float
//   results are the same bits. Selections then only depend on comparisons,
//   and ties are broken as on the CPU: evictions take the lowest (score,
//   arrival) pair, top-k takes the highest (score, -index) pair.
//
// Top-k
//   A block finds the k-th largest of n 64-bit keys (the score's bits mapped
//   to an unsigned order in the high half, the complemented index in the low
//   half, so keys are distinct and larger means "ranked first") by radix
//   selection, eight bits a pass, with a 256-bin histogram in shared memory,
//   starting at the highest bit where the keys differ; once the k-th key's
//   bin is small its keys are copied aside and the later passes read only
//   them. Then it keeps the keys at or above the threshold and writes their
//   indices in ascending order (a count per warp, one barrier). No sort.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "lil/kv/cuda/kernels.hpp"

namespace lil::kv::cuda {

namespace {

constexpr int kThreads = 256;

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

__device__ __forceinline__ float from_bf16(std::uint16_t h) { return __uint_as_float(static_cast<std::uint32_t>(h) << 16); }

// The CPU's bf16_rounded: truncate, then step away from zero unless exact
// (up for a positive maximum, down for a negative minimum).
__device__ __forceinline__ std::uint16_t bf16_rounded(float x, bool up) {
  const std::uint32_t bits = __float_as_uint(x);
  std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);
  const bool exact = (bits & 0xFFFFu) == 0;
  const bool negative = (bits >> 31) != 0;
  const bool is_nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
  if (!exact && !is_nan && up != negative) ++h;
  return h;
}

__device__ __forceinline__ float load_key(const void* p, std::size_t i, bool bf16) {
  return bf16 ? from_bf16(static_cast<const std::uint16_t*>(p)[i]) : static_cast<const float*>(p)[i];
}

// Larger key = ranked first: higher score, then lower index. -0 and +0 are
// equal on the CPU, so -0 becomes +0 first.
__device__ __forceinline__ std::uint64_t rank_key(float score, int index) {
  std::uint32_t b = __float_as_uint(score + 0.0f);
  b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (static_cast<std::uint64_t>(b) << 32) | static_cast<std::uint32_t>(~static_cast<std::uint32_t>(index));
}

// A threshold t with exactly k keys >= t among key(0..n-1) (1 <= k <= n;
// keys distinct): the k-th largest, or the leading digits it shares with the
// keys of its bin once every key of that bin is kept (no later digit can
// change which keys are >= t). Every thread of the block (Threads of them,
// 256 or a multiple) calls it and gets the answer.
//
// Scores of one head are close, so their keys share most leading bits (the
// sign, most of the exponent). One pass first finds the bits every key
// shares (a block AND and OR), and the radix digits start at the highest
// bit where keys differ: the first histogram already parts them, where
// digits from bit 63 took two or three passes that put every key in one or
// two bins. Once the k-th key's bin holds few keys (kCandidates), they are
// copied to shared memory and the later digits look at them alone, not at
// all n. A histogram is 256 bins in shared memory, one bin per thread for
// the suffix sum (warp shuffles, then the warps' totals).
template <int Threads, class KeyFn>
__device__ std::uint64_t kth_largest(KeyFn key, int n, int k) {
  constexpr int kBinWarps = 256 / 32;  // the warps that own a bin per thread
  constexpr int kWarps = Threads / 32;
  constexpr int kCandidates = 256;
  static_assert(Threads % 256 == 0, "one bin per thread of the first 256");
  // Compile-time true in a block of 256: that block's code has no test.
  const bool bins = Threads == 256 || threadIdx.x < 256;
  __shared__ unsigned hist[256];
  __shared__ unsigned warp_total[kBinWarps];
  __shared__ std::uint64_t warp_and[kWarps], warp_or[kWarps];
  __shared__ std::uint64_t candidates[kCandidates];
  __shared__ int n_candidates;
  __shared__ std::uint64_t found_prefix;
  __shared__ int found_left, found_done, found_count;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;

  std::uint64_t all_and = ~std::uint64_t{0}, all_or = 0;
  for (int i = tid; i < n; i += Threads) {
    const std::uint64_t v = key(i);
    all_and &= v;
    all_or |= v;
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    all_and &= __shfl_xor_sync(0xffffffffu, all_and, off);
    all_or |= __shfl_xor_sync(0xffffffffu, all_or, off);
  }
  if (lane == 0) {
    warp_and[warp] = all_and;
    warp_or[warp] = all_or;
  }
  if (tid == 0) n_candidates = 0;
  __syncthreads();
  all_and = warp_and[0];
  all_or = warp_or[0];
  for (int w = 1; w < kWarps; ++w) {
    all_and &= warp_and[w];
    all_or |= warp_or[w];
  }
  const std::uint64_t differ = all_and ^ all_or;
  if (differ == 0) return all_and;  // one key (keys are distinct), so k == 1
  const int top = 63 - __clzll(static_cast<long long>(differ));
  std::uint64_t mask = top == 63 ? 0 : ~std::uint64_t{0} << (top + 1);
  std::uint64_t prefix = all_and & mask;
  int shift = top >= 7 ? top - 7 : 0;  // a last digit below bit 8 overlaps known bits: harmless
  int left = k;
  bool from_candidates = false;
  int m = n;  // keys in the source the passes read
  for (;;) {
    if (bins) hist[tid] = 0;
    __syncthreads();
    for (int i = tid; i < m; i += Threads) {
      const std::uint64_t v = from_candidates ? candidates[i] : key(i);
      if ((v & mask) == prefix) atomicAdd(&hist[static_cast<unsigned>(v >> shift) & 255u], 1u);
    }
    __syncthreads();
    // above = keys in bins > tid: an inclusive suffix sum of hist[tid + 1].
    unsigned count = 0, above = 0;
    if (bins) {
      count = hist[tid];
      above = tid < 255 ? hist[tid + 1] : 0u;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const unsigned add = __shfl_down_sync(0xffffffffu, above, off);
        if (lane + off < 32) above += add;
      }
      if (lane == 0) warp_total[warp] = above;
    }
    __syncthreads();
    if (bins) {
      for (int w = warp + 1; w < kBinWarps; ++w) above += warp_total[w];
      const int a = static_cast<int>(above);
      if (a < left && left <= a + static_cast<int>(count)) {
        found_prefix = prefix | (static_cast<std::uint64_t>(tid) << shift);
        found_left = left - a;
        found_done = left - a == static_cast<int>(count);
        found_count = static_cast<int>(count);
      }
    }
    __syncthreads();
    prefix = found_prefix;
    left = found_left;
    const bool done = found_done != 0;
    const int in_bin = found_count;
    mask |= static_cast<std::uint64_t>(255) << shift;
    __syncthreads();
    if (done) return prefix;
    if (!from_candidates && in_bin <= kCandidates) {
      for (int i = tid; i < n; i += Threads) {
        const std::uint64_t v = key(i);
        if ((v & mask) == prefix) candidates[atomicAdd(&n_candidates, 1)] = v;
      }
      __syncthreads();
      from_candidates = true;
      m = in_bin;
    }
    shift = shift >= 8 ? shift - 8 : 0;
  }
}

// Writes the i in [0, n) with keep(i), ascending, to out; returns how many.
// Warp w owns the w-th contiguous run of indices: it counts its kept ones
// (ballots, no barrier), one barrier shares the warps' counts, and it
// writes its run from its offset - one barrier in all, not two per chunk
// of a block's width. keep is evaluated twice per index: a pure test.
template <int Threads, class Pred>
__device__ int compact_ascending(Pred keep, int n, std::int32_t* out) {
  constexpr int kWarps = Threads / 32;
  __shared__ int warp_count[kWarps];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int run = ((n + kWarps - 1) / kWarps + 31) & ~31;
  const int begin = warp * run, end = min(n, begin + run);
  int mine = 0;
  for (int base = begin; base < end; base += 32) {
    const int i = base + lane;
    mine += __popc(__ballot_sync(0xffffffffu, i < end && keep(i)));
  }
  if (lane == 0) warp_count[warp] = mine;
  __syncthreads();
  int offset = 0, total = 0;
  for (int w = 0; w < kWarps; ++w) {
    const int c = warp_count[w];
    offset += w < warp ? c : 0;
    total += c;
  }
  for (int base = begin; base < end; base += 32) {
    const int i = base + lane;
    const bool flag = i < end && keep(i);
    const unsigned ballot = __ballot_sync(0xffffffffu, flag);
    if (flag) out[offset + __popc(ballot & ((1u << lane) - 1u))] = i;
    offset += __popc(ballot);
  }
  __syncthreads();  // warp_count is free again
  return total;
}

// Quest's bounds: [rows][KV][tiles][D][kTile], page p in tile p / kTile at
// lane p % kTile (the CPU planner's layout); a thread scoring PPT adjacent
// pages reads PPT contiguous lanes of one channel per load.
constexpr int kTile = 16;
__device__ __forceinline__ int blocks_for_device(int n, int per) { return (n + per - 1) / per; }
__device__ __forceinline__ std::size_t bound_at(const layer_dims& d, const quest_state& q, int b, int kv, int page,
                                                int c) {
  const std::size_t tiles = static_cast<std::size_t>(q.max_pages) / kTile;
  return ((((static_cast<std::size_t>(b) * d.n_kv_heads + kv) * tiles + page / kTile) * d.head_dim + c) * kTile) +
         page % kTile;
}

// Lexicographic minimum of (key, arrival) with its slot, over a block.
struct pick {
  float key;
  int arrival;
  int slot;
};
__device__ __forceinline__ bool before(const pick& a, const pick& b) {
  if (a.slot < 0) return false;
  if (b.slot < 0) return true;
  return a.key < b.key || (a.key == b.key && a.arrival < b.arrival);
}

// --- append / advance ----------------------------------------------------------------------

// The most row b holds: its held_cap where there is one, else the capacity.
__device__ __forceinline__ int held_limit(const layer_dims& d, const slot_state& s, int b) {
  return s.held_cap ? min(d.capacity, s.held_cap[b]) : d.capacity;
}

// With advance_too (only where d.tables == 1, so the row has this one block),
// thread 0 also does advance()'s update at the end: every thread read held
// and appended before the barrier above it.
__global__ void append_kernel(layer_dims d, slot_state s, append_rule rule, const std::int32_t* seq_ids,
                              const std::int32_t* positions, std::int32_t* slot_out, std::int32_t* evicted_out,
                              bool advance_too) {
  const int r = blockIdx.x, t = blockIdx.y;
  const int b = seq_ids[r];
  const int C = d.capacity;
  const int held = s.held[b];
  const int arrival_new = s.appended[b];
  std::int32_t* arr = s.arrival + (static_cast<std::size_t>(b) * d.tables + t) * C;
  std::int32_t* pos = s.position + (static_cast<std::size_t>(b) * d.tables + t) * C;
  float* sc = s.score ? s.score + (static_cast<std::size_t>(b) * s.score_tables + t) * C : nullptr;
  const int limit = held_limit(d, s, b);
  std::uint8_t* pinned =
      rule.kind == victim::snapkv ? rule.pinned + (static_cast<std::size_t>(b) * d.tables + t) * C : nullptr;
  // Before its prompt ends SnapKV never evicts (its CPU policy refuses a full cache).
  const bool evicts = rule.kind != victim::none && (rule.kind != victim::snapkv || rule.prefilled[b] != 0);
  __shared__ pick best[kThreads];
  __shared__ int chosen;
  if (held < limit) {
    if (threadIdx.x == 0) chosen = held;
  } else if (!evicts) {
    if (threadIdx.x == 0) chosen = -1;
  } else {
    // The victim among the held slots (all C of them, but for a held_cap).
    pick mine{0.0f, 0, -1};
    for (int i = threadIdx.x; i < held; i += blockDim.x) {
      const int a = arr[i];
      bool candidate = true;
      float key = 0.0f;
      if (rule.kind == victim::sink) {
        candidate = a >= rule.sinks;
      } else if (rule.kind == victim::h2o) {
        candidate = a <= arrival_new - rule.recent;
        key = sc[i];
      } else if (rule.kind == victim::snapkv) {
        candidate = pinned[i] == 0;
      } else {
        key = sc[i];
      }
      const pick p{key, a, candidate ? i : -1};
      if (before(p, mine)) mine = p;
    }
    best[threadIdx.x] = mine;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
      if (static_cast<int>(threadIdx.x) < half && before(best[threadIdx.x + half], best[threadIdx.x]))
        best[threadIdx.x] = best[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) chosen = best[0].slot;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  const int slot = chosen;
  int evicted = -1;
  if (slot < 0) {
    evicted = -2;
  } else {
    if (held >= limit) {
      evicted = pos[slot];
    } else if (pinned) {
      pinned[slot] = 0;
    }
    pos[slot] = positions[r];
    arr[slot] = arrival_new;
    if (sc) sc[slot] = rule.kind == victim::tova ? __int_as_float(0x7f800000) : 0.0f;
  }
  if (d.tables == 1) {
    for (int h = 0; h < d.n_kv_heads; ++h) {
      slot_out[r * d.n_kv_heads + h] = slot;
      evicted_out[r * d.n_kv_heads + h] = evicted;
    }
  } else {
    slot_out[r * d.n_kv_heads + t] = slot;
    evicted_out[r * d.n_kv_heads + t] = evicted;
  }
  if (advance_too) {
    if (held < limit) s.held[b] = held + 1;
    s.appended[b] = arrival_new + 1;
  }
}

__global__ void advance_kernel(layer_dims d, slot_state s, const std::int32_t* seq_ids, int n) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const int b = seq_ids[r];
  if (s.held[b] < held_limit(d, s, b)) s.held[b] += 1;
  s.appended[b] += 1;
}

// --- scores from weights (H2O, TOVA) ---------------------------------------------------------

// The CPU's reduce_rows: first row, then += (or max) each next row in order;
// mean divides by the count once at the end.
__device__ __forceinline__ float fold_rows(const float* w, std::size_t row_stride, int first, int count, int i,
                                           fold f) {
  float v = w[static_cast<std::size_t>(first) * row_stride + i];
  for (int g = 1; g < count; ++g) {
    const float x = w[static_cast<std::size_t>(first + g) * row_stride + i];
    v = f == fold::max ? (v < x ? x : v) : __fadd_rn(v, x);
  }
  if (f == fold::mean && count > 1) v = __fdiv_rn(v, static_cast<float>(count));
  return v;
}

__global__ void observe_kernel(layer_dims d, slot_state s, fold f, bool accumulate, const std::int32_t* seq_ids,
                               const float* weights, int stride) {
  const int r = blockIdx.x, t = blockIdx.y;
  const int i = blockIdx.z * blockDim.x + threadIdx.x;
  const int b = seq_ids[r];
  if (i >= s.held[b]) return;
  const int group = d.n_heads / d.n_kv_heads;
  const bool whole_layer = s.score_tables == 1;
  const int first = whole_layer ? 0 : t * group;
  const int count = whole_layer ? d.n_heads : group;
  const float v = fold_rows(weights + static_cast<std::size_t>(r) * d.n_heads * stride, stride, first, count, i, f);
  float* sc = s.score + (static_cast<std::size_t>(b) * s.score_tables + t) * d.capacity;
  sc[i] = accumulate ? __fadd_rn(sc[i], v) : v;
}

// --- Quest -----------------------------------------------------------------------------------

// Row r's new key into its page's bounds in KV head kv, channels from
// `first_c` in steps of `step` (the threads of a block).
__device__ __forceinline__ void apply_key(const layer_dims& d, const quest_state& q, int r, int b, int kv,
                                          const std::int32_t* slot_out, const void* keys, bool keys_bf16,
                                          int first_c, int step) {
  const int slot = slot_out[r * d.n_kv_heads + kv];
  if (slot < 0) return;
  const int page = slot / q.page_size;
  const bool first = slot % q.page_size == 0;
  const std::size_t key_base = (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * d.head_dim;
  for (int c = first_c; c < d.head_dim; c += step) {
    const float k = load_key(keys, key_base + c, keys_bf16);
    const std::size_t at = bound_at(d, q, b, kv, page, c);
    if (q.bf16) {
      auto* mx = static_cast<std::uint16_t*>(q.page_max);
      auto* mn = static_cast<std::uint16_t*>(q.page_min);
      if (first || k > from_bf16(mx[at])) mx[at] = bf16_rounded(k, true);
      if (first || k < from_bf16(mn[at])) mn[at] = bf16_rounded(k, false);
    } else {
      auto* mx = static_cast<float*>(q.page_max);
      auto* mn = static_cast<float*>(q.page_min);
      mx[at] = first || k > mx[at] ? k : mx[at];
      mn[at] = first || k < mn[at] ? k : mn[at];
    }
  }
}

__global__ void quest_bounds_kernel(layer_dims d, quest_state q, const std::int32_t* seq_ids,
                                    const std::int32_t* slot_out, const void* keys, bool keys_bf16) {
  const int r = blockIdx.x, kv = blockIdx.y;
  apply_key(d, q, r, seq_ids[r], kv, slot_out, keys, keys_bf16, threadIdx.x, blockDim.x);
}

// Channel c of the group's q+ and q- (the sum and mean folds), summed over
// the group's query heads in order, as the CPU planner sums them.
__device__ __forceinline__ void group_signs(const float* qrow, int group, int D, int c, float& pos, float& neg) {
  float p = 0.0f, m = 0.0f;
  for (int g = 0; g < group; ++g) {
    const float x = qrow[g * D + c];
    p = __fadd_rn(p, x > 0.0f ? x : 0.0f);
    m = __fadd_rn(m, x < 0.0f ? x : 0.0f);
  }
  pos = p;
  neg = m;
}

// One bound row of a tile for the PPT adjacent pages a thread owns: one load
// of PPT * sizeof(T) bytes kept as loaded (`raw`, so that a bf16 pair of
// pages holds one register until its arithmetic), then widened to PPT
// floats (bf16: a page is a 16-bit half, the lower page in the low half).
__device__ __forceinline__ float widen_bound(float x) { return x; }
__device__ __forceinline__ float widen_bound(std::uint16_t x) { return from_bf16(x); }

template <class T, int PPT>
struct row_of;
template <>
struct row_of<float, 1> {
  using raw = float;
  __device__ static void widen(raw x, float* v) { v[0] = x; }
};
template <>
struct row_of<float, 2> {
  using raw = float2;
  __device__ static void widen(raw x, float* v) {
    v[0] = x.x;
    v[1] = x.y;
  }
};
template <>
struct row_of<float, 4> {
  using raw = float4;
  __device__ static void widen(raw x, float* v) {
    v[0] = x.x;
    v[1] = x.y;
    v[2] = x.z;
    v[3] = x.w;
  }
};
__device__ __forceinline__ void unpack2(unsigned w, float* v) {
  v[0] = __uint_as_float(w << 16);
  v[1] = __uint_as_float(w & 0xFFFF0000u);
}
template <>
struct row_of<std::uint16_t, 2> {
  using raw = unsigned;
  __device__ static void widen(raw x, float* v) { unpack2(x, v); }
};
template <>
struct row_of<std::uint16_t, 4> {
  using raw = uint2;
  __device__ static void widen(raw x, float* v) {
    unpack2(x.x, v);
    unpack2(x.y, v + 2);
  }
};
template <>
struct row_of<std::uint16_t, 8> {
  using raw = uint4;
  __device__ static void widen(raw x, float* v) {
    unpack2(x.x, v);
    unpack2(x.y, v + 2);
    unpack2(x.z, v + 4);
    unpack2(x.w, v + 6);
  }
};

// A thread scores PPT adjacent pages of one tile, each page's sum over
// channels c = 0..D-1 of (q+ max + q- min) in the CPU's order; the group's
// q+ / q- are summed per channel in query-head order (sum, mean) or kept per
// head (max).
//
// Why few pages per thread: the order of the sum is fixed (channel by
// channel, one accumulator per page), so a page's channels cannot be split
// between threads; the parallelism is the pages (batch 32 x 8 KV heads x 2048
// pages at 32k), and what a thread can keep in flight is its loads issued
// ahead of their arithmetic (loads_ahead channels of both bounds, kept as
// loaded: a bf16 pair of pages is one register). Fewer pages per thread is
// more threads but narrower loads, more per thread the opposite; the H200
// measured (docs/kv_gpu_run/out_quest_variants, the whole Quest step at 32k):
// bf16 4 pages per thread (8-byte loads, 131,072 threads) 117 us against 171
// with 2 and 138 with 8; fp32 1 page per thread (4-byte loads) 168 us, 2
// pages 188, 4 pages 174. Those are the defaults; the other widths and 16
// loads ahead (more registers, fewer resident warps: no faster) stay for
// measurement (quest_state::pages_per_thread, loads_ahead).
// One raw bound row as the scoring reads it: a plain load (PF = 0), or the
// same load asking L2 to fetch the PF-byte block around it on a miss
// (ld.global.L2::128B / L2::256B, quest_state::prefetch). Why a hint: a
// tile's row of one channel is 32 contiguous bytes in bf16 (64 in fp32), so
// each load instruction of a warp asks for 32-byte sectors 4 KB apart; a
// thread's next channels follow in the same tile (LA rows = 256 contiguous
// bytes in bf16), and the hint turns their separate sector misses into one
// DRAM request of the whole run. Not .nc (the read-only path): the variant
// differs from the plain load by the hint alone.
template <int PF, class Raw>
__device__ __forceinline__ Raw load_row(const Raw* p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  constexpr bool hint = false;  // .L2::256B needs sm_80; older GPUs load plainly
#else
  constexpr bool hint = PF != 0;
#endif
  if constexpr (!hint) {
    return *p;
  } else {
    static_assert(PF == 128 || PF == 256, "prefetch 128 or 256 bytes");
    Raw v;
    if constexpr (sizeof(Raw) == 4) {
      unsigned x;
      if constexpr (PF == 128) asm("ld.global.L2::128B.b32 %0, [%1];" : "=r"(x) : "l"(p));
      else asm("ld.global.L2::256B.b32 %0, [%1];" : "=r"(x) : "l"(p));
      memcpy(&v, &x, 4);
    } else if constexpr (sizeof(Raw) == 8) {
      uint2 x;
      if constexpr (PF == 128) asm("ld.global.L2::128B.v2.b32 {%0, %1}, [%2];" : "=r"(x.x), "=r"(x.y) : "l"(p));
      else asm("ld.global.L2::256B.v2.b32 {%0, %1}, [%2];" : "=r"(x.x), "=r"(x.y) : "l"(p));
      memcpy(&v, &x, 8);
    } else {
      static_assert(sizeof(Raw) == 16, "4-, 8- or 16-byte rows");
      uint4 x;
      if constexpr (PF == 128)
        asm("ld.global.L2::128B.v4.b32 {%0, %1, %2, %3}, [%4];" : "=r"(x.x), "=r"(x.y), "=r"(x.z), "=r"(x.w) : "l"(p));
      else
        asm("ld.global.L2::256B.v4.b32 {%0, %1, %2, %3}, [%4];" : "=r"(x.x), "=r"(x.y), "=r"(x.z), "=r"(x.w) : "l"(p));
      memcpy(&v, &x, 16);
    }
    return v;
  }
}

__device__ __forceinline__ int q_rows_of(const layer_dims& d, const quest_state& q) {
  return q.gqa == fold::max ? d.n_heads / d.n_kv_heads : 1;
}

// The group's q+ / q- into shared memory ([2][q_rows][D]): per channel,
// summed over the group in query-head order (sum, mean) or kept per head (max).
__device__ __forceinline__ void stage_signs(const layer_dims& d, const quest_state& q, int r, int kv,
                                            const float* query, float* qs) {
  const int group = d.n_heads / d.n_kv_heads;
  const int D = d.head_dim;
  const int q_rows = q.gqa == fold::max ? group : 1;
  float* qp = qs;
  float* qn = qs + q_rows * D;
  const float* qrow = query + (static_cast<std::size_t>(r) * d.n_heads + kv * group) * D;
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    if (q.gqa == fold::max) {
      for (int g = 0; g < group; ++g) {
        const float x = qrow[g * D + c];
        qp[g * D + c] = x > 0.0f ? x : 0.0f;
        qn[g * D + c] = x < 0.0f ? x : 0.0f;
      }
    } else {
      group_signs(qrow, group, D, c, qp[c], qn[c]);
    }
  }
}

// Where score_pages finds the q+ / q- of channel c of the g-th row of q:
// staged in shared memory by stage_signs ([2][rows_of_q][D]).
struct shared_signs {
  const float* qs;
  int q_rows, D;
  struct head {
    const float* p;
    const float* m;
    __device__ __forceinline__ void at(int c, float& pc, float& mc) const {
      pc = p[c];
      mc = m[c];
    }
  };
  __device__ __forceinline__ head of(int g) const { return head{qs + g * D, qs + q_rows * D + g * D}; }
};

// The scores of the PPT pages from page0 of (b, kv), in the CPU's order:
// out[j] for page page0 + j, before the mean fold's division.
template <class T, int PPT, int LA, int PF, class Signs>
__device__ __forceinline__ void score_pages(const layer_dims& d, const quest_state& q, int b, int kv, int page0,
                                            const Signs& signs, float* out) {
  const int group = d.n_heads / d.n_kv_heads;
  const int D = d.head_dim;
  const int q_rows = q.gqa == fold::max ? group : 1;
  using row = row_of<T, PPT>;
  const T* mx = static_cast<const T*>(q.page_max) + bound_at(d, q, b, kv, page0, 0);
  const T* mn = static_cast<const T*>(q.page_min) + bound_at(d, q, b, kv, page0, 0);
  for (int g = 0; g < q_rows; ++g) {
    const typename Signs::head sg = signs.of(g);
    float acc[PPT];
#pragma unroll
    for (int j = 0; j < PPT; ++j) acc[j] = 0.0f;
    int c = 0;
    // The raw loads of LA channels first, then their arithmetic in channel order.
    for (; c + LA <= D; c += LA) {
      typename row::raw x[LA], y[LA];
#pragma unroll
      for (int u = 0; u < LA; ++u) {
        x[u] = load_row<PF>(reinterpret_cast<const typename row::raw*>(mx + static_cast<std::size_t>(c + u) * kTile));
        y[u] = load_row<PF>(reinterpret_cast<const typename row::raw*>(mn + static_cast<std::size_t>(c + u) * kTile));
      }
#pragma unroll
      for (int u = 0; u < LA; ++u) {
        float hi[PPT], lo[PPT];
        row::widen(x[u], hi);
        row::widen(y[u], lo);
        float pc, mc;
        sg.at(c + u, pc, mc);
#pragma unroll
        for (int j = 0; j < PPT; ++j) acc[j] = __fadd_rn(acc[j], __fadd_rn(__fmul_rn(pc, hi[j]), __fmul_rn(mc, lo[j])));
      }
    }
    for (; c < D; ++c) {
      float hi[PPT], lo[PPT];
      row::widen(load_row<PF>(reinterpret_cast<const typename row::raw*>(mx + static_cast<std::size_t>(c) * kTile)), hi);
      row::widen(load_row<PF>(reinterpret_cast<const typename row::raw*>(mn + static_cast<std::size_t>(c) * kTile)), lo);
      float pc, mc;
      sg.at(c, pc, mc);
#pragma unroll
      for (int j = 0; j < PPT; ++j) acc[j] = __fadd_rn(acc[j], __fadd_rn(__fmul_rn(pc, hi[j]), __fmul_rn(mc, lo[j])));
    }
#pragma unroll
    for (int j = 0; j < PPT; ++j) out[j] = g == 0 ? acc[j] : (acc[j] > out[j] ? acc[j] : out[j]);
  }
}

// Blocks a scoring kernel of Threads threads keeps resident per SM: as many
// as 1024 threads (2048 at 2 pages per thread, whose registers allow it; half
// with 16 loads ahead, whose registers do not allow more).
constexpr int score_blocks(int threads, int ppt, int la) {
  return (la > 8 ? 512 : (ppt == 2 ? 2048 : 1024)) / threads;
}

// The part of the pages a scoring block owns: blockIdx.z, or with
// quest_state::tail_first the reverse, so that the last, partial block of
// each (row, KV head) - the one past a multiple of kThreads * PPT pages -
// is dispatched with the first wave rather than after it. (Blocks start in
// index order, z last; a late block with a handful of threads still runs a
// whole chain of head_dim channels of loads, mostly alone, at the end.)
__device__ __forceinline__ int block_z(const quest_state& q) {
  return q.tail_first ? static_cast<int>(gridDim.z - 1 - blockIdx.z) : static_cast<int>(blockIdx.z);
}

// The step's new keys, for a scoring launch that also applies them (the
// unfused quest_step): none when slot_out is null.
struct new_keys {
  const std::int32_t* slot_out;
  const void* keys;
  bool bf16;
};

// With keys, the first part of each (row, KV head) also applies the row's new
// key to its page's bounds, which saves the bounds launch: the key's page is
// the current one, which no thread scores (as in the fused kernels).
template <class T, int PPT, int LA, int PF>
__global__ void __launch_bounds__(kThreads, score_blocks(kThreads, PPT, LA)) quest_score_kernel(
    layer_dims d, slot_state s, quest_state q, const std::int32_t* seq_ids, const float* query, float* scratch,
    new_keys add) {
  extern __shared__ float qs[];  // [2][rows_of_q][D]
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int z = block_z(q);
  if (add.slot_out != nullptr && z == 0)
    apply_key(d, q, r, b, kv, add.slot_out, add.keys, add.bf16, static_cast<int>(threadIdx.x), kThreads);
  const int n_pages = (s.held[b] + q.page_size - 1) / q.page_size;
  if (n_pages <= q.budget_pages) return;
  const int current = n_pages - 1;
  if (z * kThreads * PPT >= current) return;
  stage_signs(d, q, r, kv, query, qs);
  __syncthreads();
  const int page0 = (z * kThreads + static_cast<int>(threadIdx.x)) * PPT;
  if (page0 >= current) return;
  float out[PPT];
  score_pages<T, PPT, LA, PF>(d, q, b, kv, page0, shared_signs{qs, q_rows_of(d, q), d.head_dim}, out);
  const float inv = __fdiv_rn(1.0f, static_cast<float>(d.n_heads / d.n_kv_heads));
  float* dst = scratch + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.max_pages;
#pragma unroll
  for (int j = 0; j < PPT; ++j)
    if (page0 + j < current) dst[page0 + j] = q.gqa == fold::mean ? __fmul_rn(out[j], inv) : out[j];
}

// Staged scoring (quest_state::staged; sum and mean folds): a block of 256
// threads owns 16 tiles (256 pages) of one (row, KV head), thread t page t.
// Per chunk of channels - 1 KB of each tile and bound (32 bf16 channels, 16
// fp32) - the block first copies the 16 tiles' chunks of both bounds into
// shared memory with 16-byte loads (a warp instruction reads 512 contiguous
// bytes, a tile's chunk is 1 KB contiguous, so DRAM sees kilobyte runs rather
// than one 32-byte row per tile at a time), then each thread runs its page
// through the chunk's channels from shared memory, in the CPU's order. Each
// tile's copy is padded by one row so that the two tiles a warp reads fall
// in different banks.
template <class T>
__global__ void __launch_bounds__(kThreads) quest_score_staged_kernel(layer_dims d, slot_state s, quest_state q,
                                                                      const std::int32_t* seq_ids, const float* query,
                                                                      float* scratch) {
  constexpr int kChunkBytes = 1024;
  constexpr int CH = kChunkBytes / (kTile * static_cast<int>(sizeof(T)));  // channels per chunk
  constexpr int kTiles = kThreads / kTile;                                  // 16
  constexpr int kStride = CH * kTile + kTile;                               // elements per staged tile
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));                    // elements per 16-byte load
  constexpr int kLoads = 2 * kTiles * (CH * kTile / kVec) / kThreads;      // 16-byte loads per thread
  __shared__ __align__(16) T stage[2][kTiles * kStride];
  extern __shared__ float qs[];  // [2][D]
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int n_pages = (s.held[b] + q.page_size - 1) / q.page_size;
  if (n_pages <= q.budget_pages) return;
  const int current = n_pages - 1;
  const int tile0 = static_cast<int>(blockIdx.z) * kTiles;
  const int tiles_needed = (current + kTile - 1) / kTile;
  if (tile0 >= tiles_needed) return;
  const int tiles_here = min(kTiles, tiles_needed - tile0);
  const int group = d.n_heads / d.n_kv_heads;
  const int D = d.head_dim;
  const int tid = static_cast<int>(threadIdx.x);
  float* qp = qs;
  float* qn = qs + D;
  const float* qrow = query + (static_cast<std::size_t>(r) * d.n_heads + kv * group) * D;
  for (int c = tid; c < D; c += kThreads) {
    group_signs(qrow, group, D, c, qp[c], qn[c]);
  }
  const T* const max_base = static_cast<const T*>(q.page_max);
  const T* const min_base = static_cast<const T*>(q.page_min);
  const int my_tile = tid / kTile, lane = tid % kTile;
  const int page = tile0 * kTile + tid;
  float acc = 0.0f;
  for (int c0 = 0; c0 < D; c0 += CH) {
    const int ch = min(CH, D - c0);
    const int per_tile = ch * kTile / kVec;  // 16-byte loads per tile chunk
    const int total = 2 * tiles_here * per_tile;
    uint4 v[kLoads];
#pragma unroll
    for (int k = 0; k < kLoads; ++k) {
      const int i = tid + k * kThreads;
      if (i < total) {
        const int bound = i / (tiles_here * per_tile), rest = i % (tiles_here * per_tile);
        const int t = rest / per_tile, e = rest % per_tile;
        v[k] = *reinterpret_cast<const uint4*>((bound == 0 ? max_base : min_base) +
                                               bound_at(d, q, b, kv, (tile0 + t) * kTile, c0) +
                                               static_cast<std::size_t>(e) * kVec);
      }
    }
    __syncthreads();  // the previous chunk's reads are done (and qs is written)
#pragma unroll
    for (int k = 0; k < kLoads; ++k) {
      const int i = tid + k * kThreads;
      if (i < total) {
        const int bound = i / (tiles_here * per_tile), rest = i % (tiles_here * per_tile);
        const int t = rest / per_tile, e = rest % per_tile;
        *reinterpret_cast<uint4*>(&stage[bound][t * kStride + e * kVec]) = v[k];
      }
    }
    __syncthreads();
    if (page < current) {
      const T* hi = &stage[0][my_tile * kStride + lane];
      const T* lo = &stage[1][my_tile * kStride + lane];
      for (int c = 0; c < ch; ++c) {
        const float x = widen_bound(hi[c * kTile]), y = widen_bound(lo[c * kTile]);
        acc = __fadd_rn(acc, __fadd_rn(__fmul_rn(qp[c0 + c], x), __fmul_rn(qn[c0 + c], y)));
      }
    }
  }
  if (page < current) {
    float* dst = scratch + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.max_pages;
    dst[page] = q.gqa == fold::mean ? __fmul_rn(acc, __fdiv_rn(1.0f, static_cast<float>(group))) : acc;
  }
}

// Top-k reads the page scores four or five times: from shared memory while they fit
// in 40 KB (beside the top-k's own 3.5 KB, under the 48 KB default).
constexpr int kSharedPages = 10240;

__global__ void quest_topk_kernel(layer_dims d, slot_state s, quest_state q, const std::int32_t* seq_ids,
                                  const float* scratch, std::int32_t* pages_out, std::int32_t* counts_out) {
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int n_pages = (s.held[b] + q.page_size - 1) / q.page_size;
  std::int32_t* out = pages_out + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.budget_pages;
  if (n_pages <= q.budget_pages) {
    for (int p = threadIdx.x; p < n_pages; p += blockDim.x) out[p] = p;
    if (threadIdx.x == 0) counts_out[r * d.n_kv_heads + kv] = n_pages;
    return;
  }
  const int current = n_pages - 1;
  const int keep = q.budget_pages - 1;
  extern __shared__ float page_scores[];  // [max_pages] when they fit (see quest_select)
  const float* sc = scratch + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.max_pages;
  if (q.max_pages <= kSharedPages) {
    for (int p = threadIdx.x; p < current; p += blockDim.x) page_scores[p] = sc[p];
    __syncthreads();
    sc = page_scores;
  }
  int kept = 0;
  if (keep > 0) {
    auto key = [sc](int p) { return rank_key(sc[p], p); };
    const std::uint64_t threshold = kth_largest<kThreads>(key, current, keep);
    kept = compact_ascending<kThreads>([&](int p) { return key(p) >= threshold; }, current, out);
  }
  if (threadIdx.x == 0) {
    out[kept] = current;
    counts_out[r * d.n_kv_heads + kv] = kept + 1;
  }
}

// The fused Quest step (quest_state::fused, quest_step): one block of
// kFusedThreads per (row, KV head) applies the new key to its page's bounds,
// scores every page below the current one (the same per-thread code and
// width as quest_score_kernel, in rounds of kFusedThreads * PPT pages), keeps
// the scores in shared memory and runs the top-k there: one launch instead
// of three (bounds, scoring, top-k), and no round trip of the scores through
// global memory. At batch 32 x 8 KV heads, 256 blocks of 512 threads are the
// same 131,072 scoring threads as the default grid at 32k (two blocks per SM,
// one wave on 132 SMs); with few rows the parallelism is only n x KV blocks,
// which is why this is a knob and not the default. Two blocks per SM: 64
// registers, the default width's (fewer would spill at 2 pages per thread).
constexpr int kFusedThreads = 512;

template <class T, int PPT, int PF>
__global__ void __launch_bounds__(kFusedThreads, 2) quest_fused_kernel(
    layer_dims d, slot_state s, quest_state q, const std::int32_t* seq_ids, const std::int32_t* slot_out,
    const void* keys, bool keys_bf16, const float* query, float* scratch, bool scores_shared,
    std::int32_t* pages_out, std::int32_t* counts_out) {
  extern __shared__ float sh[];  // q+/q- [2][rows_of_q][D], then the scores [max_pages] if scores_shared
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int tid = static_cast<int>(threadIdx.x);
  apply_key(d, q, r, b, kv, slot_out, keys, keys_bf16, tid, kFusedThreads);
  const int n_pages = (s.held[b] + q.page_size - 1) / q.page_size;
  std::int32_t* out = pages_out + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.budget_pages;
  if (n_pages <= q.budget_pages) {
    for (int p = tid; p < n_pages; p += kFusedThreads) out[p] = p;
    if (tid == 0) counts_out[r * d.n_kv_heads + kv] = n_pages;
    return;
  }
  const int current = n_pages - 1;
  const int keep = q.budget_pages - 1;
  const int q_rows = q.gqa == fold::max ? d.n_heads / d.n_kv_heads : 1;
  float* sc = scores_shared ? sh + 2 * q_rows * d.head_dim
                            : scratch + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.max_pages;
  stage_signs(d, q, r, kv, query, sh);
  // Also orders the key's bounds before any read of them (the key's page is
  // the current one, which no thread scores, for Quest's own appends).
  __syncthreads();
  const float inv = __fdiv_rn(1.0f, static_cast<float>(d.n_heads / d.n_kv_heads));
  for (int page0 = tid * PPT; page0 < current; page0 += kFusedThreads * PPT) {
    float o[PPT];
    score_pages<T, PPT, 8, PF>(d, q, b, kv, page0, shared_signs{sh, q_rows, d.head_dim}, o);
#pragma unroll
    for (int j = 0; j < PPT; ++j)
      if (page0 + j < current) sc[page0 + j] = q.gqa == fold::mean ? __fmul_rn(o[j], inv) : o[j];
  }
  __syncthreads();
  int kept = 0;
  if (keep > 0) {
    auto key = [sc](int p) { return rank_key(sc[p], p); };
    const std::uint64_t threshold = kth_largest<kFusedThreads>(key, current, keep);
    kept = compact_ascending<kFusedThreads>([&](int p) { return key(p) >= threshold; }, current, out);
  }
  if (tid == 0) {
    out[kept] = current;
    counts_out[r * d.n_kv_heads + kv] = kept + 1;
  }
}

// The fused step over the scoring grid (quest_state::fused = 2): the default
// kernel's blocks (any number of rows keeps its parallelism), the first part
// of each (row, KV head) also applying the new key; each block writes its
// scores to scratch and counts itself done, and the last of a (row, KV
// head)'s blocks to finish runs the top-k there, so one launch does the
// three and a top-k overlaps the other heads' scoring. The count lives in
// the last float of the scratch row, which no score uses (scores fill
// 0..current-1, current < max_pages): zero before the first call, and the
// last block sets it back to zero.
template <class T, int PPT, int PF>
__global__ void __launch_bounds__(kThreads, score_blocks(kThreads, PPT, 8)) quest_grid_fused_kernel(
    layer_dims d, slot_state s, quest_state q, const std::int32_t* seq_ids, const std::int32_t* slot_out,
    const void* keys, bool keys_bf16, const float* query, float* scratch, bool scores_shared,
    std::int32_t* pages_out, std::int32_t* counts_out) {
  extern __shared__ float sh[];  // q+/q- [2][rows_of_q][D], then the scores [max_pages] if scores_shared
  __shared__ int last;
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int tid = static_cast<int>(threadIdx.x);
  const int z = block_z(q);
  if (z == 0) apply_key(d, q, r, b, kv, slot_out, keys, keys_bf16, tid, kThreads);
  const int n_pages = (s.held[b] + q.page_size - 1) / q.page_size;
  std::int32_t* out = pages_out + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.budget_pages;
  if (n_pages <= q.budget_pages) {
    if (z == 0) {
      for (int p = tid; p < n_pages; p += kThreads) out[p] = p;
      if (tid == 0) counts_out[r * d.n_kv_heads + kv] = n_pages;
    }
    return;
  }
  const int current = n_pages - 1;
  const int active = blocks_for_device(current, kThreads * PPT);
  if (z >= active) return;
  const int q_rows = q.gqa == fold::max ? d.n_heads / d.n_kv_heads : 1;
  float* row_scores = scratch + (static_cast<std::size_t>(r) * d.n_kv_heads + kv) * q.max_pages;
  stage_signs(d, q, r, kv, query, sh);
  __syncthreads();
  const int page0 = (z * kThreads + tid) * PPT;
  if (page0 < current) {
    float o[PPT];
    score_pages<T, PPT, 8, PF>(d, q, b, kv, page0, shared_signs{sh, q_rows, d.head_dim}, o);
    const float inv = __fdiv_rn(1.0f, static_cast<float>(d.n_heads / d.n_kv_heads));
#pragma unroll
    for (int j = 0; j < PPT; ++j)
      if (page0 + j < current) row_scores[page0 + j] = q.gqa == fold::mean ? __fmul_rn(o[j], inv) : o[j];
  }
  // Every thread's scores visible device-wide before the block counts itself.
  __threadfence();
  __syncthreads();
  unsigned* done = reinterpret_cast<unsigned*>(row_scores + q.max_pages - 1);
  if (tid == 0) last = atomicAdd(done, 1u) == static_cast<unsigned>(active - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  if (tid == 0) *done = 0u;
  // Other blocks' scores: read through L2 (__ldcg), never a stale L1 line.
  const float* sc = row_scores;
  float* staged_scores = sh + 2 * q_rows * d.head_dim;
  if (scores_shared) {
    for (int p = tid; p < current; p += kThreads) staged_scores[p] = __ldcg(row_scores + p);
    __syncthreads();
    sc = staged_scores;
  }
  const int keep = q.budget_pages - 1;
  int kept = 0;
  if (keep > 0) {
    auto key = [sc, scores_shared](int p) { return rank_key(scores_shared ? sc[p] : __ldcg(sc + p), p); };
    const std::uint64_t threshold = kth_largest<kThreads>(key, current, keep);
    kept = compact_ascending<kThreads>([&](int p) { return key(p) >= threshold; }, current, out);
  }
  if (tid == 0) {
    out[kept] = current;
    counts_out[r * d.n_kv_heads + kv] = kept + 1;
  }
}

// --- SnapKV ----------------------------------------------------------------------------------

__global__ void snapkv_observe_kernel(layer_dims d, slot_state s, snapkv_state k, const std::int32_t* seq_ids,
                                      const float* weights, int stride) {
  const int r = blockIdx.x, kv = blockIdx.y;
  const int i = blockIdx.z * blockDim.x + threadIdx.x;
  const int b = seq_ids[r];
  if (k.prefilled[b] || i >= s.held[b]) return;
  const int group = d.n_heads / d.n_kv_heads;
  const float v = fold_rows(weights + static_cast<std::size_t>(r) * d.n_heads * stride, stride, kv * group, group, i,
                            k.gqa);
  float* row = k.rows + ((static_cast<std::size_t>(b) * d.n_kv_heads + kv) * k.window + k.next_row[b]) * d.capacity;
  row[i] = v;
}

__global__ void snapkv_advance_kernel(slot_state s, snapkv_state k, const std::int32_t* seq_ids, int n) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const int b = seq_ids[r];
  if (k.prefilled[b]) return;
  k.row_len[b * k.window + k.next_row[b]] = s.held[b];
  k.next_row[b] = k.next_row[b] + 1 == k.window ? 0 : k.next_row[b] + 1;
  k.rows_seen[b] = k.rows_seen[b] < k.window ? k.rows_seen[b] + 1 : k.window;
}

__global__ void snapkv_done_kernel(layer_dims d, slot_state s, snapkv_state k, const std::int32_t* seq_ids,
                                   float* scratch, std::int32_t* kept_out, std::int32_t* kept_count) {
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int C = d.capacity;
  const std::size_t rk = static_cast<std::size_t>(r) * d.n_kv_heads + kv;
  std::int32_t* kept = kept_out + rk * C;
  if (k.prefilled[b]) {
    if (threadIdx.x == 0) kept_count[rk] = -1;
    return;
  }
  const int n = s.held[b];
  const int win = k.window < n ? k.window : n;
  const int prefix = n - win;
  std::uint8_t* pinned = k.pinned + (static_cast<std::size_t>(b) * d.n_kv_heads + kv) * C;
  if (n <= k.budget) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      pinned[i] = i < prefix ? 1 : 0;
      kept[i] = i;
    }
    if (threadIdx.x == 0) kept_count[rk] = n;
    return;
  }
  float* score = scratch + rk * 2 * C;
  float* pooled = score + C;
  const float* rows = k.rows + (static_cast<std::size_t>(b) * d.n_kv_heads + kv) * k.window * C;
  const int seen = k.rows_seen[b], next = k.next_row[b];
  for (int i = threadIdx.x; i < prefix; i += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < seen; ++j) {
      const int row = (next - seen + j + k.window) % k.window;
      const int len = k.row_len[b * k.window + row];
      if (i < len) acc = __fadd_rn(acc, rows[static_cast<std::size_t>(row) * C + i]);
    }
    score[i] = acc;
  }
  __syncthreads();
  const int half = k.kernel / 2;
  for (int i = threadIdx.x; i < prefix; i += blockDim.x) {
    const int lo = i - half < 0 ? 0 : i - half;
    const int hi = i + half >= prefix ? prefix - 1 : i + half;
    float v;
    if (k.max_pool) {
      v = score[lo];
      for (int j = lo + 1; j <= hi; ++j) v = score[j] > v ? score[j] : v;
    } else {
      v = 0.0f;
      for (int j = lo; j <= hi; ++j) v = __fadd_rn(v, score[j]);
      v = __fdiv_rn(v, static_cast<float>(k.kernel));
    }
    pooled[i] = v;
  }
  __syncthreads();
  const int keep = k.budget - win;
  auto key = [pooled](int i) { return rank_key(pooled[i], i); };
  const std::uint64_t threshold = kth_largest<kThreads>(key, prefix, keep);
  const int count = compact_ascending<kThreads>([&](int i) { return i >= prefix || key(i) >= threshold; }, n, kept);
  __syncthreads();
  // Renumber: slot i takes the token of kept[i] (kept[i] >= i), read all
  // first; the score and pooled rows are free now and hold the copies.
  std::int32_t* tmp_pos = reinterpret_cast<std::int32_t*>(score);
  std::int32_t* tmp_arr = reinterpret_cast<std::int32_t*>(pooled);
  std::int32_t* arr = s.arrival + (static_cast<std::size_t>(b) * d.tables + kv) * C;
  std::int32_t* pos = s.position + (static_cast<std::size_t>(b) * d.tables + kv) * C;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    tmp_pos[i] = pos[kept[i]];
    tmp_arr[i] = arr[kept[i]];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    pos[i] = i < count ? tmp_pos[i] : -1;
    arr[i] = i < count ? tmp_arr[i] : -1;
    pinned[i] = (i < count && kept[i] < prefix) ? 1 : 0;
  }
  if (threadIdx.x == 0) kept_count[rk] = count;
}

__global__ void snapkv_finish_kernel(slot_state s, snapkv_state k, const std::int32_t* seq_ids, int n) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const int b = seq_ids[r];
  if (k.prefilled[b]) return;
  if (s.held[b] > k.budget) s.held[b] = k.budget;
  if (k.evict_generated && s.held_cap) s.held_cap[b] = k.budget;
  k.prefilled[b] = 1;
}

// --- attention weights -----------------------------------------------------------------------

// Dots: a block per (row, KV head, 64 slots), a warp per slot; each lane holds
// its channels of the key (loaded once) and forms the dot with every query
// head of the group, reduced across the warp. Then a block per (row, query
// head) turns its scores into a softmax.
constexpr int kSlotsPerBlock = 64;
constexpr int kMaxChannelsPerLane = 8;  // head_dim <= 256

template <bool Bf16>
__global__ void dots_kernel(layer_dims d, const std::int32_t* held, const std::int32_t* seq_ids, const float* query,
                            const void* keys, float scale, float* probs, int stride) {
  extern __shared__ float qsh[];  // [group][D]
  const int r = blockIdx.x, kv = blockIdx.y;
  const int b = seq_ids[r];
  const int n = held[b];
  const int first = blockIdx.z * kSlotsPerBlock;
  if (first >= n) return;
  const int group = d.n_heads / d.n_kv_heads;
  const int D = d.head_dim;
  const float* qrow = query + (static_cast<std::size_t>(r) * d.n_heads + kv * group) * D;
  for (int i = threadIdx.x; i < group * D; i += blockDim.x) qsh[i] = qrow[i];
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const std::size_t kbase = (static_cast<std::size_t>(b) * d.n_kv_heads + kv) * d.capacity * D;
  float* out = probs + (static_cast<std::size_t>(r) * d.n_heads + kv * group) * stride;
  const int last = first + kSlotsPerBlock < n ? first + kSlotsPerBlock : n;
  for (int i = first + warp; i < last; i += warps) {
    float kreg[kMaxChannelsPerLane];
#pragma unroll
    for (int u = 0; u < kMaxChannelsPerLane; ++u) {
      const int c = lane + 32 * u;
      const std::size_t at = kbase + static_cast<std::size_t>(i) * D + c;
      kreg[u] = c < D ? (Bf16 ? from_bf16(static_cast<const std::uint16_t*>(keys)[at]) : static_cast<const float*>(keys)[at])
                      : 0.0f;
    }
    for (int g = 0; g < group; ++g) {
      float acc = 0.0f;
#pragma unroll
      for (int u = 0; u < kMaxChannelsPerLane; ++u) {
        const int c = lane + 32 * u;
        if (c < D) acc += qsh[g * D + c] * kreg[u];
      }
      for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
      if (lane == 0) out[static_cast<std::size_t>(g) * stride + i] = acc * scale;
    }
  }
}

__global__ void softmax_kernel(layer_dims d, const std::int32_t* held, const std::int32_t* seq_ids, float* probs,
                               int stride) {
  __shared__ float red[kThreads / 32];
  const int r = blockIdx.x, hq = blockIdx.y;
  const int n = held[seq_ids[r]];
  float* row = probs + (static_cast<std::size_t>(r) * d.n_heads + hq) * stride;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  float m = -3.0e38f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, row[i]);
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = red[0];
  for (int w = 1; w < warps; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  float sum = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(row[i] - m);
    row[i] = e;
    sum += e;
  }
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane == 0) red[warp] = sum;
  __syncthreads();
  sum = 0.0f;
  for (int w = 0; w < warps; ++w) sum += red[w];
  const float inv = 1.0f / sum;
  for (int i = threadIdx.x; i < n; i += blockDim.x) row[i] *= inv;
}

int blocks_for(int n, int per) { return (n + per - 1) / per; }

template <class T, int PPT, int LA>
void launch_score_la(const dim3& grid, const layer_dims& d, const slot_state& s, const quest_state& q,
                     const std::int32_t* seq_ids, const float* query, float* scratch, const new_keys& add,
                     std::size_t smem, cudaStream_t st) {
  if (q.prefetch == 256) {
    quest_score_kernel<T, PPT, LA, 256><<<grid, kThreads, smem, st>>>(d, s, q, seq_ids, query, scratch, add);
  } else if (q.prefetch == 128) {
    quest_score_kernel<T, PPT, LA, 128><<<grid, kThreads, smem, st>>>(d, s, q, seq_ids, query, scratch, add);
  } else {
    quest_score_kernel<T, PPT, LA, 0><<<grid, kThreads, smem, st>>>(d, s, q, seq_ids, query, scratch, add);
  }
}

template <class T, int PPT>
void launch_score(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                  const float* query, float* scratch, const new_keys& add, std::size_t smem, cudaStream_t st) {
  const dim3 grid(n, d.n_kv_heads, blocks_for(q.max_pages, kThreads * PPT));
  if (q.loads_ahead == 16) {
    launch_score_la<T, PPT, 16>(grid, d, s, q, seq_ids, query, scratch, add, smem, st);
  } else {
    launch_score_la<T, PPT, 8>(grid, d, s, q, seq_ids, query, scratch, add, smem, st);
  }
}

// The q+/q- of the scoring kernels: [2][rows_of_q][D] floats.
std::size_t signs_bytes(const layer_dims& d, const quest_state& q) {
  const int group = d.n_heads / d.n_kv_heads;
  return sizeof(float) * 2 * (q.gqa == fold::max ? group : 1) * d.head_dim;
}

template <class T, int PPT>
void launch_fused(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                  const std::int32_t* slot_out, const void* keys, bool keys_bf16, const float* query, float* scratch,
                  std::int32_t* pages_out, std::int32_t* counts_out, cudaStream_t st) {
  // The scores stay in shared memory while they fit under the 48 KB default
  // beside the signs and the top-k's own 3.5 KB; else in scratch.
  const std::size_t signs = signs_bytes(d, q);
  const std::size_t scores = sizeof(float) * static_cast<std::size_t>(q.max_pages);
  const bool shared = signs + scores + 4096 <= 48 * 1024;
  const std::size_t smem = signs + (shared ? scores : 0);
  if (q.fused == 2) {
    const dim3 grid(n, d.n_kv_heads, blocks_for(q.max_pages, kThreads * PPT));
    if (q.prefetch == 256) {
      quest_grid_fused_kernel<T, PPT, 256><<<grid, kThreads, smem, st>>>(
          d, s, q, seq_ids, slot_out, keys, keys_bf16, query, scratch, shared, pages_out, counts_out);
    } else if (q.prefetch == 128) {
      quest_grid_fused_kernel<T, PPT, 128><<<grid, kThreads, smem, st>>>(
          d, s, q, seq_ids, slot_out, keys, keys_bf16, query, scratch, shared, pages_out, counts_out);
    } else {
      quest_grid_fused_kernel<T, PPT, 0><<<grid, kThreads, smem, st>>>(
          d, s, q, seq_ids, slot_out, keys, keys_bf16, query, scratch, shared, pages_out, counts_out);
    }
    return;
  }
  const dim3 grid(n, d.n_kv_heads);
  if (q.prefetch == 256) {
    quest_fused_kernel<T, PPT, 256><<<grid, kFusedThreads, smem, st>>>(d, s, q, seq_ids, slot_out, keys, keys_bf16,
                                                                       query, scratch, shared, pages_out, counts_out);
  } else if (q.prefetch == 128) {
    quest_fused_kernel<T, PPT, 128><<<grid, kFusedThreads, smem, st>>>(d, s, q, seq_ids, slot_out, keys, keys_bf16,
                                                                       query, scratch, shared, pages_out, counts_out);
  } else {
    quest_fused_kernel<T, PPT, 0><<<grid, kFusedThreads, smem, st>>>(d, s, q, seq_ids, slot_out, keys, keys_bf16,
                                                                     query, scratch, shared, pages_out, counts_out);
  }
}

}  // namespace

void append(const layer_dims& d, const slot_state& s, const append_rule& rule, const std::int32_t* seq_ids, int n,
            const std::int32_t* positions, std::int32_t* slot_out, std::int32_t* evicted_out, void* stream) {
  if (n <= 0) return;
  append_kernel<<<dim3(n, d.tables), kThreads, 0, as_stream(stream)>>>(d, s, rule, seq_ids, positions, slot_out,
                                                                       evicted_out, false);
}

void append_and_advance(const layer_dims& d, const slot_state& s, const append_rule& rule,
                        const std::int32_t* seq_ids, int n, const std::int32_t* positions, std::int32_t* slot_out,
                        std::int32_t* evicted_out, void* stream) {
  if (n <= 0) return;
  if (d.tables != 1) {
    append(d, s, rule, seq_ids, n, positions, slot_out, evicted_out, stream);
    advance(d, s, seq_ids, n, stream);
    return;
  }
  append_kernel<<<dim3(n, 1), kThreads, 0, as_stream(stream)>>>(d, s, rule, seq_ids, positions, slot_out,
                                                                evicted_out, true);
}

void advance(const layer_dims& d, const slot_state& s, const std::int32_t* seq_ids, int n, void* stream) {
  if (n <= 0) return;
  advance_kernel<<<blocks_for(n, 128), 128, 0, as_stream(stream)>>>(d, s, seq_ids, n);
}

void observe_scores(const layer_dims& d, const slot_state& s, fold f, bool accumulate, const std::int32_t* seq_ids,
                    int n, const float* weights, int stride, void* stream) {
  if (n <= 0) return;
  observe_kernel<<<dim3(n, s.score_tables, blocks_for(d.capacity, kThreads)), kThreads, 0, as_stream(stream)>>>(
      d, s, f, accumulate, seq_ids, weights, stride);
}

void quest_update_bounds(const layer_dims& d, const quest_state& q, const std::int32_t* seq_ids, int n,
                         const std::int32_t* slot_out, const void* keys, bool keys_bf16, void* stream) {
  if (n <= 0) return;
  quest_bounds_kernel<<<dim3(n, d.n_kv_heads), 128, 0, as_stream(stream)>>>(d, q, seq_ids, slot_out, keys, keys_bf16);
}

namespace {

// The page scores into scratch, with the step's new keys applied first where
// `add` has them: by the per-thread kernels' own first blocks, or, for the
// staged kernel (which takes none), in a bounds launch before it.
void score(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
           const float* query, float* scratch, const new_keys& add, cudaStream_t st) {
  const std::size_t smem = signs_bytes(d, q);
  const int ppt = q.pages_per_thread;
  if (q.staged && q.gqa != fold::max) {
    if (add.slot_out != nullptr) quest_update_bounds(d, q, seq_ids, n, add.slot_out, add.keys, add.bf16, st);
    const dim3 grid(n, d.n_kv_heads, blocks_for(q.max_pages, kThreads));
    const std::size_t qs_bytes = sizeof(float) * 2 * d.head_dim;
    if (q.bf16) {
      quest_score_staged_kernel<std::uint16_t><<<grid, kThreads, qs_bytes, st>>>(d, s, q, seq_ids, query, scratch);
    } else {
      quest_score_staged_kernel<float><<<grid, kThreads, qs_bytes, st>>>(d, s, q, seq_ids, query, scratch);
    }
  } else if (q.bf16) {
    // Default 4 pages per thread: the fastest Quest step of the widths
    // measured on an H200 (docs/kv_gpu_run/out_quest_variants).
    if (ppt == 8) {
      launch_score<std::uint16_t, 8>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    } else if (ppt == 2) {
      launch_score<std::uint16_t, 2>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    } else {
      launch_score<std::uint16_t, 4>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    }
  } else {
    // Default 1 page per thread, the fastest fp32 step there.
    if (ppt == 4) {
      launch_score<float, 4>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    } else if (ppt == 2) {
      launch_score<float, 2>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    } else {
      launch_score<float, 1>(d, s, q, seq_ids, n, query, scratch, add, smem, st);
    }
  }
}

}  // namespace

void quest_score(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                 const float* query, float* scratch, void* stream) {
  if (n <= 0) return;
  score(d, s, q, seq_ids, n, query, scratch, new_keys{nullptr, nullptr, false}, as_stream(stream));
}

void quest_topk(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                const float* scratch, std::int32_t* pages_out, std::int32_t* counts_out, void* stream) {
  if (n <= 0) return;
  const std::size_t topk_smem = q.max_pages <= kSharedPages ? sizeof(float) * q.max_pages : 0;
  quest_topk_kernel<<<dim3(n, d.n_kv_heads), kThreads, topk_smem, as_stream(stream)>>>(d, s, q, seq_ids, scratch,
                                                                                       pages_out, counts_out);
}

void quest_select(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                  const float* query, float* scratch, std::int32_t* pages_out, std::int32_t* counts_out, void* stream) {
  quest_score(d, s, q, seq_ids, n, query, scratch, stream);
  quest_topk(d, s, q, seq_ids, n, scratch, pages_out, counts_out, stream);
}

void quest_step(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                const std::int32_t* slot_out, const void* keys, bool keys_bf16, const float* query, float* scratch,
                std::int32_t* pages_out, std::int32_t* counts_out, void* stream) {
  if (n <= 0) return;
  if (q.fused != 1 && q.fused != 2) {
    score(d, s, q, seq_ids, n, query, scratch, new_keys{slot_out, keys, keys_bf16}, as_stream(stream));
    quest_topk(d, s, q, seq_ids, n, scratch, pages_out, counts_out, stream);
    return;
  }
  cudaStream_t st = as_stream(stream);
  const int ppt = q.pages_per_thread;
  if (q.bf16) {
    if (ppt == 8) {
      launch_fused<std::uint16_t, 8>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out,
                                     counts_out, st);
    } else if (ppt == 2) {
      launch_fused<std::uint16_t, 2>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out,
                                     counts_out, st);
    } else {
      launch_fused<std::uint16_t, 4>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out,
                                     counts_out, st);
    }
  } else {
    if (ppt == 4) {
      launch_fused<float, 4>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out, counts_out,
                             st);
    } else if (ppt == 2) {
      launch_fused<float, 2>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out, counts_out,
                             st);
    } else {
      launch_fused<float, 1>(d, s, q, seq_ids, n, slot_out, keys, keys_bf16, query, scratch, pages_out, counts_out,
                             st);
    }
  }
}

void snapkv_observe(const layer_dims& d, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids,
                    int n, const float* weights, int stride, void* stream) {
  if (n <= 0) return;
  snapkv_observe_kernel<<<dim3(n, d.n_kv_heads, blocks_for(d.capacity, kThreads)), kThreads, 0,
                          as_stream(stream)>>>(d, s, k, seq_ids, weights, stride);
}

void snapkv_advance(const layer_dims&, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids, int n,
                    void* stream) {
  if (n <= 0) return;
  snapkv_advance_kernel<<<blocks_for(n, 128), 128, 0, as_stream(stream)>>>(s, k, seq_ids, n);
}

void snapkv_prefill_done(const layer_dims& d, const slot_state& s, const snapkv_state& k,
                         const std::int32_t* seq_ids, int n, float* scratch, std::int32_t* kept_out,
                         std::int32_t* kept_count, void* stream) {
  if (n <= 0) return;
  snapkv_done_kernel<<<dim3(n, d.n_kv_heads), kThreads, 0, as_stream(stream)>>>(d, s, k, seq_ids, scratch, kept_out,
                                                                                kept_count);
}

void snapkv_finish(const layer_dims&, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids, int n,
                   void* stream) {
  if (n <= 0) return;
  snapkv_finish_kernel<<<blocks_for(n, 128), 128, 0, as_stream(stream)>>>(s, k, seq_ids, n);
}

void attention_probs(const layer_dims& d, const std::int32_t* held, const std::int32_t* seq_ids, int n,
                     const float* query, const void* keys, bool keys_bf16, float scale, float* probs, int stride,
                     void* stream) {
  if (n <= 0) return;
  if (d.head_dim > 32 * kMaxChannelsPerLane) return;  // checked by callers; see kernels.hpp
  const std::size_t smem = sizeof(float) * (d.n_heads / d.n_kv_heads) * d.head_dim;
  const dim3 grid(n, d.n_kv_heads, blocks_for(d.capacity, kSlotsPerBlock));
  if (keys_bf16) {
    dots_kernel<true><<<grid, kThreads, smem, as_stream(stream)>>>(d, held, seq_ids, query, keys, scale, probs, stride);
  } else {
    dots_kernel<false><<<grid, kThreads, smem, as_stream(stream)>>>(d, held, seq_ids, query, keys, scale, probs, stride);
  }
  softmax_kernel<<<dim3(n, d.n_heads), kThreads, 0, as_stream(stream)>>>(d, held, seq_ids, probs, stride);
}

const char* last_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

}  // namespace lil::kv::cuda
