#include "server/errors.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "runtime/model_manager.h"
#include "runtime/scheduler.h"

namespace mofa::server {

HttpError to_http_error(const std::exception& e) {
  if (auto* http = dynamic_cast<const HttpError*>(&e)) return *http;
  if (dynamic_cast<const runtime::ModelNotFound*>(&e)) {
    return HttpError(404, e.what(), "invalid_request_error", "model", "model_not_found");
  }
  if (auto* full = dynamic_cast<const runtime::QueueFull*>(&e)) {
    return HttpError(503, e.what(), "server_error", "", "server_busy")
        .with_retry_after(full->retry_after_s());
  }
  if (dynamic_cast<const InvalidInput*>(&e)) return HttpError(400, e.what());
  if (dynamic_cast<const Unsupported*>(&e)) {
    return HttpError(400, e.what(), "invalid_request_error", "", "unsupported");
  }
  return HttpError(500, std::string("internal error: ") + e.what(), "server_error");
}

std::string openai_error_body(const HttpError& error) {
  nlohmann::json body = {
      {"error",
       {{"message", error.what()},
        {"type", error.type()},
        {"param", error.param().empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param())},
        {"code", error.code().empty() ? nlohmann::json(nullptr) : nlohmann::json(error.code())}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ollama_error_body(const HttpError& error) {
  return nlohmann::json({{"error", error.what()}})
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_error(Response& response, const HttpError& error, ErrorStyle style) {
  response.stream = nullptr;
  response.set_json(error.status(), style == ErrorStyle::openai ? openai_error_body(error)
                                                                : ollama_error_body(error));
  if (error.retry_after_s() > 0) {
    response.headers["Retry-After"] = std::to_string(error.retry_after_s());
  }
}

}  // namespace mofa::server
