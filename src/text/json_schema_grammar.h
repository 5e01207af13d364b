#pragma once
// JSON Schema -> GBNF: a grammar whose sentences are JSON texts valid against the schema.
#include <string>

#include <nlohmann/json.hpp>

namespace mofa::text {

// Converts `schema` into GBNF with `root` as the start rule; every helper rule is named
// `root + "-..."`, so several converted schemas can live in one grammar. Supports type (and lists
// of types), properties, required, additionalProperties, enum, const, anyOf, oneOf, allOf of
// objects, local $ref (#/$defs/..., #/definitions/..., any #/ pointer), items, prefixItems,
// minItems/maxItems, integer bounds (exact), number bounds (an exact subset: integer part
// bounded, no exponent), minLength/maxLength, pattern (text/regex_grammar.h), format
// date/time/date-time/uuid/email; annotations (description, title, default, examples, ...) are
// ignored. Generated JSON is compact with optional bounded whitespace, integers have at most 16
// digits, and objects with `properties` only get other keys when additionalProperties allows.
// Throws Unsupported naming any other keyword and its JSON path, InvalidInput for a malformed
// schema.
// Properties are generated in the schema's key order (pass an ordered_json parsed from the
// request to keep the client's order; the nlohmann::json overload has its keys sorted).
std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema,
                                const std::string& root = "root");
std::string json_schema_to_gbnf(const nlohmann::json& schema, const std::string& root = "root");

}  // namespace mofa::text
