#pragma once
// Python's str semantics for UTF-8 strings: strip, split, replace, case mapping, format.
#include <cstdint>
#include <string>

#include "text/jinja/value.h"

namespace mofa::text::jinja {

// str.strip/lstrip/rstrip: `chars` null or None strips whitespace, else any of its characters.
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right);
// str.split(sep, maxsplit): null or None `sep` splits on whitespace runs.
List py_split(const std::string& s, const Value* sep, int64_t maxsplit);
// str.replace(old, new, count); count < 0 replaces all.
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count);
// str.upper() (upper=true) or str.lower().
std::string map_case(const std::string& s, bool upper);
// str.capitalize().
std::string py_capitalize(const std::string& s);
// str.title(): a letter after a non-letter starts a word.
std::string py_title(const std::string& s);
// jinja2's title filter, whose words start after whitespace and - ( { [ <.
std::string jinja_title(const std::string& s);
// str.startswith/endswith with a str or a tuple of str.
bool starts_or_ends(const std::string& s, const Value& affix, bool start);
// str.format with {} / {0} / {name} fields printed with str().
std::string py_format(const std::string& fmt, const CallArgs& args);

}  // namespace mofa::text::jinja
