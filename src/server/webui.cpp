#include "server/webui.h"

#include <cstdio>

#include "server/errors.h"

namespace mofa::server {
namespace {

std::string etag_of(std::string_view data) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a: cheap, and only needs to change with the bytes
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char out[24];
  std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(hash));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view web_content_type(std::string_view name) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type types[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& t : types) {
    if (ends_with(name, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

std::optional<WebAsset> find_web_asset(std::string_view request_path) {
  std::string_view rel;
  if (request_path == "/" || request_path == "/index.html") {
    rel = "index.html";
  } else if (request_path.rfind("/static/", 0) == 0) {
    rel = request_path.substr(8);
  } else {
    return std::nullopt;
  }
  for (size_t i = 0; i < webui_embedded::file_count; ++i) {
    const auto& f = webui_embedded::files[i];
    if (rel != f.path) continue;
    const std::string_view data(reinterpret_cast<const char*>(f.data), f.size);
    return WebAsset{f.path, web_content_type(f.path), data, etag_of(data)};
  }
  return std::nullopt;
}

void serve_webui(ServerContext&, const Request& request, Response& response) {
  const auto asset = find_web_asset(request.path);
  if (!asset) {
    throw HttpError(404, "no web UI file at " + request.path, "invalid_request_error", "",
                    "not_found");
  }
  // Revalidate every time: a rebuilt server must never run a stale script from the cache.
  response.headers["Cache-Control"] = "no-cache";
  response.headers["ETag"] = asset->etag;
  response.headers["X-Content-Type-Options"] = "nosniff";
  if (asset->path == "index.html") {
    response.headers["Content-Security-Policy"] =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'";
    response.headers["Referrer-Policy"] = "no-referrer";
  }
  if (request.header("If-None-Match") == asset->etag) {
    response.status = 304;
    response.content_type.clear();
    response.body.clear();
    return;
  }
  response.status = 200;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->data);
}

}  // namespace mofa::server
