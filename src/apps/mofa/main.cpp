// mofa: the one CLI of MOFA Local. Each subcommand lives in its own cmd_*.cpp file.
#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "apps/mofa/command.h"
#include "core/cli_aliases.h"
#include "core/error_exit.h"

namespace mofa::cli {
namespace {

std::vector<std::pair<std::string, CommandSetup>>& registry() {
  static std::vector<std::pair<std::string, CommandSetup>> commands;
  return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(std::string name, CommandSetup setup) {
  registry().emplace_back(std::move(name), std::move(setup));
}

}  // namespace mofa::cli

int main(int argc, char** argv) {
  CLI::App app{"mofa: local AI inference (MOFA Local)"};
  app.require_subcommand(1);
  auto& commands = mofa::cli::registry();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, setup] : commands) setup(app);
  try {
    const mofa::ExpandedArgs args(argc, argv);
    app.parse(args.argc(), args.argv());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception&) {
    return mofa::exit_code_for_current_exception();
  }
  return 0;
}
