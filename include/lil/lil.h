/* lil/lil.h - the C ABI of lil's Guardian (link lil::c, or -llil_c -llil).
 *
 * Guardian tells a decode loop when to stop: every f tokens it measures the
 * exact DEFLATE size of the output so far, and once the last f tokens added
 * fewer than t bytes (the paper's rule, "Less is Less", arXiv 2601.03043), it
 * says stop. One handle per sequence.
 *
 *     lil_guardian_options o;
 *     lil_guardian_options_init(&o);           // the paper's defaults
 *     lil_guardian* g = NULL;
 *     if (lil_guardian_create(&o, &g) != LIL_OK) { ... lil_last_error_message() ... }
 *     for (;;) {
 *         int32_t id = next_token();
 *         if (id == eos) break;
 *         if (lil_guardian_accept_id(g, id) == LIL_STOP) break;   // or _accept_text
 *     }
 *     lil_guardian_free(g);
 *
 * Conventions
 *   - Every function returns a status: LIL_OK (0), LIL_STOP (1, from the accept
 *     functions: the decision is stop), or a negative LIL_E_* code. No C++
 *     exception ever crosses this boundary.
 *   - Structs passed in or out begin with `struct_size`, set by the caller to
 *     sizeof(the struct it was compiled with). This lets the structs grow:
 *     the library reads (or writes) only what the caller's struct holds, and
 *     fills what an older caller's struct lacks with defaults.
 *   - A token's bytes are its text as the engine decodes it
 *     (lil_guardian_accept_text), or its id through a vocabulary bound at
 *     creation (lil_vocabulary, lil_guardian_create_with_vocabulary,
 *     lil_guardian_accept_id): the id then prices exactly the text it decodes
 *     to. lil_guardian_accept_raw_id is the explicit other choice for an
 *     engine with neither: the id as 4 bytes (two's-complement 32-bit,
 *     little-endian), sizes not comparable with text. Do not mix them in one
 *     sequence.
 *
 * Threads
 *   Functions marked "thread-safe" may be called from any thread at any time.
 *   Functions on a handle: one thread at a time per handle (a handle has no
 *   shared state, so different handles may be used concurrently from
 *   different threads). Functions taking a `const lil_guardian*` only read it:
 *   they may run concurrently with each other on the same handle, never with a
 *   function that changes it.
 */
#ifndef LIL_LIL_H
#define LIL_LIL_H

#include <stddef.h>
#include <stdint.h>

#if defined(LIL_SHARED)
#if defined(_WIN32)
#if defined(LIL_BUILDING)
#define LIL_C_API __declspec(dllexport)
#else
#define LIL_C_API __declspec(dllimport)
#endif
#else
#define LIL_C_API __attribute__((visibility("default")))
#endif
#else
#define LIL_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
enum {
  LIL_OK = 0,                 /* done; from the accept functions: go on */
  LIL_STOP = 1,               /* from the accept functions: the decision is stop */
  LIL_E_NULL = -1,            /* a required pointer argument is NULL */
  LIL_E_BAD_OPTION = -2,      /* an option is out of range (lil_last_error_message names it) */
  LIL_E_STRUCT_SIZE = -3,     /* struct_size is too small, or names fields this library does not know */
  LIL_E_NO_MEMORY = -4,       /* an allocation failed */
  LIL_E_ROLLBACK = -5,        /* rollback past the last check (or early commit): refused, nothing changed */
  LIL_E_INTERNAL = -6,        /* an unexpected failure inside the library (a bug: please report) */
  LIL_E_NO_VOCABULARY = -7,   /* an id was given to a guardian built without a vocabulary */
  LIL_E_BAD_TOKEN = -8        /* an id outside the vocabulary (lil_last_error_message names it); nothing taken */
};

/* DEFLATE profiles: whose compressor C(n) reproduces. */
enum { LIL_PROFILE_GZIP = 0, LIL_PROFILE_ZLIB = 1 };

/* Reasons (lil_decision.reason, lil_check.reason). */
enum {
  LIL_REASON_NO_CHECK_YET = 0,      /* fewer than f tokens so far */
  LIL_REASON_FIRST_CHECK = 1,       /* n = f: nothing to compare with yet */
  LIL_REASON_GAINING = 2,           /* the gain reached the threshold */
  LIL_REASON_WARMING_UP = 3,        /* low gain, but n < warmup_tokens */
  LIL_REASON_AWAITING_PATIENCE = 4, /* low gain, but fewer than `patience` in a row */
  LIL_REASON_PLATEAU = 5,           /* stop */
  LIL_REASON_REPETITION = 6         /* stop: the output ends in a repeated n-gram (lil_repetition) */
};

/* Settings. lil_guardian_options_init gives the paper's rule. */
typedef struct lil_guardian_options {
  size_t struct_size;        /* sizeof(lil_guardian_options) */
  uint32_t check_every;      /* f: tokens between checks (250); >= 1 */
  double min_gain;           /* t: bytes; a gain below it is low (20); >= 0 */
  int32_t level;             /* DEFLATE level of C(n) (6); 1..9 */
  int32_t profile;           /* LIL_PROFILE_GZIP (default) or LIL_PROFILE_ZLIB */
  uint32_t patience;         /* consecutive low-gain checks needed to stop (1); >= 1 */
  uint64_t warmup_tokens;    /* never stop at a check before this many tokens (0) */
  double relative_gain;      /* 0: off; else also low below this x the early slope (0) */
  uint32_t relative_checks;  /* checks that measure the early slope (4); >= 2 */
  size_t pending_capacity;   /* bytes buffered between checks; 0: automatic (0) */
  size_t curve_capacity;     /* information-curve points kept; 0: none (0) */
} lil_guardian_options;

/* One check: a point of the information curve, as the rule judged it. */
typedef struct lil_check {
  uint64_t tokens;           /* n (0: no check yet) */
  uint64_t bytes;            /* bytes of the first n tokens */
  uint64_t size;             /* C(n): exact raw DEFLATE size of those bytes */
  int64_t gain;              /* C(n) - C(n-f) (first check: C(f)) */
  double threshold;          /* the threshold the gain was held to */
  uint32_t low_gain_streak;  /* consecutive low-gain checks ending here */
  int32_t reason;            /* LIL_REASON_* */
} lil_check;

/* The loop's answer. */
typedef struct lil_decision {
  size_t struct_size;        /* sizeof(lil_decision) */
  int32_t stop;              /* 1: stop, 0: go on */
  int32_t reason;            /* LIL_REASON_*: why (for a stop: LIL_REASON_PLATEAU) */
  uint64_t tokens;           /* tokens accepted so far */
  uint64_t stopped_at;       /* n of the check that said stop; 0 while going */
  lil_check last_check;      /* figures of the last check */
} lil_decision;

/* A point of the information curve. */
typedef struct lil_curve_point {
  uint64_t tokens;           /* n */
  uint64_t bytes;            /* bytes(n) */
  uint64_t size;             /* C(n); C(n)/bytes(n) is the compression ratio */
} lil_curve_point;

typedef struct lil_guardian lil_guardian; /* opaque */

/* Fills `options` with the defaults (the paper's rule) and sets struct_size.
 * Thread-safe. */
LIL_C_API void lil_guardian_options_init(lil_guardian_options* options);

/* Creates a guardian. On success *out holds the handle (free it with
 * lil_guardian_free); on failure *out is NULL and lil_last_error_message()
 * says which option is wrong. `options` may be NULL for the defaults.
 * Thread-safe. */
LIL_C_API int lil_guardian_create(const lil_guardian_options* options, lil_guardian** out);

/* Frees a guardian; NULL is allowed.
 * Threads: no other call may use this handle meanwhile or after. */
LIL_C_API void lil_guardian_free(lil_guardian* guardian);

/* A copy of `guardian` (fork a sequence for beam search or parallel
 * sampling); *out is NULL on failure. Allocates.
 * Threads: a reader - may run with other readers of the same handle. */
LIL_C_API int lil_guardian_clone(const lil_guardian* guardian, lil_guardian** out);

/* Accepts one token by its text (`size` bytes; `text` may be NULL when size is
 * 0), or by its id. Returns LIL_OK (go on) or LIL_STOP. Never allocates.
 * Threads: one thread at a time per handle. */
LIL_C_API int lil_guardian_accept_text(lil_guardian* guardian, const char* text, size_t size);
/* By id, through the guardian's vocabulary (LIL_E_NO_VOCABULARY without one;
 * LIL_E_BAD_TOKEN for an id outside it). */
LIL_C_API int lil_guardian_accept_id(lil_guardian* guardian, int32_t id);
/* The explicit 4-byte pricing of an id (see Conventions). */
LIL_C_API int lil_guardian_accept_raw_id(lil_guardian* guardian, int32_t id);
LIL_C_API int lil_guardian_accept_raw_ids(lil_guardian* guardian, const int32_t* ids, size_t count);

/* Accepts several tokens at once (speculative decoding). Checks fall at the
 * exact multiples of f inside the batch. Returns LIL_OK or LIL_STOP (the
 * decision's stopped_at says where). Never allocates. A NULL entry with a
 * non-zero size is refused before any token is taken.
 * Threads: one thread at a time per handle. */
LIL_C_API int lil_guardian_accept_ids(lil_guardian* guardian, const int32_t* ids, size_t count);
LIL_C_API int lil_guardian_accept_texts(lil_guardian* guardian, const char* const* texts, const size_t* sizes,
                                        size_t count);

/* Takes back the last `count` tokens. Rollback can return only to the last
 * check (or to where a full buffer was fed early): further than
 * lil_guardian_rollback_limit() it returns LIL_E_ROLLBACK and changes
 * nothing.
 * Threads: rollback, one thread at a time per handle; rollback_limit is a
 * reader. */
LIL_C_API int lil_guardian_rollback(lil_guardian* guardian, size_t count);
LIL_C_API int lil_guardian_rollback_limit(const lil_guardian* guardian, size_t* limit);

/* The decision now. Set out->struct_size first.
 * Threads: a reader - may run with other readers of the same handle. */
LIL_C_API int lil_guardian_decision(const lil_guardian* guardian, lil_decision* out);

/* Back to an empty sequence with the same settings (reuse a slot). Never
 * allocates.
 * Threads: one thread at a time per handle. */
LIL_C_API int lil_guardian_reset(lil_guardian* guardian);

/* Copies up to `capacity` points of the information curve into `points` and
 * sets *count to the number of points kept (which may exceed capacity: call
 * again with more room). Needs curve_capacity > 0 at creation.
 * Threads: a reader - may run with other readers of the same handle. */
LIL_C_API int lil_guardian_curve(const lil_guardian* guardian, lil_curve_point* points, size_t capacity,
                                 size_t* count);

/* Bytes of state held by this guardian.
 * Threads: a reader - may run with other readers of the same handle. */
LIL_C_API int lil_guardian_state_bytes(const lil_guardian* guardian, size_t* bytes);

/* --- vocabularies: token id -> the bytes it decodes to ---------------------
 * Built once per model; a guardian or batch created with one keeps its own
 * reference, so the handle may be freed right after. Immutable: any thread
 * may read it at any time. */
typedef struct lil_vocabulary lil_vocabulary; /* opaque */

enum { LIL_UNFINISHED_PER_BYTE = 0, LIL_UNFINISHED_PER_CHARACTER = 1 };

/* Id i spells pieces[i] (sizes[i] bytes; NULL allowed when the size is 0).
 * strips_leading_space: decoding drops one space at the start of a text
 * (sentencepiece's dummy prefix); unfinished: LIL_UNFINISHED_PER_BYTE (one
 * U+FFFD per byte of a cut character, sentencepiece) or _PER_CHARACTER
 * (Python's errors="replace"). Thread-safe. */
LIL_C_API int lil_vocabulary_create(const char* const* pieces, const size_t* sizes, size_t count,
                                    int32_t strips_leading_space, int32_t unfinished, lil_vocabulary** out);
/* From a tiktoken ranks file's contents ("<base64 bytes> <rank>" lines). */
LIL_C_API int lil_vocabulary_from_tiktoken(const char* data, size_t size, lil_vocabulary** out);
LIL_C_API void lil_vocabulary_free(lil_vocabulary* vocabulary);
LIL_C_API int lil_vocabulary_size(const lil_vocabulary* vocabulary, size_t* size);
/* The bytes of id (valid while the vocabulary lives). */
LIL_C_API int lil_vocabulary_bytes(const lil_vocabulary* vocabulary, int32_t id, const char** data, size_t* size);

/* A guardian that takes ids through `vocabulary`. output_starts_text: 1 when
 * the first accepted token starts the decoded text (its dummy-prefix space is
 * dropped, as decode(output ids) does), 0 when the output continues a prompt. */
LIL_C_API int lil_guardian_create_with_vocabulary(const lil_guardian_options* options,
                                                  const lil_vocabulary* vocabulary, int32_t output_starts_text,
                                                  lil_guardian** out);

/* --- many sequences: one call per decode step -------------------------------
 * One guardian per slot, all allocated at creation. */
typedef struct lil_guardian_batch lil_guardian_batch; /* opaque */

LIL_C_API int lil_guardian_batch_create(const lil_guardian_options* options, const lil_vocabulary* vocabulary,
                                        int32_t output_starts_text, size_t sequences, lil_guardian_batch** out);
LIL_C_API void lil_guardian_batch_free(lil_guardian_batch* batch);
LIL_C_API int lil_guardian_batch_size(const lil_guardian_batch* batch, size_t* sequences);
/* One decode step for slots [begin, end): slot i accepts ids[i] (ids is
 * indexed by slot; -1: no token this step) through the vocabulary. stops
 * (may be NULL) receives 1/0 per slot of the range, *stop_count (may be
 * NULL) how many of them say stop. Every id is checked before any is taken
 * (LIL_E_BAD_TOKEN names the slot). Never allocates.
 * Threads: different threads may step disjoint ranges of one batch at once. */
LIL_C_API int lil_guardian_batch_step(lil_guardian_batch* batch, const int32_t* ids, size_t begin, size_t end,
                                      uint8_t* stops, size_t* stop_count);
/* A new request takes `slot`. */
LIL_C_API int lil_guardian_batch_reset(lil_guardian_batch* batch, size_t slot);
LIL_C_API int lil_guardian_batch_decision(const lil_guardian_batch* batch, size_t slot, lil_decision* out);

/* --- vLLM's repetition rule (lil::repetition_detector) ----------------------
 * Stops when the output ends in an n-gram of size min_pattern_size ..
 * max_pattern_size repeated at least min_count times in a row, checked after
 * every token (vLLM's SamplingParams.repetition_detection; the settings mean
 * what vLLM's mean). Tokens are compared by id, or by text (a 64-bit hash of
 * the bytes); do not mix the two in one sequence. A decode loop that wants
 * both rules feeds both handles and stops when either returns LIL_STOP.
 * Threads: as for lil_guardian. */
typedef struct lil_repetition_options {
  size_t struct_size;        /* sizeof(lil_repetition_options) */
  uint32_t min_pattern_size; /* smallest n-gram checked; 0 means 1 (0) */
  uint32_t max_pattern_size; /* largest n-gram checked; 0: the rule is off (0) */
  uint32_t min_count;        /* repeats in a row that stop; >= 2 when on (0) */
  uint32_t rollback_window;  /* tokens lil_repetition_rollback can take back (32) */
  uint64_t min_tokens;       /* no check before this many tokens (0) */
} lil_repetition_options;

typedef struct lil_repetition_result {
  size_t struct_size;        /* sizeof(lil_repetition_result) */
  int32_t stop;              /* 1: stop, 0: go on */
  uint32_t pattern_size;     /* n-gram size of the loop found (the smallest); 0 while going */
  uint64_t tokens;           /* tokens accepted so far */
  uint64_t stopped_at;       /* tokens when the loop was found; 0 while going */
} lil_repetition_result;

typedef struct lil_repetition lil_repetition; /* opaque */

/* Fills `options` with the defaults (the rule off, as vLLM's defaults) and
 * sets struct_size. Thread-safe. */
LIL_C_API void lil_repetition_options_init(lil_repetition_options* options);
/* Creates a detector; on failure *out is NULL and lil_last_error_message()
 * names the option. Thread-safe. */
LIL_C_API int lil_repetition_create(const lil_repetition_options* options, lil_repetition** out);
LIL_C_API void lil_repetition_free(lil_repetition* detector);
LIL_C_API int lil_repetition_clone(const lil_repetition* detector, lil_repetition** out);
/* One token, by id or by text. LIL_OK or LIL_STOP. Never allocates. */
LIL_C_API int lil_repetition_accept_id(lil_repetition* detector, int32_t id);
LIL_C_API int lil_repetition_accept_text(lil_repetition* detector, const char* text, size_t size);
/* Takes back the last `count` tokens (at most rollback_window, and no more
 * than were accepted): else LIL_E_ROLLBACK and nothing changes. A stop found
 * on a token taken back is taken back with it. */
LIL_C_API int lil_repetition_rollback(lil_repetition* detector, size_t count);
LIL_C_API int lil_repetition_decision(const lil_repetition* detector, lil_repetition_result* out);
LIL_C_API int lil_repetition_reset(lil_repetition* detector);

/* A constant English description of a status code. Thread-safe. */
LIL_C_API const char* lil_status_string(int status);

/* The message of the last failed call in this thread (for LIL_E_BAD_OPTION it
 * names the option and its value); "" when there is none. The pointer stays
 * valid until the next lil call in this thread. Thread-safe (per thread). */
LIL_C_API const char* lil_last_error_message(void);

/* The library's version, "MAJOR.MINOR.PATCH". Thread-safe. */
LIL_C_API const char* lil_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* LIL_LIL_H */
