// Request fields -> GenerateOptions::grammar, and the 400s for everything we cannot enforce.
#include "server/structured_output.h"

#include <gtest/gtest.h>

#include "server/errors.h"
#include "text/grammar.h"
#include "text/grammar/matcher.h"

namespace mofa::server {
namespace {

using json = nlohmann::json;

bool accepts(const llm::GenerateOptions& o, const std::string& text) {
  text::GrammarMatcher m(o.grammar);
  return m.accept_bytes(text) && m.is_complete();
}

HttpError openai_error(const json& body) {
  llm::GenerateOptions o;
  try {
    apply_openai_structured_output(body, &o);
  } catch (const HttpError& e) {
    return e;
  }
  return HttpError(0, "no error");
}

TEST(StructuredOutput, OpenAiFields) {
  llm::GenerateOptions o;
  apply_openai_structured_output(json{{"response_format", {{"type", "text"}}}}, &o);
  EXPECT_EQ(o.grammar, nullptr);
  apply_openai_structured_output(json{{"response_format", {{"type", "json_object"}}}}, &o);
  ASSERT_NE(o.grammar, nullptr);
  EXPECT_TRUE(accepts(o, "{\"a\": [1]}"));
  EXPECT_FALSE(accepts(o, "[1]"));
  llm::GenerateOptions s;
  apply_openai_structured_output(
      json{{"response_format",
            {{"type", "json_schema"},
             {"json_schema",
              {{"name", "n"}, {"strict", true}, {"schema", {{"type", "integer"}}}}}}}},
      &s);
  EXPECT_TRUE(accepts(s, "42"));
  EXPECT_FALSE(accepts(s, "\"42\""));
  llm::GenerateOptions g;
  apply_openai_structured_output(json{{"grammar", "root ::= \"x\"+"}}, &g);
  EXPECT_TRUE(accepts(g, "xxx"));
  llm::GenerateOptions j;
  apply_openai_structured_output(json{{"json_schema", {{"enum", {"a", "b"}}}}}, &j);
  EXPECT_TRUE(accepts(j, "\"b\""));
}

TEST(StructuredOutput, OpenAiErrorsNameTheField) {
  HttpError e = openai_error({{"response_format",
                               {{"type", "json_schema"},
                                {"json_schema", {{"schema", {{"type", "string"}, {"not", 1}}}}}}}});
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "response_format");
  EXPECT_EQ(e.code(), "unsupported");
  EXPECT_NE(std::string(e.what()).find("'not'"), std::string::npos) << e.what();
  e = openai_error({{"response_format", {{"type", "yaml"}}}});
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "response_format");
  e = openai_error({{"response_format", {{"type", "json_schema"}}}});
  EXPECT_EQ(e.status(), 400);
  e = openai_error({{"grammar", "root ::= ("}});
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.param(), "grammar");
  EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
  e = openai_error({{"grammar", 3}});
  EXPECT_EQ(e.param(), "grammar");
  e = openai_error({{"json_schema", {{"type", "object"}, {"patternProperties", json::object()}}}});
  EXPECT_EQ(e.param(), "json_schema");
  EXPECT_EQ(e.code(), "unsupported");
  e = openai_error({{"grammar", "root ::= \"a\""}, {"json_schema", {{"type", "string"}}}});
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(std::string(e.what()).find("both"), std::string::npos);
}

TEST(StructuredOutput, OllamaFormat) {
  llm::GenerateOptions o;
  apply_ollama_format(json{{"format", ""}}, &o);
  EXPECT_EQ(o.grammar, nullptr);
  apply_ollama_format(json{{"format", "json"}}, &o);
  ASSERT_NE(o.grammar, nullptr);
  EXPECT_TRUE(accepts(o, "{}"));
  llm::GenerateOptions s;
  apply_ollama_format(json{{"format", {{"type", "array"}, {"maxItems", 1}}}}, &s);
  EXPECT_TRUE(accepts(s, "[true]"));
  EXPECT_FALSE(accepts(s, "[1, 2]"));
  try {
    apply_ollama_format(json{{"format", "yaml"}}, &s);
    FAIL() << "no error";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.param(), "format");
  }
  try {
    apply_ollama_format(json{{"format", {{"type", "string"}, {"format", "ipv6"}}}}, &s);
    FAIL() << "no error";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.code(), "unsupported");
    EXPECT_NE(std::string(e.what()).find("ipv6"), std::string::npos);
  }
}

}  // namespace
}  // namespace mofa::server
