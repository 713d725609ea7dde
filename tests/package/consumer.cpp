// Uses lil through its public C++17 headers only.
#include <lil/lil.hpp>

#include <cstdio>
#include <cstring>

int main() {
  const char text[] = "a consumer of lil, a consumer of lil, a consumer of lil";
  lil::deflate::options opts;
  opts.keep_output = false;
  lil::deflate::compressor c(opts);
  c.feed(text, std::strlen(text));
  std::uint64_t size = c.size_if_finished();
  std::printf("raw deflate size: %llu\n", static_cast<unsigned long long>(size));
  return size > 0 && size < std::strlen(text) ? 0 : 1;
}
