#pragma once
// Reading a filter's or method's arguments the way Python binds them: by position, else by name.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "text/jinja/value.h"

namespace mofa::text::jinja {

// Python's short type name (type(x).__name__) for error messages.
inline std::string py_type(const Value& v) {
  return v.is_string() ? "str" : v.is_list() ? "list" : v.is_dict() ? "dict" : v.type_name();
}

// The argument at position i or named `name`, else `fallback`.
inline const Value& arg_or(const CallArgs& args, size_t i, std::string_view name,
                           const Value& fallback) {
  const Value* v = args.get(i, name);
  return v ? *v : fallback;
}

// An integer argument (None means absent); throws InvalidInput for other types.
inline int64_t int_arg(const CallArgs& args, size_t i, std::string_view name, int64_t fallback) {
  const Value* v = args.get(i, name);
  if (!v || v->is_none()) return fallback;
  if (!v->is_number()) {
    throw InvalidInput("argument '" + std::string(name) + "' must be an integer, got " +
                       v->type_name());
  }
  return v->is_float() ? static_cast<int64_t>(v->as_float()) : v->as_int();
}

// A flag argument by Python truthiness.
inline bool bool_arg(const CallArgs& args, size_t i, std::string_view name, bool fallback) {
  const Value* v = args.get(i, name);
  return v ? v->truthy() : fallback;
}

// A required str argument; throws InvalidInput when absent or not a str.
inline std::string str_arg(const CallArgs& args, size_t i, std::string_view name) {
  const Value* v = args.get(i, name);
  if (!v) throw InvalidInput("missing argument '" + std::string(name) + "'");
  if (!v->is_string()) {
    throw InvalidInput("argument '" + std::string(name) + "' must be a string, got " +
                       v->type_name());
  }
  return v->as_string();
}

}  // namespace mofa::text::jinja
