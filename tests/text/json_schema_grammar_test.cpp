// json_schema_to_gbnf: for each schema, JSON texts that are valid instances are sentences of the
// grammar and invalid ones are not; unsupported keywords and malformed schemas are errors.
#include "text/json_schema_grammar.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "text/grammar.h"
#include "text/grammar/matcher.h"
#include "text/regex_grammar.h"

namespace mofa::text {
namespace {

using json = nlohmann::json;

bool accepts(const std::string& gbnf, const std::string& text) {
  GrammarMatcher m(Grammar::parse(gbnf));
  return m.accept_bytes(text) && m.is_complete();
}

struct Case {
  const char* schema;
  std::vector<const char*> valid;
  std::vector<const char*> invalid;
};

class JsonSchemaCases : public ::testing::TestWithParam<Case> {};

TEST_P(JsonSchemaCases, ValidAcceptedInvalidRejected) {
  const Case& c = GetParam();
  const std::string gbnf = json_schema_to_gbnf(json::parse(c.schema));
  for (const char* v : c.valid)
    EXPECT_TRUE(accepts(gbnf, v)) << c.schema << "\nshould accept " << v << "\n" << gbnf;
  for (const char* v : c.invalid)
    EXPECT_FALSE(accepts(gbnf, v)) << c.schema << "\nshould reject " << v << "\n" << gbnf;
}

const Case kCases[] = {
    {R"({})",
     {"1", "\"s\"", "{\"a\": [1, {\"b\": null}]}", "true", "-2.5e3"},
     {"", "tru", "{a:1}", "[1,]"}},
    {R"({"type": "string"})",
     {"\"\"", "\"héllo\"", "\"a\\n\\\"b\\u00e9\"", "\"中文\""},
     {"\"a", "\"\\x\"", "\"\\ud800\"", "1", "\"a\nb\""}},
    {R"({"type": "integer"})",
     {"0", "-7", "1234567890123456"},
     {"01", "1.5", "12345678901234567", "-", "1e3"}},
    {R"({"type": "number"})", {"0", "-0.5", "3.25e-7", "10E+2"}, {".5", "1.", "00", "1e"}},
    {R"({"type": "boolean"})", {"true", "false"}, {"True", "1"}},
    {R"({"type": "null"})", {"null"}, {"nul", "None"}},
    {R"({"type": ["string", "null"]})", {"\"x\"", "null"}, {"1"}},
    {R"({"enum": ["red", "green", 3, null, {"a": 1}]})",
     {"\"red\"", "\"green\"", "3", "null", "{\"a\":1}"},
     {"\"blue\"", "4", "\"Red\""}},
    {R"({"const": "fixed"})", {"\"fixed\""}, {"\"other\""}},
    {R"({"type": "integer", "minimum": 0, "maximum": 100})",
     {"0", "7", "42", "100"},
     {"-1", "101", "1000", "-0"}},
    {R"({"type": "integer", "minimum": -15, "maximum": 7})",
     {"-15", "-9", "-10", "0", "7"},
     {"-16", "-20", "8", "15"}},
    {R"({"type": "integer", "exclusiveMinimum": 5, "exclusiveMaximum": 1000})",
     {"6", "999", "50", "100"},
     {"5", "1000", "4", "1001"}},
    {R"({"type": "integer", "minimum": 123, "maximum": 4567})",
     {"123", "129", "199", "999", "1000", "4567", "4499"},
     {"122", "4568", "4600", "99", "12"}},
    {R"({"type": "integer", "minimum": 1.5})", {"2", "99999"}, {"1", "0", "-3"}},
    {R"({"type": "integer", "maximum": -3})", {"-3", "-100"}, {"-2", "0", "5"}},
    {R"({"type": "number", "minimum": 0, "maximum": 1})",
     {"0", "1", "0.5", "0.0001"},
     {"-0.5", "1.5", "2", "1e-3"}},
    {R"({"type": "number", "minimum": -2.5, "maximum": 10})",
     {"-1", "-1.75", "-2", "9.99", "10"},
     {"-3", "10.5", "11"}},
    {R"({"type": "number", "exclusiveMinimum": 0})", {"1", "0.5", "123.25"}, {"0", "-1"}},
    {R"({"type": "string", "minLength": 2, "maxLength": 4})",
     {"\"ab\"", "\"abcd\"", "\"中文\"", "\"a\\nb\""},
     {"\"a\"", "\"abcde\"", "\"\""}},
    {R"({"type": "string", "maxLength": 0})", {"\"\""}, {"\"a\""}},
    {R"({"type": "string", "pattern": "^[a-z]{2,3}-[0-9]+$"})",
     {"\"ab-1\"", "\"xyz-0042\""},
     {"\"a-1\"", "\"ab-\"", "\"AB-1\"", "\"abcd-1\""}},
    {R"({"type": "string", "pattern": "^(cat|dog)s?$"})",
     {"\"cat\"", "\"dogs\""},
     {"\"cow\"", "\"cats!\""}},
    {R"({"type": "string", "pattern": "^\\d{3}\\.\\w+\\s?$"})",
     {"\"123.ab_9\"", "\"000.x \""},
     {"\"12.a\"", "\"123.\""}},
    {R"({"type": "string", "pattern": "^[^\"\\\\]{1,3}$"})",
     {"\"abc\"", "\"é\""},
     {"\"\\\"\"", "\"abcd\""}},
    {R"({"type": "string", "pattern": "^a\"b\\\\c$"})", {"\"a\\\"b\\\\c\""}, {"\"a\"b\\c\""}},
    {R"({"type": "string", "pattern": "^(?:ab)+.$"})",
     {"\"ababz\"", "\"ab中\""},
     {"\"ab\"", "\"aba\\n\""}},
    {R"({"type": "string", "format": "date"})",
     {"\"2024-02-28\"", "\"1999-12-01\""},
     {"\"2024-13-01\"", "\"2024-2-1\""}},
    {R"({"type": "string", "format": "date-time"})",
     {"\"2024-02-28T13:45:00Z\"", "\"2024-01-01T00:00:00.123+02:00\""},
     {"\"2024-02-28 13:45:00\""}},
    {R"({"type": "string", "format": "time"})", {"\"23:59:59Z\""}, {"\"24:00:00Z\""}},
    {R"({"type": "string", "format": "uuid"})",
     {"\"123e4567-e89b-12d3-a456-426614174000\""},
     {"\"123e4567e89b12d3a456426614174000\""}},
    {R"({"type": "string", "format": "email"})",
     {"\"ann.lee@example.com\""},
     {"\"ann@\"", "\"@x.com\""}},
    {R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]})",
     {"{\"age\": 3, \"name\": \"Al\"}", "{\"age\":3,\"name\":\"Al\"}",
      "{\n  \"age\": 3,\n  \"name\": \"Al\"\n}"},
     {"{\"name\": \"Al\"}", "{\"age\": 3}", "{\"age\": 3, \"name\": \"Al\", \"x\": 1}",
      "{\"age\": \"3\", \"name\": \"Al\"}"}},
    {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": {"type": "null"}}})",
     {"{}", "{\"a\": 1}", "{\"b\": true}", "{\"c\": null}", "{\"a\": 1, \"c\": null}",
      "{\"a\":1,\"b\":false,\"c\":null}"},
     {"{\"d\": 1}", "{,\"a\": 1}", "{\"a\": 1,}", "{\"b\": 1}"}},
    {R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": {"type": "string"}})",
     {"{\"a\": 1}", "{\"a\": 1, \"b\": \"x\"}", "{\"a\": 1, \"ab\": \"x\", \"\": \"y\"}"},
     {"{\"a\": 1, \"b\": 2}", "{\"a\": 1, \"a\": \"x\"}"}},
    {R"({"type": "object", "additionalProperties": false})", {"{}"}, {"{\"a\": 1}"}},
    {R"({"type": "object"})", {"{}", "{\"x\": [1, 2], \"y\": {}}"}, {"[]", "{\"x\"}"}},
    {R"({"type": "object", "additionalProperties": {"type": "integer"}})",
     {"{\"k\": 1, \"j\": -2}"},
     {"{\"k\": \"v\"}"}},
    {R"({"type": "array", "items": {"type": "integer"}})",
     {"[]", "[1]", "[1, 2, 3]"},
     {"[1,]", "[\"a\"]", "[,1]"}},
    {R"({"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3})",
     {"[\"a\", \"b\"]", "[\"a\",\"b\",\"c\"]"},
     {"[\"a\"]", "[\"a\",\"b\",\"c\",\"d\"]", "[]"}},
    {R"({"type": "array", "maxItems": 0})", {"[]"}, {"[1]"}},
    {R"({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false})",
     {"[]", "[1]", "[1, \"a\"]"},
     {"[\"a\"]", "[1, \"a\", 2]"}},
    {R"({"type": "array", "prefixItems": [{"type": "integer"}], "items": {"type": "boolean"}, "minItems": 2})",
     {"[1, true]", "[1, true, false]"},
     {"[1]", "[true, true]"}},
    {R"({"anyOf": [{"type": "integer"}, {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}]})",
     {"5", "{\"x\": \"s\"}"},
     {"\"s\"", "{}"}},
    {R"({"oneOf": [{"type": "boolean"}, {"type": "null"}]})", {"true", "null"}, {"0"}},
    {R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]})",
     {"{\"a\": 1, \"b\": \"x\"}"},
     {"{\"a\": 1}", "{\"b\": \"x\"}"}},
    {R"({"$defs": {"pt": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"], "additionalProperties": false}},
        "type": "array", "items": {"$ref": "#/$defs/pt"}})",
     {"[{\"x\": 1, \"y\": 2.5}]", "[]"},
     {"[{\"x\": 1}]"}},
    {R"({"definitions": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/definitions/node"}, {"type": "null"}]}}, "required": ["v", "next"]}},
        "$ref": "#/definitions/node"})",
     {"{\"next\": null, \"v\": 1}", "{\"next\": {\"next\": null, \"v\": 2}, \"v\": 1}"},
     {"{\"v\": 1}"}},
    {R"({"title": "T", "description": "d", "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"q": {"type": "string", "default": "x", "examples": ["y"]}}, "required": ["q"]})",
     {"{\"q\": \"\"}"},
     {"{}"}},
    {R"({"type": "object", "properties": {"tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}, "meta": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}, "required": ["tags", "meta"]})",
     {"{\"meta\": {\"ok\": true}, \"tags\": [\"a\", \"b\"]}"},
     {"{\"meta\": {}, \"tags\": []}",
      "{\"meta\": {\"ok\": true}, \"tags\": [\"a\", \"b\", \"a\"]}"}},
};

INSTANTIATE_TEST_SUITE_P(Schemas, JsonSchemaCases, ::testing::ValuesIn(kCases));

std::string error_of(const char* schema) {
  try {
    json_schema_to_gbnf(json::parse(schema));
  } catch (const Unsupported& e) {
    return std::string("unsupported: ") + e.what();
  } catch (const InvalidInput& e) {
    return std::string("invalid: ") + e.what();
  }
  return "(no error)";
}

TEST(JsonSchemaErrors, UnsupportedKeywordsNameKeywordAndPath) {
  const std::string not_kw =
      error_of(R"({"type": "object", "properties": {"a": {"not": {"type": "string"}}}})");
  EXPECT_NE(not_kw.find("unsupported:"), std::string::npos) << not_kw;
  EXPECT_NE(not_kw.find("'not'"), std::string::npos) << not_kw;
  EXPECT_NE(not_kw.find("#/properties/a"), std::string::npos) << not_kw;
  EXPECT_NE(error_of(R"({"type": "number", "multipleOf": 2})").find("'multipleOf'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "array", "uniqueItems": true})").find("uniqueItems"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "object", "patternProperties": {}})").find("'patternProperties'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "format": "hostname"})").find("format 'hostname'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "(a)\\1"})").find("unsupported:"),
            std::string::npos);
  EXPECT_NE(error_of(R"J({"type": "string", "pattern": "a(?=b)"})J").find("unsupported:"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "\\bword"})").find("word boundary"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "https://example.com/s.json"})").find("unsupported:"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"type": "number", "minimum": 0.2, "maximum": 0.7})").find("admit no integer"),
      std::string::npos);
  EXPECT_NE(error_of(R"({"type": "object", "required": ["a"], "additionalProperties": false})")
                .find("'additionalProperties': false forbids"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "maxLength": 100000})").find("unsupported:"),
            std::string::npos);
}

TEST(JsonSchemaErrors, MalformedSchemasAreInvalidInput) {
  EXPECT_NE(error_of(R"({"type": "strin"})").find("invalid: unknown type 'strin'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "minLength": -1})").find("invalid:"), std::string::npos);
  EXPECT_NE(error_of(R"({"enum": []})").find("invalid:"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref": "#/$defs/missing"})").find("points to nothing"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "object", "required": "a"})").find("invalid:"), std::string::npos);
  EXPECT_NE(error_of(R"({"type": "integer", "minimum": 5, "maximum": 4})").find("invalid:"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type": "string", "pattern": "a{2"})").find("invalid:"),
            std::string::npos);
  EXPECT_NE(error_of(R"(3)").find("invalid:"), std::string::npos);
}

TEST(JsonSchemaGrammar, HelperRulesCarryTheRootPrefix) {
  const std::string a = json_schema_to_gbnf(
      json::parse(R"({"type": "object", "properties": {"x": {"type": "string"}}})"), "tool-a");
  const std::string b = json_schema_to_gbnf(
      json::parse(R"({"type": "array", "items": {"type": "integer"}})"), "tool-b");
  // Both fit in one grammar behind a common root.
  const std::string combined = "root ::= tool-a | tool-b\n" + a + b;
  EXPECT_TRUE(accepts(combined, "{\"x\": \"s\"}"));
  EXPECT_TRUE(accepts(combined, "[1, 2]"));
  for (const std::string* g : {&a, &b}) {
    size_t pos = 0;
    while ((pos = g->find("\n", pos)) != std::string::npos) {
      ++pos;
      if (pos < g->size()) {
        EXPECT_EQ(g->compare(pos, 5, "tool-"), 0) << *g;
      }
    }
  }
}

TEST(RegexGrammar, PatternsAsJsonStringContent) {
  auto full = [](const std::string& pattern, const std::string& text) {
    return accepts("root ::= " + regex_to_gbnf(pattern, "#/pattern"), text);
  };
  EXPECT_TRUE(full("^a|b$", "a"));
  EXPECT_TRUE(full("[\\d\\s]{2}", "1 "));
  EXPECT_TRUE(full("x\\ny", "x\\ny"));  // a newline is written escaped inside JSON
  EXPECT_FALSE(full("x\\ny", "x\ny"));
  EXPECT_TRUE(full("\\u00e9+", "\xC3\xA9\xC3\xA9"));
  EXPECT_TRUE(full("a*?b", "aab"));
}

// OpenAI generates an object's properties in the schema's order; so do we when the schema keeps
// its key order (nlohmann::json would sort them).
TEST(JsonSchemaOrder, PropertiesFollowTheSchemasKeyOrder) {
  const char* schema = R"({"type": "object", "properties": {"zeta": {"type": "integer"},
    "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"], "additionalProperties": false})";
  const std::string ordered = json_schema_to_gbnf(nlohmann::ordered_json::parse(schema));
  EXPECT_TRUE(accepts(ordered, R"({"zeta":1,"alpha":2})"));
  EXPECT_FALSE(accepts(ordered, R"({"alpha":2,"zeta":1})"));
  const std::string sorted = json_schema_to_gbnf(json::parse(schema));
  EXPECT_TRUE(accepts(sorted, R"({"alpha":2,"zeta":1})"));
}

}  // namespace
}  // namespace mofa::text
