// `lil size`: the exact raw DEFLATE size of every prefix whose length is a
// multiple of --every, and of the whole input, in one incremental pass.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "command.hpp"
#include "deflate_flags.hpp"
#include "flag_checks.hpp"
#include "io.hpp"
#include "lil/deflate/compressor.hpp"

namespace lil::cli {

subcommand register_size(CLI::App& app) {
  auto* cmd = app.add_subcommand("size", "Print 'OFFSET SIZE' for every prefix of stdin that is a multiple of --every bytes, and for the whole input");
  auto flags = std::make_shared<deflate_flags>();
  auto every = std::make_shared<std::uint64_t>(0);
  add_deflate_flags(*cmd, *flags);
  cmd->add_option("--every", *every, "Report every this many bytes")->required()->check(integer_at_least(1));

  return {cmd, [flags, every] {
            deflate::compressor c(flags->to_options(/*keep_output=*/false));
            std::vector<unsigned char> buf(1 << 16);
            std::uint64_t offset = 0;
            std::uint64_t last_reported = ~std::uint64_t{0};
            for (;;) {
              std::size_t n = read_some(stdin, "<stdin>", buf.data(), buf.size());
              std::size_t pos = 0;
              while (pos < n) {
                // Feed up to the next multiple of --every, then report.
                std::uint64_t to_next = *every - offset % *every;
                std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(to_next, n - pos));
                c.feed(buf.data() + pos, take);
                pos += take;
                offset += take;
                if (offset % *every == 0) {
                  write_stdout(fmt::format("{} {}\n", offset, c.size_if_finished()));
                  last_reported = offset;
                }
              }
              if (n < buf.size()) break;
            }
            if (last_reported != offset) write_stdout(fmt::format("{} {}\n", offset, c.size_if_finished()));
            flush_stdout();
            return exit_ok;
          }};
}

}  // namespace lil::cli
