#include "io.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <sys/stat.h>

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

void write_stdout(std::string_view text) {
  errno = 0;
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stdout) != text.size())
    throw io_error("cannot write " + describe("<stdout>"));
}

void flush_stdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw io_error("cannot write " + describe("<stdout>"));
}

input_file::input_file(const std::string& path) : name_(path == "-" ? "<stdin>" : path) {
  errno = 0;
  file_ = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!file_) throw io_error("cannot open " + describe(path));
  struct stat st {};
  if (fstat(fileno(file_), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      if (file_ != stdin) std::fclose(file_);
      throw io_error("cannot read " + path + ": is a directory");
    }
    if (S_ISREG(st.st_mode)) size_ = static_cast<std::uint64_t>(st.st_size);
  }
}

input_file::~input_file() {
  if (file_ && file_ != stdin) std::fclose(file_);
}

}  // namespace lil::cli
