#include "server/serve.h"

#include <pthread.h>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "runtime/bundled_model.h"
#include "runtime/download_manager.h"
#include "runtime/model_manager.h"
#include "runtime/settings.h"
#include "server/cli_flags.h"
#include "server/http_server.h"
#include "server/routes.h"

namespace mofa::server {

void add_serve_flags(CLI::App& app, ServeOptions& o) {
  app.add_option("--model,-m", o.model,
                 "model directory to serve (or a model id in the models directory); "
                 "default: config.json's default_model");
  app.add_option("--host", o.host, "address to listen on")->capture_default_str();
  app.add_option("--port,-p", o.port, "port to listen on (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--models-dir", o.models_dir,
                 "models directory (default: config.json's models_dir, else $MOFA_HOME/models)");
  app.add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY' (all but /health)");
  app.add_option("--ctx-size,-c", o.ctx_size, "context length per slot (0: the model's)")
      ->check(CLI::NonNegativeNumber);
  add_threads_flag(&app, &o.threads);
  app.add_option("--parallel", o.parallel, "sequences generated together (KV-cache slots)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--queue-size", o.queue_size,
                 "requests that may wait for a slot before the server answers 503")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_flag("--exact", o.exact,
               "exact matmuls (reference numerics) instead of the fast kernels");
  add_mmap_flag(&app, &o.mmap);
  add_cache_type_flags(&app, &o.cache_type_k, &o.cache_type_v);
  app.add_option("--timeout", o.timeout_s, "per-request timeout in seconds (0: none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cors-origin", o.cors_origin, "allowed CORS origin ('*' for any)");
  app.add_option("--max-body", o.max_body, "largest request body in bytes")->capture_default_str();
  app.add_option("--http-threads", o.http_threads,
                 "connections served at once (0: slots + queue + 64)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-webui", o.no_webui, "do not serve the web UI at /");
}

void run_server(const ServeOptions& o) {
  // Writing to a socket the peer closed must fail the write, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGINT/SIGTERM are taken by one thread with sigwait; every other thread blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const runtime::Settings settings = runtime::load_settings(runtime::default_home());
  runtime::ModelManagerOptions manager_options;
  manager_options.models_dir = o.models_dir.empty() ? settings.models_dir : o.models_dir;
  manager_options.keep_alive = settings.keep_alive;
  manager_options.bundled_model_dir = runtime::bundled_model_dir();
  manager_options.memory_budget_bytes = settings.memory_budget_bytes;
  manager_options.load.exact = o.exact;
  manager_options.load.ctx_size = o.ctx_size;
  manager_options.load.threads = o.threads;
  manager_options.load.mmap = o.mmap;
  manager_options.load.cache_type_k = o.cache_type_k;
  manager_options.load.cache_type_v = o.cache_type_v;
  manager_options.scheduler.parallel = o.parallel;
  manager_options.scheduler.queue_capacity = o.queue_size;
  manager_options.scheduler.slot_capacity = o.ctx_size;
  manager_options.scheduler.timeout = std::chrono::seconds(o.timeout_s);

  // --model is a directory, or a model id inside the models directory.
  std::string default_model;
  // No --model and no configured default: the bundled mofa-tiny, so a fresh install works.
  std::string model = !o.model.empty()                  ? o.model
                      : !settings.default_model.empty() ? settings.default_model
                                                        : runtime::bundled_model_dir();
  if (!model.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(model, ec)) {
      manager_options.pinned_model_dir = model;
    } else {
      default_model = model;
    }
  }
  runtime::ModelManager models(manager_options, runtime::default_pipeline_loader());
  if (!models.pinned_id().empty()) default_model = models.pinned_id();
  if (!default_model.empty()) {
    std::fprintf(stderr, "mofa-server: loading %s\n", default_model.c_str());
    const auto model_handle = models.acquire(default_model);  // fail fast on a broken model
    std::fprintf(stderr, "mofa-server: loaded %s (%s, context %lld) in %.0f ms\n",
                 model_handle->id.c_str(), model_handle->pipeline->model_type().c_str(),
                 static_cast<long long>(model_handle->scheduler->slot_capacity()),
                 model_handle->load_ms);
  }
  runtime::DownloadManager downloads(manager_options.models_dir, runtime::hub_downloader());

  ServerContext context;
  context.models = &models;
  context.downloads = &downloads;
  context.default_model = default_model;
  context.webui = !o.no_webui;
  RouterOptions router_options;
  router_options.api_key = o.api_key;
  router_options.cors_origin = o.cors_origin;
  router_options.max_body = o.max_body;
  Router router(router_options);
  add_routes(router, context);

  HttpServerOptions http_options;
  http_options.host = o.host;
  http_options.port = o.port;
  http_options.threads = o.http_threads > 0 ? o.http_threads : o.parallel + o.queue_size + 64;
  HttpServer http(router, http_options);
  const int port = http.bind();
  std::fprintf(stderr, "mofa-server: listening on http://%s:%d (models in %s)\n", o.host.c_str(),
               port, manager_options.models_dir.c_str());
  std::fflush(stderr);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    http.stop();
  });
  http.serve();
  // serve() also returns when the listening socket fails; wake the signal thread either way.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  std::fprintf(stderr, "mofa-server: stopped\n");
}

}  // namespace mofa::server
