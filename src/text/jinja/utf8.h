#pragma once
// UTF-8 helpers: Python indexes, slices and measures strings by code point, so the engine does too.
#include <string>
#include <string_view>
#include <vector>

namespace mofa::text::jinja {

// Decodes UTF-8 into code points; an invalid byte decodes to the Latin-1 code point of the same
// value, so malformed input never stops rendering.
std::u32string utf8_decode(std::string_view s);
// Encodes code points as UTF-8.
std::string utf8_encode(std::u32string_view cps);
// Appends one code point as UTF-8.
void utf8_append(std::string& out, char32_t cp);
// Number of code points (Python's len of a str).
size_t utf8_length(std::string_view s);
// Python's str.isspace() for one code point.
bool py_isspace(char32_t cp);
// Python's str.upper()/lower() for one code point (simple case mapping).
char32_t py_upper(char32_t cp);
char32_t py_lower(char32_t cp);
// Python's str.isprintable() for one code point.
bool py_isprintable(char32_t cp);
// Python's str.isalpha() for one code point (title() and capitalize() find words with it).
bool py_isalpha(char32_t cp);

}  // namespace mofa::text::jinja
