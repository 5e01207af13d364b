// `mofa serve`: the server, with the same flags as mofa-server.
#include <memory>

#include "apps/mofa/command.h"
#include "server/serve.h"

namespace mofa::cli {
namespace {

const CommandRegistration serve_command("serve", [](CLI::App& app) {
  auto options = std::make_shared<server::ServeOptions>();
  auto* sub = app.add_subcommand("serve", "serve models over the OpenAI and Ollama HTTP APIs");
  server::add_serve_flags(*sub, *options);
  sub->callback([options] { server::run_server(*options); });
});

}  // namespace
}  // namespace mofa::cli
