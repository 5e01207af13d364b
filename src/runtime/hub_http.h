#pragma once
// HTTP GET against the Hugging Face hub with libcurl. Redirects are followed by hand so that the
// token only ever reaches the hub's own origin: the CDN that large files redirect to never sees it.
#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mofa::runtime {

// Response headers, names lowercased.
using HubHeaders = std::map<std::string, std::string>;

// What one GET (with its redirects) produced.
struct HubHttpResult {
  long status = 0;            // status of the final response; 0 when none arrived
  int curl_code = 0;          // CURLcode of the final transfer; 0 when it completed
  std::string curl_error;     // libcurl's message when curl_code != 0
  HubHeaders headers;         // headers of the final response
  HubHeaders first_headers;   // headers of the first response (the hub's, before any redirect)
  std::string body;           // body of a non-2xx response, or of a 2xx one without a sink (capped)
  std::string url;            // the URL that gave the final response
  bool cancelled = false;     // the cancel flag stopped the transfer
  bool sink_stopped = false;  // the sink returned false
  bool received_body = false;  // at least one byte of a 2xx body reached the sink
};

// Takes the body of a 2xx response chunk by chunk, with that response's status and headers;
// returns false to stop the transfer.
using HubBodySink =
    std::function<bool(long status, const HubHeaders& headers, const char* data, size_t n)>;

// Where and how to talk to the hub.
struct HubHttpConfig {
  std::string endpoint;  // e.g. https://huggingface.co; the token goes to this origin only
  std::string token;     // sent as "Authorization: Bearer" when not empty
  std::string user_agent = "mofa-local/0.1";
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;  // a transfer slower than 1 byte/s for this long fails
  int max_redirects = 10;
};

// GETs `url` with `extra_headers` ("Name: value"), following up to cfg.max_redirects redirects and
// sending the token only to the endpoint's origin; `sink` (may be empty) receives 2xx bodies and
// `cancel` (may be null) stops the transfer between chunks. Never throws for HTTP or network
// errors.
HubHttpResult hub_http_get(const HubHttpConfig& cfg, const std::string& url,
                           const std::vector<std::string>& extra_headers, const HubBodySink& sink,
                           const std::atomic<bool>* cancel);

// Whether two absolute URLs share scheme, host and port (default ports made explicit).
bool hub_same_origin(const std::string& a, const std::string& b);

// Percent-encodes `s` for a URL path; '/' stays when `keep_slash`.
std::string hub_url_escape(std::string_view s, bool keep_slash);

}  // namespace mofa::runtime
