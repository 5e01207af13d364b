// mofa-server: the seed-compatible server command (`mofa-server --model DIR --port 8090`).
#include <cstdio>

#include <CLI/CLI.hpp>

#include "core/cli_aliases.h"
#include "core/error_exit.h"
#include "server/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"mofa-server: OpenAI- and Ollama-compatible local inference server"};
  mofa::server::ServeOptions options;
  mofa::server::add_serve_flags(app, options);
  try {
    const mofa::ExpandedArgs args(argc, argv);
    app.parse(args.argc(), args.argv());
    mofa::server::run_server(options);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception&) {
    return mofa::exit_code_for_current_exception();
  }
  return 0;
}
