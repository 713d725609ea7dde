// Small I/O helpers shared by the subcommands: errors name the file.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lil::cli {

// Raised for an I/O failure; main() prints it and exits with exit_io_error.
struct io_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads up to `cap` bytes from `f` into `buf`; throws io_error naming `name`.
std::size_t read_some(std::FILE* f, const std::string& name, unsigned char* buf, std::size_t cap);
// Writes all of `data` to `f`; throws io_error naming `name`.
void write_all(std::FILE* f, const std::string& name, const unsigned char* data, std::size_t size);
// Writes `text` to stdout; throws io_error naming <stdout> (a full disk, a
// closed pipe).
void write_stdout(std::string_view text);
// Flushes stdout; throws io_error naming <stdout>.
void flush_stdout();

// An input file, or stdin for "-"; closed (unless stdin) when destroyed.
class input_file {
 public:
  explicit input_file(const std::string& path);  // throws io_error naming the path
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  ~input_file();

  std::FILE* get() const noexcept { return file_; }
  const std::string& name() const noexcept { return name_; }  // the path, or <stdin>
  std::uint64_t size() const noexcept { return size_; }        // bytes of a regular file; 0: unknown

 private:
  std::FILE* file_ = nullptr;
  std::string name_;
  std::uint64_t size_ = 0;
};

}  // namespace lil::cli
