/* The smallest decode loop with Guardian (C). A fake model says new things for
 * 2,000 tokens and then repeats one sentence forever; Guardian stops it. Copy
 * the loop; replace next_token with your engine's sampler. Link lil::c. */
#include <lil/lil.h>

#include <stdio.h>

/* Stands in for an engine: the next token's text (as the engine decodes it). */
static const char* next_token(unsigned step, char* buffer, size_t size) {
  static const char* const loop[] = {" Wait,", " let", " me", " check", " again."};
  if (step < 2000) {
    snprintf(buffer, size, " w%u", step * 7919u % 10007u); /* fresh text */
    return buffer;
  }
  return loop[step % 5]; /* the degenerate loop */
}

int main(void) {
  lil_guardian_options options;
  lil_guardian* guardian = NULL;
  lil_decision d;
  char buffer[32];
  unsigned n;
  int status;

  lil_guardian_options_init(&options); /* the paper's rule: f = 250, t = 20 bytes, gzip level 6 */
  status = lil_guardian_create(&options, &guardian);
  if (status != LIL_OK) {
    fprintf(stderr, "lil_guardian_create: %s: %s\n", lil_status_string(status), lil_last_error_message());
    return 2;
  }
  for (n = 1; n <= 100000; ++n) { /* the engine's own length cap */
    const char* token = next_token(n, buffer, sizeof buffer);
    size_t length = 0;
    while (token[length]) ++length;
    /* ... append token to the output, stream it to the user ... */
    status = lil_guardian_accept_text(guardian, token, length);
    if (status == LIL_STOP) break;
    if (status < 0) {
      fprintf(stderr, "lil_guardian_accept_text: %s\n", lil_status_string(status));
      break;
    }
  }
  d.struct_size = sizeof d;
  lil_guardian_decision(guardian, &d);
  printf("stopped: %s after %llu tokens; last check: C(%llu) = %llu bytes, gain %lld < %g\n", d.stop ? "yes" : "no",
         (unsigned long long)d.tokens, (unsigned long long)d.last_check.tokens,
         (unsigned long long)d.last_check.size, (long long)d.last_check.gain, d.last_check.threshold);
  lil_guardian_free(guardian);
  return d.stop ? 0 : 1;
}
