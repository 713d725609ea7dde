// lil - command-line front end: `lil deflate`, `lil size`, ...
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <exception>
#include <vector>

#include "command.hpp"
#include "lil/config.hpp"
#include "io.hpp"

namespace {

// The table of subcommands: adding one is one line here plus its own file.
constexpr lil::cli::registrar subcommands[] = {
    lil::cli::register_deflate,
    lil::cli::register_size,
    lil::cli::register_guard,
    lil::cli::register_sweep,
    lil::cli::register_demo,
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lil - stop decode loops when the output stops carrying information", "lil"};
  app.set_version_flag("--version", LIL_VERSION_STRING);
  app.require_subcommand(1);

  std::vector<lil::cli::subcommand> commands;
  for (auto add : subcommands) commands.push_back(add(app));

  // Help and version go to stdout; a write that fails (a full disk) must not
  // exit 0 as if they had been printed.
  auto print_and_exit = [&app](const CLI::Error& e) {
    const int status = app.exit(e);
    std::cout.flush();
    errno = 0;
    if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
      fmt::print(stderr, "lil: error: cannot write <stdout>: {}\n", std::strerror(errno == 0 ? EIO : errno));
      return lil::cli::exit_io_error;
    }
    return status;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return print_and_exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return print_and_exit(e);
  } catch (const CLI::CallForVersion& e) {
    return print_and_exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports an unknown command as a missing one; name it instead.
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || (argc > 1 && sub->get_name() == argv[1]);
    if (argc > 1 && argv[1][0] != '-' && !known) {
      fmt::print(stderr, "lil: error: unknown command '{}' (see lil --help)\n", argv[1]);
    } else {
      fmt::print(stderr, "lil: error: {}\n", e.what());
    }
    return lil::cli::exit_usage;
  }

  try {
    for (auto& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const lil::cli::io_error& e) {
    fmt::print(stderr, "lil: error: {}\n", e.what());
    return lil::cli::exit_io_error;
  } catch (const lil::error& e) {
    fmt::print(stderr, "lil: error: {}\n", e.what());
    return lil::cli::exit_usage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "lil: error: {}\n", e.what());
    return lil::cli::exit_io_error;
  }
  return lil::cli::exit_usage;
}
