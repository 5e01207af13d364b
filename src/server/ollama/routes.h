#pragma once
// Ollama-compatible endpoints (/api/*); the route table (server/routes.cpp) binds them.
#include "server/http.h"
#include "server/server_context.h"

namespace mofa::server::ollama {

void chat(ServerContext& context, const Request& request, Response& response);
void generate(ServerContext& context, const Request& request, Response& response);
void tags(ServerContext& context, const Request& request, Response& response);
void show(ServerContext& context, const Request& request, Response& response);
void ps(ServerContext& context, const Request& request, Response& response);
void pull(ServerContext& context, const Request& request, Response& response);
void remove(ServerContext& context, const Request& request, Response& response);
void version(ServerContext& context, const Request& request, Response& response);

}  // namespace mofa::server::ollama
