#pragma once
// jinja2's built-in filters, tests and globals, and the Python methods of str, dict and list that
// the sandbox lets templates call.
#include <string>

#include "text/jinja/value.h"

namespace mofa::text::jinja {

class Interpreter;

// Applies filter `name` to `value`; throws InvalidInput for an unknown filter or bad arguments.
Value apply_filter(Interpreter& interp, const std::string& name, const Value& value,
                   CallArgs& args);
// Whether jinja2 has a filter named `name` (the `filter` test).
bool has_filter(const std::string& name);
// Applies test `name` to `value`; throws InvalidInput for an unknown test.
bool apply_test(Interpreter& interp, const std::string& name, const Value& value, CallArgs& args);
// obj.name as jinja2's sandbox resolves it (methods first for dict/str/list, then items).
Value get_attr(const Value& obj, const std::string& name);
// obj[key] as jinja2 resolves it (items first, then attributes).
Value get_item(const Value& obj, const Value& key);
// obj[start:stop:step] on a list or str.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// `needle in haystack` with Python's rules.
bool contains(const Value& haystack, const Value& needle);
// The items a for loop or filter iterates over (dict keys, str characters, list items).
List iterate(const Value& v);
// jinja2's global functions: range, dict, namespace.
Dict builtin_globals();

// Raises jinja2's UndefinedError for an operation on an undefined value.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace mofa::text::jinja
