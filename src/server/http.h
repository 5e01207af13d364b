#pragma once
// The HTTP types every handler sees. They hide cpp-httplib so routes test without sockets: a
// handler reads a Request and fills a Response, whose body is either a string or a stream
// function that writes chunks until done or until the client goes away.
#include <functional>
#include <map>
#include <string>

namespace mofa::server {

// Case-insensitive header map, as HTTP header names are.
struct HeaderLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::map<std::string, std::string, HeaderLess>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;  // from the route pattern, e.g. {id}
  Headers headers;
  std::string body;

  std::string header(const std::string& name) const;
};

// Writes one chunk of a streamed body. Returns false once the client has gone away.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool write(const std::string& chunk) = 0;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string content_type = "application/json";
  std::string body;
  // When set, the body is streamed (chunked) by calling this once on the HTTP thread.
  std::function<void(StreamWriter&)> stream;

  void set_json(int code, const std::string& json_text);
};

using Handler = std::function<void(const Request&, Response&)>;

}  // namespace mofa::server
