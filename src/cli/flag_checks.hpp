// Flag checks shared by the subcommands, with messages that say what is
// wanted (CLI11 prefixes the flag): "--f: must be a whole number >= 1, got '0'".
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace lil::cli {

// A whole number in [min, max] (no sign, no trailing characters).
inline CLI::Validator integer_at_least(unsigned long long min,
                                       unsigned long long max = std::numeric_limits<unsigned long long>::max()) {
  return CLI::Validator(
      [min, max](std::string& s) -> std::string {
        std::size_t used = 0;
        unsigned long long v = 0;
        try {
          if (s.empty() || s[0] == '-' || s[0] == '+') throw std::invalid_argument(s);
          v = std::stoull(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || used == 0 || v < min)
          return fmt::format("must be a whole number >= {}, got '{}'", min, s);
        if (v > max) return fmt::format("must be a whole number <= {}, got '{}'", max, s);
        return {};
      },
      fmt::format("INT>={}", min));
}

// A finite number >= min.
inline CLI::Validator number_at_least(double min) {
  return CLI::Validator(
      [min](std::string& s) -> std::string {
        std::size_t used = 0;
        double v = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || used == 0 || !(v >= min) || !std::isfinite(v))
          return fmt::format("must be a number >= {:g}, got '{}'", min, s);
        return {};
      },
      fmt::format("NUMBER>={:g}", min));
}

}  // namespace lil::cli
