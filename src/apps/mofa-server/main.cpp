// mofa-server: the seed-compatible server command (`mofa-server --model DIR --port 8090`).
#include <cstdio>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "server/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"mofa-server: OpenAI- and Ollama-compatible local inference server"};
  mofa::server::ServeOptions options;
  mofa::server::add_serve_flags(app, options);
  try {
    app.parse(argc, argv);
    mofa::server::run_server(options);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mofa::InvalidInput& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const mofa::Unsupported& e) {
    std::fprintf(stderr, "unsupported: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
