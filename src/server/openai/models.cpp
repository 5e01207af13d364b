#include <chrono>

#include "server/errors.h"
#include "server/json_body.h"
#include "server/openai/routes.h"

namespace mofa::server::openai {
namespace {

json model_object(const runtime::ModelEntry& entry, bool loaded) {
  int64_t context_length = 0;
  std::string model_type;
  if (entry.config.is_object()) {
    if (auto it = entry.config.find("max_position_embeddings");
        it != entry.config.end() && it->is_number_integer()) {
      context_length = it->get<int64_t>();
    }
    model_type = entry.config.value("model_type", "");
  }
  return {
      {"id", entry.id},
      {"object", "model"},
      {"created",
       std::chrono::duration_cast<std::chrono::seconds>(entry.modified.time_since_epoch()).count()},
      {"owned_by", "mofa"},
      {"context_length", context_length},
      {"model_type", model_type},
      {"size_bytes", entry.bytes},
      {"loaded", loaded}};
}

}  // namespace

void list_models(ServerContext& context, const Request&, Response& response) {
  json data = json::array();
  for (const auto& entry : context.models->list()) {
    data.push_back(model_object(entry, context.models->is_loaded(entry.id)));
  }
  response.set_json(200, dump_json({{"object", "list"}, {"data", data}}));
}

void get_model(ServerContext& context, const Request& request, Response& response) {
  const auto entry = context.models->resolve(request.params.at("id"));
  json out = model_object(entry, context.models->is_loaded(entry.id));
  for (const auto& info : context.models->loaded()) {
    if (info.id == entry.id) out["context_length"] = info.context_length;
  }
  response.set_json(200, dump_json(out));
}

}  // namespace mofa::server::openai
