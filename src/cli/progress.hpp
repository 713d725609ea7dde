// A one-line progress bar on stderr, drawn only when stderr is a terminal (so
// logs and pipes never see it).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace lil::cli {

class progress_bar {
 public:
  progress_bar(std::string label, std::size_t total, bool force = false);  // force: draw even off a terminal
  ~progress_bar();  // clears the line
  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  void update(std::size_t done);

 private:
  std::string label_;
  std::size_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace lil::cli
