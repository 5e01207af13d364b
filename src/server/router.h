#pragma once
// The one route table, and the checks every request passes before its handler: CORS, the body
// size limit and the API key. dispatch() is what the socket layer calls and what tests call.
#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/errors.h"
#include "server/http.h"

namespace mofa::server {

struct RouterOptions {
  std::string api_key;      // empty: no key needed
  std::string cors_origin;  // empty: no CORS headers; "*" or one origin
  size_t max_body = 8 * 1024 * 1024;
};

class Router {
 public:
  explicit Router(RouterOptions options) : options_(std::move(options)) {}

  // Patterns are literal segments and {name} segments; a final {name*} takes the rest of the
  // path (hub ids hold a slash). The first matching route wins. `public_route` skips the key.
  void add(const std::string& method, const std::string& pattern, ErrorStyle style, Handler handler,
           bool public_route = false);

  // Runs the checks and the matching handler; every exception becomes an error response.
  void dispatch(Request& request, Response& response) const;

  const RouterOptions& options() const { return options_; }

  // Requests served so far, by "<METHOD> <pattern>" and status (for /metrics).
  std::map<std::pair<std::string, int>, uint64_t> request_counts() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    std::string pattern;
    ErrorStyle style;
    Handler handler;
    bool public_route;
  };
  static bool match(const Route& route, const std::vector<std::string>& segments,
                    std::map<std::string, std::string>* params);
  void count(const std::string& route, int status) const;

  RouterOptions options_;
  std::vector<Route> routes_;
  mutable std::mutex counts_mutex_;
  mutable std::map<std::pair<std::string, int>, uint64_t> counts_;
};

// Splits a path into its non-empty segments, percent-decoding each.
std::vector<std::string> split_path(const std::string& path);

}  // namespace mofa::server
