#pragma once
// The one route table of the server.
#include "server/router.h"
#include "server/server_context.h"

namespace mofa::server {

// Registers every route on `router`; handlers keep a reference to `context`.
void add_routes(Router& router, ServerContext& context);

}  // namespace mofa::server
