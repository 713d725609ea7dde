// lil/guardian/batch.hpp - one guardian per sequence of a serving batch.
//
// What it is
//   A serving engine decodes many sequences per step (1,024 is ordinary). Each
//   needs its own guardian: its own bytes, compressor and detector state. The
//   batch holds them side by side, built once, and takes one step's tokens for
//   all of them in a single call, writing each sequence's verdict into an
//   array the engine already owns.
//
// Slots, not requests
//   Sequence i is a slot. When a request finishes and a new one takes its
//   slot, reset(i) empties that guardian without freeing anything; a slot with
//   nothing to accept this step is skipped (no_token, or a null text).
//
// Ids
//   A batch built with a vocabulary (shared by all its guardians) takes each
//   slot's id through it: accept_ids prices the text the ids decode to
//   (vocabulary.hpp, guardian.hpp). Without one, accept_ids gives tokens no
//   bytes; accept_raw_ids is the explicit id-as-4-bytes pricing. An id
//   outside the vocabulary has no bytes (the C ABI and Python refuse it).
//
// Costs
//   size() x guardian::state_bytes() bytes, all allocated at construction
//   (about 200 KiB per sequence with the default engine: 1,024 sequences hold
//   about 200 MiB). A step costs what each guardian's accept costs; nothing
//   allocates after construction.
//
// Threads
//   The batch is a container of independent guardians: one thread at a time per
//   sequence, and different sequences concurrently. A step can therefore be
//   split across threads by giving each thread its own range [begin, end) of
//   sequences; the range forms of accept_ids / accept_texts exist for that.
//   Calls that touch every sequence (reset(), stopped_count()) must not run
//   concurrently with a step.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "lil/guardian/guardian.hpp"

namespace lil {

// Marks a sequence that has no token this step.
inline constexpr token_id no_token = -1;

template <class Compressor = deflate::compressor, class Detector = plateau_detector>
class guardian_batch {
 public:
  using sequence_type = guardian<Compressor, Detector>;

  explicit guardian_batch(std::size_t sequences, const guardian_options& opts = {})
      : guardian_batch(sequences, sequence_type(opts)) {}
  // Every slot takes ids through `vocab`.
  guardian_batch(std::size_t sequences, const guardian_options& opts, std::shared_ptr<const vocabulary> vocab)
      : guardian_batch(sequences, sequence_type(opts, std::move(vocab))) {}
  // Every sequence starts as a copy of `prototype` (which should be empty).
  guardian_batch(std::size_t sequences, const sequence_type& prototype) : sequences_(sequences, prototype) {}

  std::size_t size() const noexcept { return sequences_.size(); }
  const vocabulary* bound_vocabulary() const noexcept {
    return sequences_.empty() ? nullptr : sequences_.front().bound_vocabulary();
  }
  sequence_type& operator[](std::size_t i) noexcept { return sequences_[i]; }
  const sequence_type& operator[](std::size_t i) const noexcept { return sequences_[i]; }

  // One decode step: sequence i accepts ids[i] unless it is no_token. When
  // `verdicts` is not null, verdicts[i] receives sequence i's verdict (also for
  // skipped ones). Returns how many sequences of the range say stop.
  std::size_t accept_ids(const token_id* ids, verdict* verdicts = nullptr) noexcept {
    return accept_ids(ids, verdicts, 0, sequences_.size());
  }
  std::size_t accept_ids(const token_id* ids, verdict* verdicts, std::size_t begin, std::size_t end) noexcept {
    std::size_t stops = 0;
    for (std::size_t i = begin; i < end; ++i) {
      auto& g = sequences_[i];
      const verdict v = ids[i] == no_token ? (g.stopped() ? verdict::stop : verdict::go) : g.accept_id(ids[i]);
      if (verdicts) verdicts[i] = v;
      stops += v == verdict::stop;
    }
    return stops;
  }

  // The same with each id as its 4 raw bytes (guardian::accept_raw_id).
  std::size_t accept_raw_ids(const token_id* ids, verdict* verdicts, std::size_t begin, std::size_t end) noexcept {
    std::size_t stops = 0;
    for (std::size_t i = begin; i < end; ++i) {
      auto& g = sequences_[i];
      const verdict v = ids[i] == no_token ? (g.stopped() ? verdict::stop : verdict::go) : g.accept_raw_id(ids[i]);
      if (verdicts) verdicts[i] = v;
      stops += v == verdict::stop;
    }
    return stops;
  }

  // The same with each token's text; a text whose data() is null is skipped
  // (an empty, non-null text is an accepted token with no bytes).
  std::size_t accept_texts(const std::string_view* texts, verdict* verdicts = nullptr) noexcept {
    return accept_texts(texts, verdicts, 0, sequences_.size());
  }
  std::size_t accept_texts(const std::string_view* texts, verdict* verdicts, std::size_t begin,
                           std::size_t end) noexcept {
    std::size_t stops = 0;
    for (std::size_t i = begin; i < end; ++i) {
      auto& g = sequences_[i];
      const verdict v = texts[i].data() == nullptr ? (g.stopped() ? verdict::stop : verdict::go) : g.accept(texts[i]);
      if (verdicts) verdicts[i] = v;
      stops += v == verdict::stop;
    }
    return stops;
  }

  // A new request takes slot i.
  void reset(std::size_t i) noexcept { sequences_[i].reset(); }
  void reset() noexcept {
    for (auto& g : sequences_) g.reset();
  }

  std::size_t stopped_count() const noexcept {
    std::size_t n = 0;
    for (const auto& g : sequences_) n += g.stopped();
    return n;
  }

  std::size_t state_bytes() const noexcept {
    std::size_t total = sizeof(*this);
    for (const auto& g : sequences_) total += g.state_bytes();
    return total;
  }

 private:
  std::vector<sequence_type> sequences_;
};

}  // namespace lil
