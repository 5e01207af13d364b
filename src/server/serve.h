#pragma once
// `mofa-server` and `mofa serve`: one set of flags and one function that builds the model
// manager, the routes and the HTTP server, and serves until SIGINT/SIGTERM.
#include <cstddef>
#include <string>

namespace CLI {
class App;
}

namespace mofa::server {

struct ServeOptions {
  std::string model;  // --model DIR (or a model id in the models dir)
  std::string host = "127.0.0.1";
  int port = 8090;
  std::string models_dir;  // default: config.json's, else $MOFA_HOME/models
  std::string api_key;
  int ctx_size = 0;
  int threads = 0;
  int parallel = 1;
  int queue_size = 64;
  bool exact = false;
  bool mmap = false;         // map weight files instead of reading them into huge-page memory
  std::string cache_type_k;  // KV cache types: f32, f16 or q8_0 ("": f16, f32 with --exact)
  std::string cache_type_v;
  int timeout_s = 600;
  std::string cors_origin;
  size_t max_body = 8 * 1024 * 1024;
  int http_threads = 0;   // 0: enough for every slot and queued request
  bool no_webui = false;  // --no-webui: serve the API only, nothing at /
};

// Adds the server flags to `app` (a CLI11 app or subcommand), writing into `options`.
void add_serve_flags(CLI::App& app, ServeOptions& options);

// Runs the server until SIGINT/SIGTERM. Throws InvalidInput for a bad flag, model or config.
void run_server(const ServeOptions& options);

}  // namespace mofa::server
