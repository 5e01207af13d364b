#include "server/http.h"

#include <strings.h>

namespace mofa::server {

bool HeaderLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void Response::set_json(int code, const std::string& json_text) {
  status = code;
  content_type = "application/json";
  body = json_text;
}

}  // namespace mofa::server
