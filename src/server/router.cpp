#include "server/router.h"

#include <algorithm>

namespace mofa::server {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) segments.push_back(current);
    current.clear();
  };
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '/') {
      flush();
    } else if (c == '%' && i + 2 < path.size() &&
               std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
      current.push_back(static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      current.push_back(c);
    }
  }
  flush();
  return segments;
}

void Router::add(const std::string& method, const std::string& pattern, ErrorStyle style,
                 Handler handler, bool public_route) {
  routes_.push_back(
      Route{method, split_path(pattern), pattern, style, std::move(handler), public_route});
}

bool Router::match(const Route& route, const std::vector<std::string>& segments,
                   std::map<std::string, std::string>* params) {
  params->clear();
  for (size_t i = 0; i < route.segments.size(); ++i) {
    const auto& pattern = route.segments[i];
    const bool is_param = pattern.size() > 2 && pattern.front() == '{' && pattern.back() == '}';
    if (is_param && pattern[pattern.size() - 2] == '*') {
      if (i >= segments.size()) return false;
      std::string rest = segments[i];
      for (size_t j = i + 1; j < segments.size(); ++j) rest += "/" + segments[j];
      (*params)[pattern.substr(1, pattern.size() - 3)] = rest;
      return true;
    }
    if (i >= segments.size()) return false;
    if (is_param) {
      (*params)[pattern.substr(1, pattern.size() - 2)] = segments[i];
    } else if (pattern != segments[i]) {
      return false;
    }
  }
  return segments.size() == route.segments.size();
}

void Router::count(const std::string& route, int status) const {
  std::lock_guard<std::mutex> lock(counts_mutex_);
  ++counts_[{route, status}];
}

std::map<std::pair<std::string, int>, uint64_t> Router::request_counts() const {
  std::lock_guard<std::mutex> lock(counts_mutex_);
  return counts_;
}

void Router::dispatch(Request& request, Response& response) const {
  const ErrorStyle path_style =
      request.path.rfind("/api/", 0) == 0 ? ErrorStyle::ollama : ErrorStyle::openai;
  if (!options_.cors_origin.empty()) {
    const auto origin = request.header("Origin");
    if (options_.cors_origin == "*" || origin == options_.cors_origin) {
      response.headers["Access-Control-Allow-Origin"] =
          options_.cors_origin == "*" ? "*" : options_.cors_origin;
      response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type";
      response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS";
      response.headers["Access-Control-Max-Age"] = "600";
      if (options_.cors_origin != "*") response.headers["Vary"] = "Origin";
    }
  }
  if (request.method == "OPTIONS") {
    response.status = 204;
    response.content_type.clear();
    count("OPTIONS", 204);
    return;
  }
  const auto segments = split_path(request.path);
  const Route* found = nullptr;
  bool path_matched = false;
  std::map<std::string, std::string> params;
  for (const auto& route : routes_) {
    if (!match(route, segments, &params)) continue;
    path_matched = true;
    if (route.method == request.method) {
      found = &route;
      break;
    }
  }
  const std::string route_name = found ? found->method + " " + found->pattern : "unmatched";
  const ErrorStyle style = found ? found->style : path_style;
  try {
    if (request.body.size() > options_.max_body) {
      throw HttpError(413,
                      "the request body has " + std::to_string(request.body.size()) +
                          " bytes; the limit is " + std::to_string(options_.max_body) +
                          " (--max-body)",
                      "invalid_request_error", "", "request_too_large");
    }
    const bool is_public = found ? found->public_route : false;
    if (!options_.api_key.empty() && !is_public) {
      const auto auth = request.header("Authorization");
      const std::string bearer = "Bearer ";
      const bool ok =
          auth.size() > bearer.size() &&
          std::equal(bearer.begin(), bearer.end(), auth.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); }) &&
          auth.substr(bearer.size()) == options_.api_key;
      if (!ok) {
        throw HttpError(401,
                        auth.empty() ? "missing API key: send 'Authorization: Bearer <key>'"
                                     : "invalid API key",
                        "invalid_request_error", "", "invalid_api_key");
      }
    }
    if (!found) {
      if (path_matched) {
        throw HttpError(405, "method " + request.method + " is not allowed on " + request.path,
                        "invalid_request_error", "", "method_not_allowed");
      }
      throw HttpError(404, "no route for " + request.method + " " + request.path,
                      "invalid_request_error", "", "not_found");
    }
    request.params = std::move(params);
    found->handler(request, response);
  } catch (const std::exception& e) {
    write_error(response, to_http_error(e), style);
  }
  count(route_name, response.status);
}

}  // namespace mofa::server
