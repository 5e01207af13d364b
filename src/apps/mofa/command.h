#pragma once
// Subcommands of the `mofa` CLI register themselves: one file per command defines a static
// CommandRegistration, so adding a command never edits a shared list.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace mofa::cli {

// `setup` adds the subcommand to `app` and sets its callback. Callbacks throw mofa errors;
// main() maps them to exit codes (InvalidInput 1 with the message on stderr, Unsupported 2,
// anything else 3).
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandRegistration {
  CommandRegistration(std::string name, CommandSetup setup);
};

}  // namespace mofa::cli
