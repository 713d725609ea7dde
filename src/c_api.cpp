// The C ABI (include/lil/lil.h) over lil::guardian<>: argument checks, struct
// versioning, and the wall that keeps every C++ exception on this side.
#include "lil/lil.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "lil/guardian/batch.hpp"
#include "lil/guardian/guardian.hpp"
#include "lil/guardian/repetition.hpp"

struct lil_guardian {
  lil::guardian<> impl;
};
struct lil_vocabulary {
  std::shared_ptr<const lil::vocabulary> impl;
};
struct lil_guardian_batch {
  lil::guardian_batch<> impl;
};

struct lil_repetition {
  lil::repetition_detector impl;
};

namespace {

thread_local std::string last_error;

int fail(int status, const char* message) noexcept {
  try {
    last_error = message;
  } catch (...) {
    // Out of memory for the message itself: the status still says what happened.
  }
  return status;
}

// Runs `body`, turning any exception into a status and a message.
template <class Body>
int guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const lil::error& e) {
    return fail(LIL_E_BAD_OPTION, e.what());
  } catch (const std::bad_alloc&) {
    return fail(LIL_E_NO_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(LIL_E_INTERNAL, e.what());
  } catch (...) {
    return fail(LIL_E_INTERNAL, "unknown failure");
  }
}

// The sizes of the structs as this library's first ABI version defined them.
// A caller's struct_size may be larger (a newer header) only if the fields this
// library does not know are zero, that is, left at their "default/off" value.
constexpr std::size_t options_v1_size = sizeof(lil_guardian_options);
constexpr std::size_t decision_v1_size = sizeof(lil_decision);

int read_options(const lil_guardian_options* in, lil_guardian_options& out) noexcept {
  lil_guardian_options_init(&out);
  if (!in) return LIL_OK;
  if (in->struct_size < options_v1_size)
    return fail(LIL_E_STRUCT_SIZE, "lil_guardian_options.struct_size is smaller than any version of the struct");
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  for (std::size_t i = sizeof(lil_guardian_options); i < in->struct_size; ++i)
    if (bytes[i] != 0)
      return fail(LIL_E_STRUCT_SIZE, "lil_guardian_options sets fields that this version of lil does not know");
  std::memcpy(&out, in, sizeof(lil_guardian_options));
  out.struct_size = sizeof(lil_guardian_options);
  return LIL_OK;
}

int to_guardian_options(const lil_guardian_options& in, lil::guardian_options& out) noexcept {
  if (in.profile != LIL_PROFILE_GZIP && in.profile != LIL_PROFILE_ZLIB)
    return fail(LIL_E_BAD_OPTION, "lil_guardian_options.profile must be LIL_PROFILE_GZIP or LIL_PROFILE_ZLIB");
  out.rule.check_every = in.check_every;
  out.rule.min_gain = in.min_gain;
  out.rule.patience = in.patience;
  out.rule.warmup_tokens = in.warmup_tokens;
  out.rule.relative_gain = in.relative_gain;
  out.rule.relative_checks = in.relative_checks;
  out.level = in.level;
  out.profile = in.profile == LIL_PROFILE_ZLIB ? lil::deflate::profile::zlib : lil::deflate::profile::gzip;
  out.pending_capacity = in.pending_capacity;
  out.curve_capacity = in.curve_capacity;
  return LIL_OK;
}

int32_t reason_code(lil::reason r) noexcept {
  switch (r) {
    case lil::reason::no_check_yet: return LIL_REASON_NO_CHECK_YET;
    case lil::reason::first_check: return LIL_REASON_FIRST_CHECK;
    case lil::reason::gaining: return LIL_REASON_GAINING;
    case lil::reason::warming_up: return LIL_REASON_WARMING_UP;
    case lil::reason::awaiting_patience: return LIL_REASON_AWAITING_PATIENCE;
    case lil::reason::plateau: return LIL_REASON_PLATEAU;
    case lil::reason::repetition: return LIL_REASON_REPETITION;
  }
  return LIL_REASON_NO_CHECK_YET;
}

int verdict_status(lil::verdict v) noexcept { return v == lil::verdict::stop ? LIL_STOP : LIL_OK; }

// Every id of [begin, end) is in the vocabulary (or, for a batch, -1), checked
// before any is taken.
int check_ids(const lil::vocabulary* v, const int32_t* ids, size_t begin, size_t end, bool allow_none,
              const char* verb) noexcept {
  if (!v) {
    try {
      last_error = std::string(verb) +
                   ": this guardian has no vocabulary (lil_guardian_create_with_vocabulary); "
                   "lil_guardian_accept_raw_id prices an id as its 4 bytes";
    } catch (...) {
    }
    return LIL_E_NO_VOCABULARY;
  }
  for (size_t i = begin; i < end; ++i)
    if (!(v->contains(ids[i]) || (allow_none && ids[i] == lil::no_token))) {
      try {
        last_error = std::string(verb) + ": id " + std::to_string(ids[i]) + " at " + std::to_string(i) +
                     " is outside the vocabulary (0.." + std::to_string(v->size()) + ")";
      } catch (...) {
      }
      return LIL_E_BAD_TOKEN;
    }
  return LIL_OK;
}

void write_decision(const lil::decision& d, std::size_t caller_size, lil_decision* out) noexcept {
  lil_decision c;
  std::memset(&c, 0, sizeof c);
  c.struct_size = caller_size;
  c.stop = d.stop() ? 1 : 0;
  c.reason = reason_code(d.why);
  c.tokens = d.tokens;
  c.stopped_at = d.stopped_at;
  c.last_check.tokens = d.last.point.tokens;
  c.last_check.bytes = d.last.point.bytes;
  c.last_check.size = d.last.point.size;
  c.last_check.gain = d.last.gain;
  c.last_check.threshold = d.last.threshold;
  c.last_check.low_gain_streak = d.last.low_gain_streak;
  c.last_check.reason = reason_code(d.last.why);
  std::memcpy(out, &c, sizeof c);
  // Fields of a newer struct that this library does not know read as zero.
  if (caller_size > sizeof c) std::memset(reinterpret_cast<unsigned char*>(out) + sizeof c, 0, caller_size - sizeof c);
}

}  // namespace

extern "C" {

void lil_guardian_options_init(lil_guardian_options* o) {
  if (!o) return;
  const lil::guardian_options d;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->check_every = d.rule.check_every;
  o->min_gain = d.rule.min_gain;
  o->level = d.level;
  o->profile = d.profile == lil::deflate::profile::zlib ? LIL_PROFILE_ZLIB : LIL_PROFILE_GZIP;
  o->patience = d.rule.patience;
  o->warmup_tokens = d.rule.warmup_tokens;
  o->relative_gain = d.rule.relative_gain;
  o->relative_checks = d.rule.relative_checks;
  o->pending_capacity = d.pending_capacity;
  o->curve_capacity = d.curve_capacity;
}

int lil_guardian_create(const lil_guardian_options* options, lil_guardian** out) {
  if (!out) return fail(LIL_E_NULL, "lil_guardian_create: out is NULL");
  *out = nullptr;
  lil_guardian_options c;
  if (int s = read_options(options, c); s != LIL_OK) return s;
  lil::guardian_options o;
  if (int s = to_guardian_options(c, o); s != LIL_OK) return s;
  return guarded([&] {
    *out = new lil_guardian{lil::guardian<>(o)};
    return LIL_OK;
  });
}

void lil_guardian_free(lil_guardian* g) { delete g; }

int lil_guardian_clone(const lil_guardian* g, lil_guardian** out) {
  if (!out) return fail(LIL_E_NULL, "lil_guardian_clone: out is NULL");
  *out = nullptr;
  if (!g) return fail(LIL_E_NULL, "lil_guardian_clone: guardian is NULL");
  return guarded([&] {
    *out = new lil_guardian{g->impl.clone()};
    return LIL_OK;
  });
}

int lil_guardian_accept_text(lil_guardian* g, const char* text, size_t size) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_text: guardian is NULL");
  if (!text && size != 0) return fail(LIL_E_NULL, "lil_guardian_accept_text: text is NULL but size is not 0");
  return verdict_status(g->impl.accept_bytes(text, size));
}

int lil_guardian_accept_id(lil_guardian* g, int32_t id) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_id: guardian is NULL");
  if (int s = check_ids(g->impl.bound_vocabulary(), &id, 0, 1, false, "lil_guardian_accept_id"); s != LIL_OK) return s;
  return verdict_status(g->impl.accept_id(id));
}

int lil_guardian_accept_ids(lil_guardian* g, const int32_t* ids, size_t count) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_ids: guardian is NULL");
  if (!ids && count != 0) return fail(LIL_E_NULL, "lil_guardian_accept_ids: ids is NULL but count is not 0");
  if (int s = check_ids(g->impl.bound_vocabulary(), ids, 0, count, false, "lil_guardian_accept_ids"); s != LIL_OK)
    return s;
  return verdict_status(g->impl.accept_ids(ids, count));
}

int lil_guardian_accept_raw_id(lil_guardian* g, int32_t id) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_raw_id: guardian is NULL");
  return verdict_status(g->impl.accept_raw_id(id));
}

int lil_guardian_accept_raw_ids(lil_guardian* g, const int32_t* ids, size_t count) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_raw_ids: guardian is NULL");
  if (!ids && count != 0) return fail(LIL_E_NULL, "lil_guardian_accept_raw_ids: ids is NULL but count is not 0");
  return verdict_status(g->impl.accept_raw_ids(ids, count));
}

int lil_guardian_accept_texts(lil_guardian* g, const char* const* texts, const size_t* sizes, size_t count) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_accept_texts: guardian is NULL");
  if ((!texts || !sizes) && count != 0)
    return fail(LIL_E_NULL, "lil_guardian_accept_texts: texts or sizes is NULL but count is not 0");
  // Checked before any token is taken, so that a bad entry leaves the
  // sequence as it was.
  for (size_t i = 0; i < count; ++i)
    if (!texts[i] && sizes[i] != 0) return fail(LIL_E_NULL, "lil_guardian_accept_texts: a NULL text has a size");
  lil::verdict v = g->impl.stopped() ? lil::verdict::stop : lil::verdict::go;
  for (size_t i = 0; i < count; ++i) v = g->impl.accept_bytes(texts[i], sizes[i]);
  return verdict_status(v);
}

int lil_guardian_rollback(lil_guardian* g, size_t count) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_rollback: guardian is NULL");
  if (!g->impl.rollback(count))
    return fail(LIL_E_ROLLBACK,
                "lil_guardian_rollback: cannot take back more tokens than lil_guardian_rollback_limit() (the last "
                "check or early commit)");
  return LIL_OK;
}

int lil_guardian_rollback_limit(const lil_guardian* g, size_t* limit) {
  if (!g || !limit) return fail(LIL_E_NULL, "lil_guardian_rollback_limit: guardian or limit is NULL");
  *limit = g->impl.rollback_limit();
  return LIL_OK;
}

int lil_guardian_decision(const lil_guardian* g, lil_decision* out) {
  if (!g || !out) return fail(LIL_E_NULL, "lil_guardian_decision: guardian or out is NULL");
  const std::size_t caller_size = out->struct_size;
  if (caller_size < decision_v1_size)
    return fail(LIL_E_STRUCT_SIZE, "lil_decision.struct_size is smaller than any version of the struct");
  write_decision(g->impl.decision(), caller_size, out);
  return LIL_OK;
}

int lil_guardian_reset(lil_guardian* g) {
  if (!g) return fail(LIL_E_NULL, "lil_guardian_reset: guardian is NULL");
  g->impl.reset();
  return LIL_OK;
}

int lil_guardian_curve(const lil_guardian* g, lil_curve_point* points, size_t capacity, size_t* count) {
  if (!g || !count) return fail(LIL_E_NULL, "lil_guardian_curve: guardian or count is NULL");
  if (!points && capacity != 0) return fail(LIL_E_NULL, "lil_guardian_curve: points is NULL but capacity is not 0");
  const auto& curve = g->impl.curve();
  *count = curve.size();
  for (size_t i = 0; i < capacity && i < curve.size(); ++i) {
    points[i].tokens = curve[i].tokens;
    points[i].bytes = curve[i].bytes;
    points[i].size = curve[i].size;
  }
  return LIL_OK;
}

int lil_guardian_state_bytes(const lil_guardian* g, size_t* bytes) {
  if (!g || !bytes) return fail(LIL_E_NULL, "lil_guardian_state_bytes: guardian or bytes is NULL");
  *bytes = sizeof(lil_guardian) - sizeof(g->impl) + g->impl.state_bytes();
  return LIL_OK;
}

void lil_repetition_options_init(lil_repetition_options* o) {
  if (!o) return;
  const lil::repetition_options d;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->min_pattern_size = d.min_pattern_size;
  o->max_pattern_size = d.max_pattern_size;
  o->min_count = d.min_count;
  o->rollback_window = d.rollback_window;
  o->min_tokens = d.min_tokens;
}

int lil_repetition_create(const lil_repetition_options* options, lil_repetition** out) {
  if (!out) return fail(LIL_E_NULL, "lil_repetition_create: out is NULL");
  *out = nullptr;
  lil_repetition_options c;
  lil_repetition_options_init(&c);
  if (options) {
    if (options->struct_size < sizeof(lil_repetition_options))
      return fail(LIL_E_STRUCT_SIZE, "lil_repetition_options.struct_size is smaller than any version of the struct");
    const auto* bytes = reinterpret_cast<const unsigned char*>(options);
    for (std::size_t i = sizeof(lil_repetition_options); i < options->struct_size; ++i)
      if (bytes[i] != 0)
        return fail(LIL_E_STRUCT_SIZE, "lil_repetition_options sets fields that this version of lil does not know");
    std::memcpy(&c, options, sizeof c);
  }
  lil::repetition_options o;
  o.min_pattern_size = c.min_pattern_size;
  o.max_pattern_size = c.max_pattern_size;
  o.min_count = c.min_count;
  o.rollback_window = c.rollback_window;
  o.min_tokens = c.min_tokens;
  return guarded([&] {
    *out = new lil_repetition{lil::repetition_detector(o)};
    return LIL_OK;
  });
}

void lil_repetition_free(lil_repetition* d) { delete d; }

int lil_repetition_clone(const lil_repetition* d, lil_repetition** out) {
  if (!out) return fail(LIL_E_NULL, "lil_repetition_clone: out is NULL");
  *out = nullptr;
  if (!d) return fail(LIL_E_NULL, "lil_repetition_clone: detector is NULL");
  return guarded([&] {
    *out = new lil_repetition{d->impl.clone()};
    return LIL_OK;
  });
}

int lil_repetition_accept_id(lil_repetition* d, int32_t id) {
  if (!d) return fail(LIL_E_NULL, "lil_repetition_accept_id: detector is NULL");
  return verdict_status(d->impl.accept_id(id));
}

int lil_repetition_accept_text(lil_repetition* d, const char* text, size_t size) {
  if (!d) return fail(LIL_E_NULL, "lil_repetition_accept_text: detector is NULL");
  if (!text && size != 0) return fail(LIL_E_NULL, "lil_repetition_accept_text: text is NULL but size is not 0");
  return verdict_status(d->impl.accept(std::string_view(text ? text : "", size)));
}

int lil_repetition_rollback(lil_repetition* d, size_t count) {
  if (!d) return fail(LIL_E_NULL, "lil_repetition_rollback: detector is NULL");
  if (!d->impl.rollback(count))
    return fail(LIL_E_ROLLBACK, "lil_repetition_rollback: more tokens than rollback_window or than were accepted");
  return LIL_OK;
}

int lil_repetition_decision(const lil_repetition* d, lil_repetition_result* out) {
  if (!d || !out) return fail(LIL_E_NULL, "lil_repetition_decision: detector or out is NULL");
  const std::size_t caller_size = out->struct_size;
  if (caller_size < sizeof(lil_repetition_result))
    return fail(LIL_E_STRUCT_SIZE, "lil_repetition_result.struct_size is smaller than any version of the struct");
  const lil::repetition_decision r = d->impl.decision();
  lil_repetition_result c;
  std::memset(&c, 0, sizeof c);
  c.struct_size = caller_size;
  c.stop = r.stop() ? 1 : 0;
  c.pattern_size = r.pattern_size;
  c.tokens = r.tokens;
  c.stopped_at = r.stopped_at;
  std::memcpy(out, &c, sizeof c);
  if (caller_size > sizeof c) std::memset(reinterpret_cast<unsigned char*>(out) + sizeof c, 0, caller_size - sizeof c);
  return LIL_OK;
}

int lil_repetition_reset(lil_repetition* d) {
  if (!d) return fail(LIL_E_NULL, "lil_repetition_reset: detector is NULL");
  d->impl.reset();
  return LIL_OK;
}

const char* lil_status_string(int status) {
  switch (status) {
    case LIL_OK: return "ok (go on)";
    case LIL_STOP: return "stop: the output has stopped carrying information";
    case LIL_E_NULL: return "a required pointer argument is NULL";
    case LIL_E_BAD_OPTION: return "an option is out of range";
    case LIL_E_STRUCT_SIZE: return "struct_size does not match a version of the struct this library knows";
    case LIL_E_NO_MEMORY: return "out of memory";
    case LIL_E_ROLLBACK: return "rollback past the last check refused; nothing changed";
    case LIL_E_INTERNAL: return "internal error in lil";
    case LIL_E_NO_VOCABULARY: return "an id was given to a guardian without a vocabulary";
    case LIL_E_BAD_TOKEN: return "an id outside the vocabulary; nothing was taken";
    default: return "unknown status code";
  }
}

int lil_vocabulary_create(const char* const* pieces, const size_t* sizes, size_t count, int32_t strips,
                          int32_t unfinished, lil_vocabulary** out) {
  if (!out) return fail(LIL_E_NULL, "lil_vocabulary_create: out is NULL");
  *out = nullptr;
  if ((!pieces || !sizes) && count != 0)
    return fail(LIL_E_NULL, "lil_vocabulary_create: pieces or sizes is NULL but count is not 0");
  if (unfinished != LIL_UNFINISHED_PER_BYTE && unfinished != LIL_UNFINISHED_PER_CHARACTER)
    return fail(LIL_E_BAD_OPTION, "lil_vocabulary_create: unfinished must be LIL_UNFINISHED_PER_BYTE or _PER_CHARACTER");
  for (size_t i = 0; i < count; ++i)
    if (!pieces[i] && sizes[i] != 0) return fail(LIL_E_NULL, "lil_vocabulary_create: a NULL piece has a size");
  return guarded([&] {
    lil::vocabulary_options o;
    o.strips_leading_space = strips != 0;
    o.unfinished = unfinished == LIL_UNFINISHED_PER_BYTE ? lil::unfinished_character::per_byte
                                                         : lil::unfinished_character::per_character;
    auto v = std::make_shared<const lil::vocabulary>(
        count, [&](lil::token_id id) { return std::string_view(pieces[id] ? pieces[id] : "", sizes[id]); }, o);
    *out = new lil_vocabulary{std::move(v)};
    return LIL_OK;
  });
}

int lil_vocabulary_from_tiktoken(const char* data, size_t size, lil_vocabulary** out) {
  if (!out) return fail(LIL_E_NULL, "lil_vocabulary_from_tiktoken: out is NULL");
  *out = nullptr;
  if (!data && size != 0) return fail(LIL_E_NULL, "lil_vocabulary_from_tiktoken: data is NULL but size is not 0");
  return guarded([&] {
    auto v = std::make_shared<const lil::vocabulary>(lil::vocabulary::from_tiktoken(std::string_view(data ? data : "", size)));
    *out = new lil_vocabulary{std::move(v)};
    return LIL_OK;
  });
}

void lil_vocabulary_free(lil_vocabulary* v) { delete v; }

int lil_vocabulary_size(const lil_vocabulary* v, size_t* size) {
  if (!v || !size) return fail(LIL_E_NULL, "lil_vocabulary_size: vocabulary or size is NULL");
  *size = v->impl->size();
  return LIL_OK;
}

int lil_vocabulary_bytes(const lil_vocabulary* v, int32_t id, const char** data, size_t* size) {
  if (!v || !data || !size) return fail(LIL_E_NULL, "lil_vocabulary_bytes: vocabulary, data or size is NULL");
  if (int s = check_ids(v->impl.get(), &id, 0, 1, false, "lil_vocabulary_bytes"); s != LIL_OK) return s;
  const auto b = v->impl->bytes(id);
  *data = b.data();
  *size = b.size();
  return LIL_OK;
}

int lil_guardian_create_with_vocabulary(const lil_guardian_options* options, const lil_vocabulary* vocabulary,
                                        int32_t output_starts_text, lil_guardian** out) {
  if (!out) return fail(LIL_E_NULL, "lil_guardian_create_with_vocabulary: out is NULL");
  *out = nullptr;
  if (!vocabulary) return fail(LIL_E_NULL, "lil_guardian_create_with_vocabulary: vocabulary is NULL");
  lil_guardian_options c;
  if (int s = read_options(options, c); s != LIL_OK) return s;
  lil::guardian_options o;
  if (int s = to_guardian_options(c, o); s != LIL_OK) return s;
  o.output_starts_text = output_starts_text != 0;
  return guarded([&] {
    *out = new lil_guardian{lil::guardian<>(o, vocabulary->impl)};
    return LIL_OK;
  });
}

int lil_guardian_batch_create(const lil_guardian_options* options, const lil_vocabulary* vocabulary,
                              int32_t output_starts_text, size_t sequences, lil_guardian_batch** out) {
  if (!out) return fail(LIL_E_NULL, "lil_guardian_batch_create: out is NULL");
  *out = nullptr;
  if (!vocabulary) return fail(LIL_E_NULL, "lil_guardian_batch_create: vocabulary is NULL");
  lil_guardian_options c;
  if (int s = read_options(options, c); s != LIL_OK) return s;
  lil::guardian_options o;
  if (int s = to_guardian_options(c, o); s != LIL_OK) return s;
  o.output_starts_text = output_starts_text != 0;
  return guarded([&] {
    *out = new lil_guardian_batch{lil::guardian_batch<>(sequences, o, vocabulary->impl)};
    return LIL_OK;
  });
}

void lil_guardian_batch_free(lil_guardian_batch* b) { delete b; }

int lil_guardian_batch_size(const lil_guardian_batch* b, size_t* sequences) {
  if (!b || !sequences) return fail(LIL_E_NULL, "lil_guardian_batch_size: batch or sequences is NULL");
  *sequences = b->impl.size();
  return LIL_OK;
}

int lil_guardian_batch_step(lil_guardian_batch* b, const int32_t* ids, size_t begin, size_t end, uint8_t* stops,
                            size_t* stop_count) {
  if (!b || (!ids && end > begin)) return fail(LIL_E_NULL, "lil_guardian_batch_step: batch or ids is NULL");
  if (begin > end || end > b->impl.size())
    return fail(LIL_E_BAD_OPTION, "lil_guardian_batch_step: [begin, end) is not a range of the batch's slots");
  if (int s = check_ids(b->impl.bound_vocabulary(), ids, begin, end, true, "lil_guardian_batch_step"); s != LIL_OK)
    return s;
  std::size_t n = 0;
  for (size_t i = begin; i < end; ++i) {
    auto& g = b->impl[i];
    const bool stop = ids[i] == lil::no_token ? g.stopped() : g.accept_id(ids[i]) == lil::verdict::stop;
    if (stops) stops[i] = stop ? 1 : 0;
    n += stop;
  }
  if (stop_count) *stop_count = n;
  return LIL_OK;
}

int lil_guardian_batch_reset(lil_guardian_batch* b, size_t slot) {
  if (!b) return fail(LIL_E_NULL, "lil_guardian_batch_reset: batch is NULL");
  if (slot >= b->impl.size()) return fail(LIL_E_BAD_OPTION, "lil_guardian_batch_reset: slot is outside the batch");
  b->impl.reset(slot);
  return LIL_OK;
}

int lil_guardian_batch_decision(const lil_guardian_batch* b, size_t slot, lil_decision* out) {
  if (!b || !out) return fail(LIL_E_NULL, "lil_guardian_batch_decision: batch or out is NULL");
  if (slot >= b->impl.size()) return fail(LIL_E_BAD_OPTION, "lil_guardian_batch_decision: slot is outside the batch");
  if (out->struct_size < decision_v1_size)
    return fail(LIL_E_STRUCT_SIZE, "lil_decision.struct_size is smaller than any version of the struct");
  write_decision(b->impl[slot].decision(), out->struct_size, out);
  return LIL_OK;
}

const char* lil_last_error_message(void) { return last_error.c_str(); }

const char* lil_version_string(void) { return LIL_VERSION_STRING; }

}  // extern "C"
