// The lil tool's subcommands. Each lives in its own file and registers itself
// with the CLI11 app; main.cpp only parses and maps errors to exit statuses.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace lil::cli {

// Exit statuses shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_io_error = 1;    // a file could not be read or written (named)
inline constexpr int exit_usage = 2;       // bad flags or arguments (one line on stderr)
inline constexpr int exit_bad_record = 3;  // some input records failed; the others were processed

// A subcommand adds itself to `app` and returns itself with the action to run
// once the command line has parsed. The action returns the exit status.
struct subcommand {
  CLI::App* app;
  std::function<int()> run;
};
using registrar = subcommand (*)(CLI::App& app);

subcommand register_deflate(CLI::App& app);
subcommand register_size(CLI::App& app);
subcommand register_guard(CLI::App& app);
subcommand register_sweep(CLI::App& app);
subcommand register_demo(CLI::App& app);

}  // namespace lil::cli
