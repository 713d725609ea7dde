// The flags `lil deflate`, `lil size` (and `lil guard`) share: -1..-9, --level, --profile.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "lil/deflate/compressor.hpp"

namespace lil::cli {

struct deflate_flags {
  int level = 6;
  std::string profile = "gzip";

  deflate::options to_options(bool keep_output = true) const {
    deflate::options o;
    o.level = level;
    o.profile = profile == "zlib" ? deflate::profile::zlib : deflate::profile::gzip;
    o.keep_output = keep_output;
    return o;
  }
};

inline void add_deflate_flags(CLI::App& cmd, deflate_flags& flags) {
  auto* group = cmd.add_option_group("level", "Compression level, as gzip -1..-9");
  for (int l = 1; l <= 9; ++l) {
    std::string name = "-" + std::to_string(l);
    group->add_flag_callback(name, [&flags, l] { flags.level = l; }, "Level " + std::to_string(l));
  }
  cmd.add_option("--level", flags.level, "Compression level 1..9")->check(CLI::Range(1, 9))->capture_default_str();
  cmd.add_option("--profile", flags.profile, "Whose output to reproduce: gzip (GNU gzip 1.12) or zlib (1.2.13)")
      ->check(CLI::IsMember({"gzip", "zlib"}))
      ->capture_default_str();
}

}  // namespace lil::cli
