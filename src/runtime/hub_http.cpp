#include "runtime/hub_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/error.h"

namespace mofa::runtime {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

struct Origin {
  std::string scheme, host, port;
  bool ok = false;
};

Origin origin_of(const std::string& url) {
  Origin o;
  CURLU* u = curl_url();
  if (!u) return o;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* scheme = nullptr;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      o.scheme = lower(scheme);
      o.host = lower(host);
      o.port = port;
      o.ok = true;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);
  return o;
}

// State of one transfer, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  const HubBodySink* sink = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  HubHeaders headers;
  std::string body;
  bool cancelled = false;
  bool sink_stopped = false;
  bool received_body = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->headers.clear();  // an interim (1xx) response's headers do not belong to the final one
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    t->headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->cancel && t->cancel->load()) {
    t->cancelled = true;
    return CURL_WRITEFUNC_ERROR;
  }
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300 && t->sink && *t->sink) {
    t->received_body = true;
    if (!(*t->sink)(status, t->headers, data, n)) {
      t->sink_stopped = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return n;
  }
  const bool keep_all = status >= 200 && status < 300;
  if (keep_all || t->body.size() < kMaxErrorBody) {
    const size_t room = keep_all ? n : std::min(n, kMaxErrorBody - t->body.size());
    t->body.append(data, room);
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->cancel && t->cancel->load()) {
    t->cancelled = true;
    return 1;
  }
  return 0;
}

}  // namespace

bool hub_same_origin(const std::string& a, const std::string& b) {
  const Origin oa = origin_of(a), ob = origin_of(b);
  return oa.ok && ob.ok && oa.scheme == ob.scheme && oa.host == ob.host && oa.port == ob.port;
}

std::string hub_url_escape(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HubHttpResult hub_http_get(const HubHttpConfig& cfg, const std::string& url,
                           const std::vector<std::string>& extra_headers, const HubBodySink& sink,
                           const std::atomic<bool>* cancel) {
  curl_global_once();
  HubHttpResult result;
  std::string current = url;
  for (int hop = 0; hop <= cfg.max_redirects; ++hop) {
    CURL* curl = curl_easy_init();
    check_internal(curl != nullptr, "hub", "curl_easy_init failed");
    Transfer t;
    t.curl = curl;
    t.sink = &sink;
    t.cancel = cancel;
    curl_slist* headers = nullptr;
    for (const auto& h : extra_headers) headers = curl_slist_append(headers, h.c_str());
    if (!cfg.token.empty() && hub_same_origin(current, cfg.endpoint)) {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + cfg.token).c_str());
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, current.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, cfg.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, cfg.connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, cfg.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    const CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    char* redirect = nullptr;
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect);
    const std::string next = redirect ? redirect : "";
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);

    result.status = status;
    result.curl_code = static_cast<int>(code);
    result.curl_error = code == CURLE_OK ? "" : (errbuf[0] ? errbuf : curl_easy_strerror(code));
    result.headers = std::move(t.headers);
    if (hop == 0) result.first_headers = result.headers;
    result.body = std::move(t.body);
    result.url = current;
    result.cancelled = t.cancelled;
    result.sink_stopped = t.sink_stopped;
    result.received_body = t.received_body;
    const bool is_redirect =
        status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (code != CURLE_OK || !is_redirect || next.empty()) return result;
    current = next;
  }
  result.curl_code = static_cast<int>(CURLE_TOO_MANY_REDIRECTS);
  result.curl_error = "more than " + std::to_string(cfg.max_redirects) + " redirects";
  return result;
}

}  // namespace mofa::runtime
