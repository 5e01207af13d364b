#pragma once
// What every route handler shares: the model manager, downloads, metrics and the server's
// defaults.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "runtime/download_manager.h"
#include "runtime/model_manager.h"
#include "server/metrics.h"

namespace mofa::server {

class Router;

struct ServerContext {
  runtime::ModelManager* models = nullptr;
  runtime::DownloadManager* downloads = nullptr;  // null: downloads are not available
  const Router* router = nullptr;                 // for /metrics request counts
  Metrics metrics;
  std::string default_model;  // the model used when a request names none; empty: none
  bool webui = true;          // serve the embedded web UI at / (off with --no-webui)
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  // Loads (if needed) and returns the named model, or the default one when `name` is empty.
  // Throws HttpError 400 when no model is named and none is configured, ModelNotFound (404).
  std::shared_ptr<runtime::LoadedModel> acquire(
      const std::optional<std::string>& name,
      std::optional<std::chrono::seconds> keep_alive = {}) const;
};

// The server's version string, reported by /api/version and the fingerprint fields.
const char* server_version();

}  // namespace mofa::server
