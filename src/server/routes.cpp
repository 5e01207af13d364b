#include "server/routes.h"

#include "server/extras/routes.h"
#include "server/ollama/routes.h"
#include "server/openai/routes.h"
#include "server/webui.h"

namespace mofa::server {

void add_routes(Router& router, ServerContext& context) {
  using Fn = void (*)(ServerContext&, const Request&, Response&);
  auto add = [&](const char* method, const char* pattern, ErrorStyle style, Fn fn,
                 bool is_public = false) {
    router.add(
        method, pattern, style,
        [&context, fn](const Request& request, Response& response) { fn(context, request, response); },
        is_public);
  };
  constexpr auto oa = ErrorStyle::openai;
  constexpr auto ol = ErrorStyle::ollama;
  context.router = &router;
  // First match wins: the download routes come before /v1/models/{id*}.
  add("GET", "/health", oa, extras::health, true);
  add("POST", "/v1/chat/completions", oa, openai::chat_completions);
  add("POST", "/v1/completions", oa, openai::completions);
  add("GET", "/v1/models", oa, openai::list_models);
  add("POST", "/v1/models/download", oa, extras::start_download);
  add("GET", "/v1/models/download", oa, extras::list_downloads);
  add("GET", "/v1/models/download/{id}", oa, extras::get_download);
  add("DELETE", "/v1/models/download/{id}", oa, extras::cancel_download);
  add("GET", "/v1/models/{id*}", oa, openai::get_model);
  add("DELETE", "/v1/models/{id*}", oa, extras::delete_model);
  add("GET", "/v1/catalog", oa, extras::catalog);
  add("POST", "/api/chat", ol, ollama::chat);
  add("POST", "/api/generate", ol, ollama::generate);
  add("GET", "/api/tags", ol, ollama::tags);
  add("POST", "/api/show", ol, ollama::show);
  add("GET", "/api/ps", ol, ollama::ps);
  add("POST", "/api/pull", ol, ollama::pull);
  add("DELETE", "/api/delete", ol, ollama::remove);
  add("GET", "/api/version", ol, ollama::version);
  add("POST", "/tokenize", oa, extras::tokenize);
  add("POST", "/detokenize", oa, extras::detokenize);
  add("POST", "/apply-template", oa, extras::apply_template);
  add("GET", "/metrics", oa, extras::metrics);
  // The web UI is public: its page asks for the API key itself.
  if (context.webui) {
    add("GET", "/", oa, serve_webui, true);
    add("GET", "/static/{path*}", oa, serve_webui, true);
  }
}

}  // namespace mofa::server
