#pragma once
// Request bodies: JSON parsing with a nesting limit, and typed field readers whose errors name
// the field and what was found (400 with OpenAI's `param`).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::server {

using nlohmann::json;

// Parses `body` as a JSON object; throws HttpError 400 for invalid JSON, nesting deeper than
// `max_depth`, or a top level that is not an object.
json parse_json_object(const std::string& body, int max_depth = 64);

// Field readers: absent or null gives nullopt; a wrong type throws HttpError 400 naming `key`.
std::optional<std::string> opt_string(const json& object, const char* key);
std::optional<double> opt_number(const json& object, const char* key);
std::optional<int64_t> opt_int(const json& object, const char* key);
std::optional<bool> opt_bool(const json& object, const char* key);

// Throws HttpError 400 naming `key` unless lo <= value <= hi.
void check_range(const char* key, double value, double lo, double hi);

// Serialises for the wire; invalid UTF-8 (a token cut inside a character) becomes U+FFFD.
std::string dump_json(const json& value);

}  // namespace mofa::server
