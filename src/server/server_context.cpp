#include "server/server_context.h"

#include "server/errors.h"

namespace mofa::server {

const char* server_version() {
  return "0.1.0";
}

std::shared_ptr<runtime::LoadedModel> ServerContext::acquire(
    const std::optional<std::string>& name, std::optional<std::chrono::seconds> keep_alive) const {
  std::string id = name.value_or("");
  if (id.empty()) id = default_model;
  if (id.empty()) {
    throw HttpError(400,
                    "no model given and no default model is configured: name one in 'model' "
                    "(GET /v1/models lists them) or start the server with --model",
                    "invalid_request_error", "model", "model_not_specified");
  }
  return models->acquire(id, keep_alive);
}

}  // namespace mofa::server
