// `lil deflate`: stdin -> stdout, byte-identical to gzip -n / zlib compress2.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "deflate_flags.hpp"
#include "io.hpp"
#include "lil/deflate/compressor.hpp"

namespace lil::cli {

subcommand register_deflate(CLI::App& app) {
  auto* cmd = app.add_subcommand("deflate", "Compress stdin to stdout (raw DEFLATE, gzip member or zlib stream)");
  auto flags = std::make_shared<deflate_flags>();
  auto format = std::make_shared<std::string>("raw");
  add_deflate_flags(*cmd, *flags);
  cmd->add_option("--format", *format, "Container: raw, gzip (as gzip -n), zlib (as compress2)")
      ->check(CLI::IsMember({"raw", "gzip", "zlib"}))
      ->capture_default_str();

  return {cmd, [flags, format] {
            deflate::container box = *format == "gzip"   ? deflate::container::gzip
                                     : *format == "zlib" ? deflate::container::zlib
                                                         : deflate::container::raw;
            deflate::encoder enc(flags->to_options(), box);
            std::vector<unsigned char> buf(1 << 16);
            for (;;) {
              std::size_t n = read_some(stdin, "<stdin>", buf.data(), buf.size());
              enc.feed(buf.data(), n);
              auto out = enc.take_output();
              write_all(stdout, "<stdout>", out.data(), out.size());
              if (n < buf.size()) break;
            }
            enc.finish();
            auto out = enc.take_output();
            write_all(stdout, "<stdout>", out.data(), out.size());
            if (std::fflush(stdout) != 0) throw io_error("cannot write <stdout>");
            return exit_ok;
          }};
}

}  // namespace lil::cli
