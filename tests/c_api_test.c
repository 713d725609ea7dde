/* The C ABI driven from C: whole decode loops through lil.h, and every error
 * path. Plain C (no test framework): each failed expectation is printed and
 * the exit status is the number of failures. */
#include <lil/lil.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                    \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                       \
    }                                                                   \
  } while (0)

/* A fake model: fresh words for `fresh` tokens, then the same 12 tokens over
 * and over - the degenerate loop Guardian is for. Deterministic. */
typedef struct token_source {
  unsigned long state;
  unsigned long emitted;
  unsigned long fresh;
  char text[16];
} token_source;

static const char* next_token(token_source* s, size_t* size) {
  unsigned long x;
  int len, i;
  if (s->emitted >= s->fresh) s->state = 12345UL + (s->emitted - s->fresh) % 12UL;
  s->state = s->state * 6364136223846793005UL + 1442695040888963407UL;
  x = s->state >> 33;
  len = 1 + (int)(x % 7UL);
  s->text[0] = ' ';
  for (i = 1; i <= len; ++i) {
    s->text[i] = (char)('a' + (x >> (3 * i)) % 26UL);
  }
  ++s->emitted;
  *size = (size_t)len + 1;
  return s->text;
}

static lil_decision decision_of(const lil_guardian* g) {
  lil_decision d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  EXPECT(lil_guardian_decision(g, &d) == LIL_OK);
  return d;
}

/* Runs a decode loop until Guardian says stop (or `limit` tokens); returns the
 * number of tokens generated. */
static unsigned long decode_loop(lil_guardian* g, token_source* src, unsigned long limit) {
  unsigned long n = 0;
  while (n < limit) {
    size_t size;
    const char* text = next_token(src, &size);
    int status = lil_guardian_accept_text(g, text, size);
    ++n;
    EXPECT(status == LIL_OK || status == LIL_STOP);
    if (status == LIL_STOP) break;
  }
  return n;
}

static void test_loop_stops_on_repetition(void) {
  lil_guardian_options o;
  lil_guardian* g = NULL;
  token_source src = {1, 0, 700, {0}};
  unsigned long n;
  lil_decision d;
  lil_guardian_options_init(&o);
  EXPECT(o.struct_size == sizeof o);
  EXPECT(o.check_every == 250 && o.min_gain == 20 && o.level == 6 && o.profile == LIL_PROFILE_GZIP);
  EXPECT(lil_guardian_create(&o, &g) == LIL_OK);
  EXPECT(g != NULL);
  if (!g) return;
  n = decode_loop(g, &src, 20000);
  d = decision_of(g);
  EXPECT(n < 20000);
  EXPECT(d.stop == 1);
  EXPECT(d.reason == LIL_REASON_PLATEAU);
  EXPECT(d.tokens == n);
  EXPECT(d.stopped_at == n);
  EXPECT(n % 250 == 0 && n >= 500);
  EXPECT(n > 700); /* not while the text was fresh */
  EXPECT(d.last_check.tokens == n);
  EXPECT((double)d.last_check.gain < d.last_check.threshold);
  EXPECT(d.last_check.size > 0 && d.last_check.bytes > d.last_check.size);
  lil_guardian_free(g);
}

static void test_fresh_text_goes_on(void) {
  lil_guardian* g = NULL;
  token_source src = {7, 0, 100000, {0}};
  lil_decision d;
  EXPECT(lil_guardian_create(NULL, &g) == LIL_OK);
  if (!g) return;
  EXPECT(decode_loop(g, &src, 3000) == 3000);
  d = decision_of(g);
  EXPECT(d.stop == 0);
  EXPECT(d.reason == LIL_REASON_GAINING);
  EXPECT(d.last_check.tokens == 3000);
  EXPECT(d.last_check.gain >= 20);
  lil_guardian_free(g);
}

static void test_rollback_and_its_limit(void) {
  lil_guardian_options o;
  lil_guardian *g = NULL, *twin = NULL;
  token_source src = {3, 0, 100000, {0}}, twin_src;
  size_t limit = 99, size;
  int i;
  lil_guardian_options_init(&o);
  o.check_every = 50;
  EXPECT(lil_guardian_create(&o, &g) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &twin) == LIL_OK);
  if (!g || !twin) return;
  decode_loop(g, &src, 60); /* check at 50, ten since */
  EXPECT(lil_guardian_rollback_limit(g, &limit) == LIL_OK);
  EXPECT(limit == 10);
  EXPECT(lil_guardian_rollback(g, 11) == LIL_E_ROLLBACK);
  EXPECT(strlen(lil_last_error_message()) > 0);
  EXPECT(decision_of(g).tokens == 60);
  EXPECT(lil_guardian_rollback(g, 4) == LIL_OK);
  EXPECT(decision_of(g).tokens == 56);
  /* The rejected draft tokens leave no trace: continue both and compare. */
  twin_src = src;
  memset(&src, 0, sizeof src);
  src.state = 3;
  src.fresh = 100000;
  decode_loop(twin, &src, 56);
  for (i = 0; i < 200; ++i) {
    const char* t = next_token(&twin_src, &size);
    lil_guardian_accept_text(g, t, size);
    lil_guardian_accept_text(twin, t, size);
  }
  EXPECT(decision_of(g).last_check.size == decision_of(twin).last_check.size);
  EXPECT(decision_of(g).last_check.tokens == 250);
  lil_guardian_free(g);
  lil_guardian_free(twin);
}

static void test_clone_forks(void) {
  lil_guardian *g = NULL, *fork = NULL;
  token_source src = {5, 0, 400, {0}}, fresh = {9, 0, 100000, {0}};
  lil_decision a, b;
  EXPECT(lil_guardian_create(NULL, &g) == LIL_OK);
  if (!g) return;
  decode_loop(g, &src, 400);
  EXPECT(lil_guardian_clone(g, &fork) == LIL_OK);
  if (!fork) return;
  decode_loop(g, &src, 3000);     /* the loop: stops */
  decode_loop(fork, &fresh, 3000); /* fresh text: goes on */
  a = decision_of(g);
  b = decision_of(fork);
  EXPECT(a.stop == 1);
  EXPECT(b.stop == 0);
  EXPECT(b.tokens == 3400);
  lil_guardian_free(g);
  lil_guardian_free(fork);
}

static void test_reset_replays_identically(void) {
  lil_guardian* g = NULL;
  token_source src = {11, 0, 600, {0}};
  unsigned long first, second;
  EXPECT(lil_guardian_create(NULL, &g) == LIL_OK);
  if (!g) return;
  first = decode_loop(g, &src, 20000);
  EXPECT(lil_guardian_reset(g) == LIL_OK);
  EXPECT(decision_of(g).tokens == 0);
  EXPECT(decision_of(g).reason == LIL_REASON_NO_CHECK_YET);
  memset(&src, 0, sizeof src);
  src.state = 11;
  src.fresh = 600;
  second = decode_loop(g, &src, 20000);
  EXPECT(first == second);
  lil_guardian_free(g);
}

static int same_decision(const lil_decision* a, const lil_decision* b) {
  return a->stop == b->stop && a->reason == b->reason && a->tokens == b->tokens && a->stopped_at == b->stopped_at &&
         a->last_check.tokens == b->last_check.tokens && a->last_check.size == b->last_check.size &&
         a->last_check.bytes == b->last_check.bytes && a->last_check.gain == b->last_check.gain;
}

static void test_batches_equal_one_by_one(void) {
  lil_guardian_options o;
  lil_guardian *one = NULL, *many = NULL, *text_one = NULL, *text_many = NULL;
  static int32_t ids[1000];
  static const char* texts[1000];
  static size_t sizes[1000];
  static char store[1000][16];
  token_source src = {13, 0, 300, {0}};
  lil_decision a, b;
  int i;
  lil_guardian_options_init(&o);
  o.check_every = 100;
  for (i = 0; i < 1000; ++i) {
    const char* t = next_token(&src, &sizes[i]);
    memcpy(store[i], t, sizes[i]);
    texts[i] = store[i];
    ids[i] = i < 300 ? (int32_t)(i * 7919 % 32000) : (int32_t)(i % 9);
  }
  EXPECT(lil_guardian_create(&o, &one) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &many) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &text_one) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &text_many) == LIL_OK);
  if (!one || !many || !text_one || !text_many) return;
  for (i = 0; i < 1000; ++i) {
    lil_guardian_accept_raw_id(one, ids[i]);
    lil_guardian_accept_text(text_one, texts[i], sizes[i]);
  }
  lil_guardian_accept_raw_ids(many, ids, 333);
  lil_guardian_accept_raw_ids(many, ids + 333, 667);
  lil_guardian_accept_texts(text_many, texts, sizes, 501);
  lil_guardian_accept_texts(text_many, texts + 501, sizes + 501, 499);
  a = decision_of(one);
  b = decision_of(many);
  EXPECT(same_decision(&a, &b));
  EXPECT(a.last_check.bytes == 4000); /* an id stands for 4 bytes */
  EXPECT(a.stop == 1);                 /* ids repeat with period 9 after 300 */
  a = decision_of(text_one);
  b = decision_of(text_many);
  EXPECT(same_decision(&a, &b));
  EXPECT(a.stop == 1);
  lil_guardian_free(one);
  lil_guardian_free(many);
  lil_guardian_free(text_one);
  lil_guardian_free(text_many);
}

static void test_information_curve(void) {
  lil_guardian_options o;
  lil_guardian* g = NULL;
  token_source src = {17, 0, 100000, {0}};
  lil_curve_point points[8];
  size_t count = 0, bytes = 0;
  int i;
  lil_guardian_options_init(&o);
  o.check_every = 100;
  o.curve_capacity = 32;
  EXPECT(lil_guardian_create(&o, &g) == LIL_OK);
  if (!g) return;
  decode_loop(g, &src, 1050);
  EXPECT(lil_guardian_curve(g, points, 8, &count) == LIL_OK);
  EXPECT(count == 10);
  for (i = 0; i < 8; ++i) {
    EXPECT(points[i].tokens == (uint64_t)(i + 1) * 100);
    EXPECT(points[i].size > 0 && points[i].size < points[i].bytes);
  }
  EXPECT(lil_guardian_curve(g, NULL, 0, &count) == LIL_OK && count == 10);
  EXPECT(lil_guardian_state_bytes(g, &bytes) == LIL_OK);
  EXPECT(bytes > 32 * sizeof(lil_curve_point));
  lil_guardian_free(g);
}

static int message_names(const char* what) { return strstr(lil_last_error_message(), what) != NULL; }

static void test_bad_options_are_refused_with_a_message(void) {
  lil_guardian_options o;
  lil_guardian* g = (lil_guardian*)&o; /* must be reset to NULL on failure */
  lil_guardian_options_init(&o);
  o.check_every = 0;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION);
  EXPECT(g == NULL);
  EXPECT(message_names("check_every"));
  lil_guardian_options_init(&o);
  o.min_gain = -1;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("min_gain"));
  lil_guardian_options_init(&o);
  o.level = 12;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("level"));
  lil_guardian_options_init(&o);
  o.profile = 7;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("profile"));
  lil_guardian_options_init(&o);
  o.patience = 0;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("patience"));
  lil_guardian_options_init(&o);
  o.relative_checks = 1;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("relative_checks"));
  /* Capacities beyond any memory are bad options, not internal errors. */
  lil_guardian_options_init(&o);
  o.curve_capacity = SIZE_MAX;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("curve_capacity"));
  lil_guardian_options_init(&o);
  o.pending_capacity = SIZE_MAX;
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_BAD_OPTION && message_names("pending_capacity"));
  EXPECT(g == NULL);
}

/* A caller compiled against a newer header passes a larger struct. */
typedef struct newer_options {
  lil_guardian_options v1;
  uint64_t future_field;
} newer_options;

static void test_struct_size_versioning(void) {
  newer_options n;
  lil_guardian_options o;
  lil_guardian* g = NULL;
  struct {
    lil_decision v1;
    uint64_t future_field;
  } bigger;
  lil_guardian_options_init(&o);
  o.struct_size = sizeof(size_t);
  EXPECT(lil_guardian_create(&o, &g) == LIL_E_STRUCT_SIZE);
  memset(&n, 0, sizeof n);
  lil_guardian_options_init(&n.v1);
  n.v1.struct_size = sizeof n;
  EXPECT(lil_guardian_create(&n.v1, &g) == LIL_OK); /* unknown fields left zero: fine */
  lil_guardian_free(g);
  g = NULL;
  n.future_field = 3;
  EXPECT(lil_guardian_create(&n.v1, &g) == LIL_E_STRUCT_SIZE); /* unknown field set: refused */
  EXPECT(g == NULL);
  EXPECT(lil_guardian_create(NULL, &g) == LIL_OK);
  if (!g) return;
  memset(&bigger, 0xff, sizeof bigger);
  bigger.v1.struct_size = sizeof bigger;
  EXPECT(lil_guardian_decision(g, &bigger.v1) == LIL_OK);
  EXPECT(bigger.v1.struct_size == sizeof bigger);
  EXPECT(bigger.future_field == 0);
  EXPECT(bigger.v1.tokens == 0);
  bigger.v1.struct_size = 4;
  EXPECT(lil_guardian_decision(g, &bigger.v1) == LIL_E_STRUCT_SIZE);
  lil_guardian_free(g);
}

static void test_null_arguments_are_refused(void) {
  lil_guardian* g = NULL;
  lil_decision d;
  size_t n;
  EXPECT(lil_guardian_create(NULL, NULL) == LIL_E_NULL);
  EXPECT(lil_guardian_accept_id(NULL, 1) == LIL_E_NULL);
  EXPECT(lil_guardian_accept_text(NULL, "a", 1) == LIL_E_NULL);
  EXPECT(lil_guardian_decision(NULL, &d) == LIL_E_NULL);
  EXPECT(lil_guardian_reset(NULL) == LIL_E_NULL);
  EXPECT(lil_guardian_clone(NULL, &g) == LIL_E_NULL);
  EXPECT(lil_guardian_rollback(NULL, 1) == LIL_E_NULL);
  EXPECT(lil_guardian_curve(NULL, NULL, 0, &n) == LIL_E_NULL);
  lil_guardian_free(NULL);
  EXPECT(lil_guardian_create(NULL, &g) == LIL_OK);
  if (!g) return;
  EXPECT(lil_guardian_accept_text(g, NULL, 3) == LIL_E_NULL);
  EXPECT(lil_guardian_accept_text(g, NULL, 0) == LIL_OK); /* an empty token */
  EXPECT(lil_guardian_accept_ids(g, NULL, 2) == LIL_E_NULL);
  EXPECT(lil_guardian_accept_raw_ids(g, NULL, 2) == LIL_E_NULL);
  EXPECT(lil_guardian_decision(g, NULL) == LIL_E_NULL);
  EXPECT(lil_guardian_clone(g, NULL) == LIL_E_NULL);
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  EXPECT(lil_guardian_decision(g, &d) == LIL_OK && d.tokens == 1);
  lil_guardian_free(g);
}

/* Ids through a vocabulary price their text; a batch step equals each slot's
 * own guardian; bad ids and missing vocabularies are refused. */
static void test_vocabulary_and_batch_step(void) {
  static const char* const pieces[] = {" the", " cat", " sat", ".", "\n", " on", " mat"};
  size_t sizes[7], i, n = 0;
  lil_vocabulary *v = NULL, *bad = NULL;
  lil_guardian *by_id = NULL, *by_text = NULL, *plain = NULL;
  lil_guardian_batch* batch = NULL;
  lil_guardian_options o;
  lil_decision a, b;
  int32_t step[3];
  uint8_t stops[3];
  for (i = 0; i < 7; ++i) sizes[i] = strlen(pieces[i]);
  EXPECT(lil_vocabulary_create(pieces, sizes, 7, 0, 9, &bad) == LIL_E_BAD_OPTION && bad == NULL);
  EXPECT(lil_vocabulary_create(pieces, sizes, 7, 0, LIL_UNFINISHED_PER_BYTE, &v) == LIL_OK);
  EXPECT(v != NULL);
  if (!v) return;
  EXPECT(lil_vocabulary_size(v, &n) == LIL_OK && n == 7);
  lil_guardian_options_init(&o);
  o.check_every = 20;
  o.min_gain = 3;
  EXPECT(lil_guardian_create_with_vocabulary(&o, v, 1, &by_id) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &by_text) == LIL_OK);
  EXPECT(lil_guardian_batch_create(&o, v, 1, 3, &batch) == LIL_OK);
  EXPECT(lil_guardian_create(&o, &plain) == LIL_OK);
  EXPECT(by_id && by_text && batch && plain);
  if (!by_id || !by_text || !batch || !plain) return;
  for (i = 0; i < 400; ++i) {
    int32_t id = (int32_t)(i % 7);
    lil_guardian_accept_id(by_id, id);
    lil_guardian_accept_text(by_text, pieces[id], sizes[id]);
    step[0] = id;
    step[1] = i % 3 == 0 ? -1 : (int32_t)((i * 5) % 7);
    step[2] = id;
    EXPECT(lil_guardian_batch_step(batch, step, 0, 3, stops, NULL) == LIL_OK);
  }
  a = decision_of(by_id);
  b = decision_of(by_text);
  EXPECT(a.stop == b.stop && a.stopped_at == b.stopped_at && a.last_check.size == b.last_check.size);
  EXPECT(a.stop == 1);
  memset(&b, 0, sizeof b);
  b.struct_size = sizeof b;
  EXPECT(lil_guardian_batch_decision(batch, 2, &b) == LIL_OK && b.stopped_at == a.stopped_at && stops[2] == 1);
  step[0] = 7; /* outside: refused, nothing taken */
  EXPECT(lil_guardian_batch_step(batch, step, 0, 3, stops, NULL) == LIL_E_BAD_TOKEN);
  EXPECT(strstr(lil_last_error_message(), "id 7 at 0") != NULL);
  EXPECT(lil_guardian_accept_id(plain, 1) == LIL_E_NO_VOCABULARY);
  EXPECT(lil_guardian_accept_id(by_id, -3) == LIL_E_BAD_TOKEN);
  EXPECT(lil_guardian_batch_step(batch, step, 2, 4, stops, NULL) == LIL_E_BAD_OPTION);
  lil_vocabulary_free(v); /* the guardians keep their own reference */
  EXPECT(lil_guardian_accept_id(by_id, 3) == LIL_STOP);
  lil_guardian_free(by_id);
  lil_guardian_free(by_text);
  lil_guardian_free(plain);
  lil_guardian_batch_free(batch);
}

static void test_status_strings(void) {
  int codes[] = {LIL_OK, LIL_STOP, LIL_E_NULL, LIL_E_BAD_OPTION, LIL_E_STRUCT_SIZE, LIL_E_NO_MEMORY, LIL_E_ROLLBACK,
                 LIL_E_INTERNAL};
  const char* unknown = lil_status_string(-1000);
  size_t i;
  EXPECT(unknown != NULL && strlen(unknown) > 0);
  for (i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
    const char* s = lil_status_string(codes[i]);
    EXPECT(s != NULL && strlen(s) > 0 && strcmp(s, unknown) != 0);
  }
  EXPECT(LIL_E_NULL < 0 && LIL_E_BAD_OPTION < 0 && LIL_E_STRUCT_SIZE < 0 && LIL_E_NO_MEMORY < 0 &&
         LIL_E_ROLLBACK < 0 && LIL_E_INTERNAL < 0);
  EXPECT(strlen(lil_version_string()) >= 5);
}

/* vLLM's repetition rule: "1 2 3" three times stops at the ninth token. */
static void test_repetition_rule(void) {
  lil_repetition_options o;
  lil_repetition_options_init(&o);
  EXPECT(o.max_pattern_size == 0); /* off by default, as vLLM's */
  o.min_pattern_size = 2;
  o.max_pattern_size = 3;
  o.min_count = 3;
  lil_repetition* r = NULL;
  EXPECT(lil_repetition_create(&o, &r) == LIL_OK && r != NULL);
  if (!r) return;
  const int32_t ids[] = {7, 1, 2, 3, 1, 2, 3, 1, 2, 3};
  int status = LIL_OK;
  for (int i = 0; i < 10; ++i) {
    status = lil_repetition_accept_id(r, ids[i]);
    EXPECT((status == LIL_STOP) == (i == 9));
  }
  lil_repetition_result d;
  d.struct_size = sizeof d;
  EXPECT(lil_repetition_decision(r, &d) == LIL_OK);
  EXPECT(d.stop == 1 && d.stopped_at == 10 && d.pattern_size == 3 && d.tokens == 10);
  lil_repetition* fork = NULL;
  EXPECT(lil_repetition_clone(r, &fork) == LIL_OK);
  EXPECT(lil_repetition_rollback(r, 1) == LIL_OK); /* the stop goes with its token */
  EXPECT(lil_repetition_decision(r, &d) == LIL_OK && d.stop == 0 && d.tokens == 9);
  EXPECT(lil_repetition_rollback(r, 100) == LIL_E_ROLLBACK);
  EXPECT(lil_repetition_decision(fork, &d) == LIL_OK && d.stop == 1);
  EXPECT(lil_repetition_reset(fork) == LIL_OK);
  EXPECT(lil_repetition_accept_text(fork, "ab", 2) == LIL_OK);
  EXPECT(lil_repetition_accept_text(fork, NULL, 1) == LIL_E_NULL);
  lil_repetition_free(fork);
  lil_repetition_free(r);

  o.min_count = 1;
  r = NULL;
  EXPECT(lil_repetition_create(&o, &r) == LIL_E_BAD_OPTION && r == NULL);
  EXPECT(strstr(lil_last_error_message(), "min_count") != NULL);
}

int main(void) {
  test_repetition_rule();
  test_loop_stops_on_repetition();
  test_fresh_text_goes_on();
  test_rollback_and_its_limit();
  test_clone_forks();
  test_reset_replays_identically();
  test_batches_equal_one_by_one();
  test_information_curve();
  test_bad_options_are_refused_with_a_message();
  test_struct_size_versioning();
  test_null_arguments_are_refused();
  test_vocabulary_and_batch_step();
  test_status_strings();
  if (failures) fprintf(stderr, "%d expectation(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
