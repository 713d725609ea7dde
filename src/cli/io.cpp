#include "io.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace lil::cli {

namespace {
std::string describe(const std::string& name) {
  return name + ": " + std::strerror(errno);
}
}  // namespace

std::size_t read_some(std::FILE* f, const std::string& name, unsigned char* buf, std::size_t cap) {
  errno = 0;
  std::size_t n = std::fread(buf, 1, cap, f);
  if (n < cap && std::ferror(f)) throw io_error("cannot read " + describe(name));
  return n;
}

void write_all(std::FILE* f, const std::string& name, const unsigned char* data, std::size_t size) {
  errno = 0;
  if (size != 0 && std::fwrite(data, 1, size, f) != size) throw io_error("cannot write " + describe(name));
}

std::string read_file(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) throw io_error("cannot open " + describe(path));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f == stdin ? nullptr : f, std::fclose);
  std::string out;
  unsigned char buf[1 << 16];
  for (;;) {
    std::size_t n = read_some(f, path == "-" ? "<stdin>" : path, buf, sizeof buf);
    out.append(reinterpret_cast<const char*>(buf), n);
    if (n < sizeof buf) break;
  }
  return out;
}

}  // namespace lil::cli
