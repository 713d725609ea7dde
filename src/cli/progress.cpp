#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace lil::cli {

progress_bar::progress_bar(std::string label, std::size_t total, bool force)
    : label_(std::move(label)), total_(total), enabled_(force || isatty(STDERR_FILENO) == 1) {}

progress_bar::~progress_bar() {
  if (enabled_) std::fputs("\r\033[K", stderr);
}

void progress_bar::update(std::size_t done) {
  if (!enabled_) return;
  // Redrawing costs a write to the terminal: ten times a second is plenty.
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr std::size_t width = 30;
  const std::size_t filled = total_ == 0 ? width : width * done / total_;
  fmt::print(stderr, "\r{} [{:#<{}}{:.<{}}] {}/{}", label_, "", filled, "", width - filled, done, total_);
  std::fflush(stderr);
}

}  // namespace lil::cli
