#pragma once
// OpenAI-compatible endpoints: /v1/chat/completions, /v1/completions, /v1/models. The route
// table (server/routes.cpp) binds them.
#include <nlohmann/json.hpp>

#include "server/http.h"
#include "server/server_context.h"

namespace mofa::server::openai {

void chat_completions(ServerContext& context, const Request& request, Response& response);
void completions(ServerContext& context, const Request& request, Response& response);
void list_models(ServerContext& context, const Request& request, Response& response);
void get_model(ServerContext& context, const Request& request, Response& response);

// Messages as the chat template expects them: content parts joined into one string, the
// "developer" role as "system". Throws HttpError 400 naming messages[i] for malformed input.
nlohmann::json normalize_messages(const nlohmann::json& messages);

}  // namespace mofa::server::openai
