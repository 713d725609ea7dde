/* Uses lil through its C header only (built when the C ABI exists). */
#include <lil/lil.h>
#include <stdio.h>

int main(void) { return lil_version_string() != NULL ? 0 : 1; }
