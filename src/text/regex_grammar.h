#pragma once
// Converts a JSON Schema `pattern` (an ECMAScript regex subset) into a GBNF expression over the
// JSON-encoded text of a string's contents, so a grammar can write strings that match it.
#include <string>

namespace mofa::text {

// Supports literals, escapes (\d \w \s and their negations, \t \n \r \f \v \0 \xHH \uHHHH,
// escaped punctuation), classes with ranges and negation, `.`, groups `(...)` and `(?:...)`,
// alternation, quantifiers * + ? {m} {m,} {m,n} (lazy forms alike) and a leading `^` / trailing
// `$`. Generated strings always match the whole pattern, so they also match an unanchored one.
// Throws Unsupported (naming the construct and `path`) for anything else, InvalidInput for a
// malformed pattern.
std::string regex_to_gbnf(const std::string& pattern, const std::string& path);

}  // namespace mofa::text
