// Grammar-constrained generation on the bundled mofa-tiny model: whatever the sampler draws,
// the text is a complete sentence of the grammar and the generation ends with "stop".
#include <gtest/gtest.h>

#include "pipelines/llm/generate.h"
#include "text/grammar.h"
#include "text/grammar/matcher.h"
#include "text/grammar/token_table.h"
#include "text/json_schema_grammar.h"
#include "text/tokenizer.h"

namespace mofa::llm {
namespace {

const std::string kModel = std::string(MOFA_SOURCE_DIR) + "/models/mofa-tiny";

std::unique_ptr<LlmPipeline>& tiny() {
  static std::unique_ptr<LlmPipeline> p = LlmPipeline::load(kModel, LoadOptions{});
  return p;
}

struct Outcome {
  std::string text;
  FinishReason finish;
  int tokens;
  std::vector<int32_t> ids;
};

Outcome generate(const std::shared_ptr<const text::Grammar>& g, uint64_t seed, int max_tokens,
                 bool ignore_eos = false, float temperature = 1.0f) {
  auto& p = *tiny();
  auto seq = p.new_sequence();
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.grammar = g;
  o.ignore_eos = ignore_eos;
  o.sampling.temperature = temperature;
  o.sampling.top_k = 0;
  o.sampling.top_p = 1.0f;
  o.sampling.min_p = 0.0f;
  o.sampling.seed = seed;
  o.sampling.has_seed = true;
  auto gen = p.start(*seq, p.tokenize("The answer, as JSON:", false, true), o);
  Outcome r;
  TokenEvent ev;
  bool more = true;
  while (more) {
    more = gen->step(&ev);
    r.text += ev.text;
    if (ev.id >= 0) r.ids.push_back(ev.id);
  }
  r.finish = gen->finish_reason();
  r.tokens = gen->usage().completion_tokens;
  return r;
}

bool sentence(const std::shared_ptr<const text::Grammar>& g, const std::string& text) {
  text::GrammarMatcher m(g);
  return m.accept_bytes(text) && m.is_complete();
}

TEST(GrammarGenerate, HandGrammarsAlwaysProduceSentences) {
  const char* grammars[] = {
      "root ::= (\"yes\" | \"no\") \".\"",
      "root ::= [0-9]{1,4} (\" + \" [0-9]{1,4}){0,3}",
      "root ::= \"<\" [a-z]{1,8} \">\" [^<]{0,20} \"</\" [a-z]{1,8} \">\"",
      "root ::= item (\",\" item){0,4}\nitem ::= \"(\" [a-z ]{0,6} \")\" | [\\u00e0-\\u00ff]{1,3}",
  };
  for (const char* gbnf : grammars) {
    auto g = text::Grammar::parse(gbnf);
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      Outcome r = generate(g, seed, 200);
      EXPECT_EQ(r.finish, FinishReason::stop) << gbnf << " seed " << seed << ": " << r.text;
      EXPECT_TRUE(sentence(g, r.text)) << gbnf << " seed " << seed << ": " << r.text << " ids "
                                       << ::testing::PrintToString(r.ids);
    }
  }
}

TEST(GrammarGenerate, JsonSchemasAlwaysProduceValidJson) {
  const char* schemas[] = {
      R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120}, "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3}}, "required": ["name", "age"], "additionalProperties": false})",
      R"({"type": "array", "items": {"type": "number", "minimum": -5, "maximum": 5}, "minItems": 1, "maxItems": 4})",
      R"({"anyOf": [{"type": "boolean"}, {"type": "string", "pattern": "^[A-Z][a-z]{1,5}$"}]})",
  };
  for (const char* schema : schemas) {
    auto g = text::Grammar::parse(text::json_schema_to_gbnf(nlohmann::json::parse(schema)));
    for (uint64_t seed = 10; seed < 14; ++seed) {
      Outcome r = generate(g, seed, 400);
      EXPECT_EQ(r.finish, FinishReason::stop) << schema << " seed " << seed << ": " << r.text;
      EXPECT_TRUE(sentence(g, r.text)) << schema << ": " << r.text;
      EXPECT_TRUE(nlohmann::json::accept(r.text)) << r.text;
    }
  }
}

TEST(GrammarGenerate, GreedyPicksTheBestAllowedToken) {
  auto g = text::Grammar::parse("root ::= [0-9]");
  Outcome r = generate(g, 1, 10, false, 0.0f);
  EXPECT_EQ(r.finish, FinishReason::stop);
  ASSERT_EQ(r.text.size(), 1u);
  EXPECT_TRUE(r.text[0] >= '0' && r.text[0] <= '9');
  EXPECT_EQ(r.tokens, 1);
}

TEST(GrammarGenerate, EndsWhenNothingMoreCanFollowEvenIgnoringEos) {
  auto g = text::Grammar::parse("root ::= \"ab\"{1,3}");
  Outcome r = generate(g, 3, 50, true);
  EXPECT_EQ(r.finish, FinishReason::stop);
  EXPECT_EQ(r.text, "ababab");  // eos is not allowed, so the grammar runs to its end
}

TEST(GrammarGenerate, MaxTokensStillCutsAnUnfinishedSentence) {
  auto g = text::Grammar::parse("root ::= \"[\" [a-z]{50} \"]\"");
  Outcome r = generate(g, 5, 3);
  EXPECT_EQ(r.finish, FinishReason::length);
  EXPECT_EQ(r.tokens, 3);
  text::GrammarMatcher m(g);
  EXPECT_TRUE(m.accept_bytes(r.text));
  EXPECT_FALSE(m.is_complete());
}

TEST(GrammarGenerate, CloseToMaxTokensTheShortestCompletionIsForced) {
  // Any JSON object: a sampled string can run for ever, so near the limit the grammar's
  // shortest completion is forced and the cut answer still parses (finish stays "length").
  auto g = text::Grammar::parse(
      text::json_schema_to_gbnf(nlohmann::json::parse(R"({"type": "object"})")));
  int cut = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Outcome r = generate(g, seed, 40);
    EXPECT_TRUE(sentence(g, r.text)) << "seed " << seed << ": " << r.text;
    EXPECT_TRUE(nlohmann::json::accept(r.text)) << r.text;
    EXPECT_LE(r.tokens, 40);
    if (r.finish == FinishReason::length) ++cut;
  }
  EXPECT_GT(cut, 0);  // some answers were long enough to need closing
}

TEST(GrammarTokenTable, ByteLevelTokensConcatenateToTheDecodedText) {
  auto tok = text::Tokenizer::load(kModel);
  auto table = text::TokenTable::build(*tok, tok->vocab_size(), {4095});
  const auto ids =
      tok->encode("Grammar: {\"k\": [1, 2]} caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87!", false, false);
  std::string bytes;
  for (int32_t id : ids) bytes += table->bytes(id);
  EXPECT_EQ(bytes, tok->decode(ids));
  EXPECT_EQ(table->kind(4095), text::TokenTable::Kind::eos);
  EXPECT_EQ(table->kind(4094), text::TokenTable::Kind::rejected);  // <|im_start|>
}

}  // namespace
}  // namespace mofa::llm
