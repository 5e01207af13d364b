#include "server/json_body.h"

#include <cmath>

#include "server/errors.h"

namespace mofa::server {
namespace {

// Deepest bracket nesting outside strings; checked before parsing so hostile bodies never
// reach a recursive structure.
int nesting_depth(const std::string& text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      deepest = std::max(deepest, ++depth);
    else if (c == ']' || c == '}')
      --depth;
  }
  return deepest;
}

std::string type_of(const json& value) {
  return value.type_name();
}

}  // namespace

json parse_json_object(const std::string& body, int max_depth) {
  if (body.empty()) throw HttpError(400, "the request body is empty; expected a JSON object");
  if (const int depth = nesting_depth(body); depth > max_depth) {
    throw HttpError(400, "the request body nests " + std::to_string(depth) +
                             " levels deep; the limit is " + std::to_string(max_depth));
  }
  json value;
  try {
    value = json::parse(body);
  } catch (const json::parse_error& e) {
    throw HttpError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!value.is_object()) {
    throw HttpError(400, "the request body must be a JSON object, got " + type_of(value));
  }
  return value;
}

namespace {
const json* field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}
[[noreturn]] void wrong_type(const char* key, const char* expected, const json& value) {
  throw HttpError(400, std::string("'") + key + "' must be " + expected + ", got " + type_of(value),
                  "invalid_request_error", key);
}
}  // namespace

std::optional<std::string> opt_string(const json& object, const char* key) {
  const json* value = field(object, key);
  if (!value) return std::nullopt;
  if (!value->is_string()) wrong_type(key, "a string", *value);
  return value->get<std::string>();
}

std::optional<double> opt_number(const json& object, const char* key) {
  const json* value = field(object, key);
  if (!value) return std::nullopt;
  if (!value->is_number()) wrong_type(key, "a number", *value);
  return value->get<double>();
}

std::optional<int64_t> opt_int(const json& object, const char* key) {
  const json* value = field(object, key);
  if (!value) return std::nullopt;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (value->is_number_float()) {
    const double d = value->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return static_cast<int64_t>(d);
  }
  wrong_type(key, "an integer", *value);
}

std::optional<bool> opt_bool(const json& object, const char* key) {
  const json* value = field(object, key);
  if (!value) return std::nullopt;
  if (!value->is_boolean()) wrong_type(key, "a boolean", *value);
  return value->get<bool>();
}

void check_range(const char* key, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi)) {
    throw HttpError(400,
                    std::string("'") + key + "' must be between " + json(lo).dump() + " and " +
                        json(hi).dump() + ", got " + json(value).dump(),
                    "invalid_request_error", key);
  }
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mofa::server
