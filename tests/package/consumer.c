/* Uses lil through its C header only: a short decode loop of one repeated
   token must end in a stop. */
#include <lil/lil.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  lil_guardian_options options;
  lil_guardian* guardian = NULL;
  lil_decision decision;
  int i;
  lil_guardian_options_init(&options);
  if (lil_guardian_create(&options, &guardian) != LIL_OK) return 1;
  for (i = 0; i < 5000; ++i) {
    if (lil_guardian_accept_text(guardian, " again", 6) < 0) return 1;
  }
  decision.struct_size = sizeof decision;
  if (lil_guardian_decision(guardian, &decision) != LIL_OK) return 1;
  printf("lil %s: stop=%d\n", lil_version_string(), (int)decision.stop);
  lil_guardian_free(guardian);
  return decision.stop ? 0 : 1;
}
