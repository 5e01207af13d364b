#pragma once
// The web UI: the files under web/, embedded into the server at build time
// (cmake/embed_webui.cmake) and served at "/" (index.html) and "/static/<path>".
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/http.h"
#include "server/server_context.h"

namespace mofa::server {

namespace webui_embedded {
// One embedded file; the generated source defines the table.
struct EmbeddedFile {
  const char* path;  // relative to web/, e.g. "js/app.js"
  const unsigned char* data;
  size_t size;
};
extern const EmbeddedFile files[];
extern const size_t file_count;
}  // namespace webui_embedded

struct WebAsset {
  std::string_view path;          // relative to web/
  std::string_view content_type;  // with a charset for text types
  std::string_view data;
  std::string etag;  // a quoted strong validator derived from the bytes
};

// The embedded file a request path names ("/" is index.html, "/static/x" is web/x), or nothing.
std::optional<WebAsset> find_web_asset(std::string_view request_path);

// The content type served for a file name, from its extension.
std::string_view web_content_type(std::string_view file_name);

// Route handler for GET "/" and GET "/static/{path*}"; answers 304 to a matching If-None-Match.
void serve_webui(ServerContext& context, const Request& request, Response& response);

}  // namespace mofa::server
