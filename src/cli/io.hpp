// Small I/O helpers shared by the subcommands: errors name the file.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
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
// Reads a whole file (or stdin for "-").
std::string read_file(const std::string& path);

}  // namespace lil::cli
