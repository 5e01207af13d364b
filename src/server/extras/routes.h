#pragma once
// llama.cpp-style extras (/tokenize, /detokenize, /apply-template, /metrics) and the seed's own
// routes (/v1/catalog, /v1/models/download, DELETE /v1/models/{id}, /health).
#include "server/http.h"
#include "server/server_context.h"

namespace mofa::server::extras {

void tokenize(ServerContext& context, const Request& request, Response& response);
void detokenize(ServerContext& context, const Request& request, Response& response);
void apply_template(ServerContext& context, const Request& request, Response& response);
void metrics(ServerContext& context, const Request& request, Response& response);

void health(ServerContext& context, const Request& request, Response& response);
void catalog(ServerContext& context, const Request& request, Response& response);
void start_download(ServerContext& context, const Request& request, Response& response);
void get_download(ServerContext& context, const Request& request, Response& response);
void list_downloads(ServerContext& context, const Request& request, Response& response);
void cancel_download(ServerContext& context, const Request& request, Response& response);
void delete_model(ServerContext& context, const Request& request, Response& response);

}  // namespace mofa::server::extras
