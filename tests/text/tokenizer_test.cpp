// Tokenizer pipeline on small hand-made tokenizer.json files: BPE merge order, ignore_merges,
// byte_fallback, unk fusing, added tokens, post-processors, decoders and load errors.
#include "text/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "text/tokenizer_test_util.h"

namespace mofa::text {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempModelDir;

// A ByteLevel BPE whose merges are ranked a+b, ab+c, Ġ+a, b+c.
json byte_level_bpe(json merges = json::array({"a b", "ab c", "Ġ a", "b c"})) {
  return json{
      {"version", "1.0"},
      {"added_tokens",
       json::array({
           {{"id", 10}, {"content", "<|x|>"}, {"special", true}, {"normalized", false}},
           {{"id", 11},
            {"content", "<y>"},
            {"special", false},
            {"normalized", false},
            {"lstrip", true},
            {"rstrip", true}},
           {{"id", 12},
            {"content", "ab"},
            {"special", false},
            {"normalized", false},
            {"single_word", true}},
       })},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array(
             {{{"type", "Split"},
               {"pattern", {{"Regex", R"( ?\p{L}+|\p{N}|\s+)"}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<|x|>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"special_tokens", {{"<|x|>", {{"id", "<|x|>"}, {"ids", {10}}, {"tokens", {"<|x|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab",
         {{"a", 0},
          {"b", 1},
          {"c", 2},
          {"ab", 3},
          {"abc", 4},
          {"Ġ", 5},
          {"Ġa", 6},
          {"bc", 7},
          {"1", 8},
          {"ca", 9}}},
        {"merges", merges}}}};
}

std::shared_ptr<Tokenizer> load_json(const json& j, const json& config = nullptr) {
  TempModelDir dir("unit");
  dir.write_json("tokenizer.json", j);
  if (!config.is_null()) dir.write_json("tokenizer_config.json", config);
  return Tokenizer::load(dir.path());
}

TEST(Tokenizer, BpeAppliesMergesByRankNotPosition) {
  auto tok = load_json(byte_level_bpe());
  EXPECT_THAT(tok->encode("abc"), ElementsAre(4));
  EXPECT_THAT(tok->encode("bca"), ElementsAre(7, 0));
  // Ġ a b c: a+b (rank 0) wins over Ġ+a (rank 2), then ab+c.
  EXPECT_THAT(tok->encode("c abc"), ElementsAre(2, 5, 4));
  EXPECT_THAT(tok->encode("ca"), ElementsAre(2, 0));
}

TEST(Tokenizer, MergesAsPairsMatchMergesAsStrings) {
  auto pairs = json::array({{"a", "b"}, {"ab", "c"}, {"Ġ", "a"}, {"b", "c"}});
  auto tok = load_json(byte_level_bpe(pairs));
  EXPECT_THAT(tok->encode("c abc"), ElementsAre(2, 5, 4));
}

TEST(Tokenizer, IgnoreMergesTakesWholeWordsFromTheVocab) {
  auto j = byte_level_bpe();
  j["model"]["ignore_merges"] = true;
  EXPECT_THAT(load_json(j)->encode("ca"), ElementsAre(9));
}

TEST(Tokenizer, AddedTokensSplitBeforeTheModel) {
  auto tok = load_json(byte_level_bpe());
  EXPECT_THAT(tok->encode("a<|x|>b"), ElementsAre(0, 10, 1));
  // parse_special=false: the special token is plain text (its characters are not in the vocab
  // except none here, so they vanish) while the non-special <y> still matches.
  EXPECT_THAT(tok->encode("a<|x|>b", false, false), ElementsAre(0, 1));
  // lstrip/rstrip swallow the surrounding whitespace.
  EXPECT_THAT(tok->encode("a  <y>  b"), ElementsAre(0, 11, 1));
  // single_word: "ab" matches alone but not inside "abc".
  EXPECT_THAT(tok->encode("ab"), ElementsAre(12));
  EXPECT_THAT(tok->encode("abc"), ElementsAre(4));
}

TEST(Tokenizer, TemplateProcessingAddsSpecialTokensOnlyWhenAsked) {
  auto tok = load_json(byte_level_bpe());
  EXPECT_THAT(tok->encode("abc", true), ElementsAre(10, 4));
  EXPECT_THAT(tok->encode("", true), ElementsAre(10));
  EXPECT_TRUE(tok->encode("").empty());
}

TEST(Tokenizer, DecodeMapsBytesBackAndSkipsSpecialTokens) {
  auto tok = load_json(byte_level_bpe());
  EXPECT_EQ(tok->decode({10, 2, 5, 4, 11}), "<|x|>c abc<y>");
  EXPECT_EQ(tok->decode({10, 2, 5, 4, 11}, true), "c abc<y>");
  EXPECT_TRUE(tok->is_special(10));
  EXPECT_FALSE(tok->is_special(11));
  EXPECT_EQ(tok->id_to_token(6), "Ġa");
  EXPECT_EQ(tok->token_to_id("<y>"), 11);
  EXPECT_EQ(tok->token_to_id("zzz"), std::nullopt);
  EXPECT_EQ(tok->vocab_size(), 13);
}

// A Llama-2 style tokenizer: Prepend/Replace normalizers, byte_fallback, fused unk.
json metaspace_bpe(bool byte_fallback, bool fuse_unk) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"▁", 3},      {"h", 4},
                {"i", 5},     {"▁h", 6},  {"▁hi", 7},  {"<0xC3>", 8}, {"<0xA9>", 9}};
  return json{
      {"added_tokens",
       json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
                    {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
                    {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         json::array({{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"byte_fallback", byte_fallback},
        {"fuse_unk", fuse_unk},
        {"vocab", vocab},
        {"merges", json::array({"▁ h", "▁h i"})}}}};
}

TEST(Tokenizer, ByteFallbackSpellsUnknownCharactersAsBytes) {
  json config = {{"tokenizer_class", "LlamaTokenizer"},
                 {"bos_token", "<s>"},
                 {"eos_token", "</s>"},
                 {"add_bos_token", true},
                 {"add_eos_token", true}};
  auto tok = load_json(metaspace_bpe(true, true), config);
  EXPECT_THAT(tok->encode("hi é"), ElementsAre(7, 3, 8, 9));
  EXPECT_THAT(tok->encode("hi", true), ElementsAre(1, 7, 2));
  EXPECT_EQ(tok->decode({1, 7, 3, 8, 9, 2}), "<s> hi é</s>");
  EXPECT_EQ(tok->decode({7, 3, 8, 9}), "hi é");
  EXPECT_EQ(tok->decode({7, 3, 8}), "hi \xEF\xBF\xBD");
  EXPECT_EQ(tok->bos_token(), "<s>");
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
}

TEST(Tokenizer, UnknownCharactersFuseIntoOneUnkWhenAsked) {
  EXPECT_THAT(load_json(metaspace_bpe(false, true))->encode("hi xyz"), ElementsAre(7, 3, 0));
  EXPECT_THAT(load_json(metaspace_bpe(false, false))->encode("hi xyz"), ElementsAre(7, 3, 0, 0, 0));
}

json unigram(bool byte_fallback) {
  return json{
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "▁"},
        {"prepend_scheme", "always"},
        {"split", true}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}}},
      {"model",
       {{"type", "Unigram"},
        {"unk_id", 0},
        {"byte_fallback", byte_fallback},
        {"vocab", json::array({{"<unk>", 0.0},
                               {"▁", -2.0},
                               {"a", -3.0},
                               {"b", -3.0},
                               {"ab", -4.0},
                               {"▁ab", -3.5},
                               {"▁a", -2.5},
                               {"<0xC3>", -9.0},
                               {"<0xA9>", -9.0}})}}}};
}

TEST(Tokenizer, UnigramPicksTheMostProbableSegmentation) {
  auto tok = load_json(unigram(false));
  // ▁ab (-3.5) beats ▁a + b (-5.5) and ▁ + ab (-6).
  EXPECT_THAT(tok->encode("ab ab"), ElementsAre(5, 5));
  EXPECT_THAT(tok->encode("abab"), ElementsAre(5, 4));
  // Unknown characters fuse into one unk.
  EXPECT_THAT(tok->encode("axyzb"), ElementsAre(6, 0, 3));
  EXPECT_EQ(tok->decode({5, 5}), "ab ab");
}

TEST(Tokenizer, UnigramByteFallbackSpellsUnknownPieces) {
  EXPECT_THAT(load_json(unigram(true))->encode("é"), ElementsAre(1, 7, 8));
}

TEST(Tokenizer, UnsupportedComponentIsInvalidInputNamingTheField) {
  auto j = byte_level_bpe();
  j["pre_tokenizer"] = {{"type", "Foo"}};
  try {
    load_json(j);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("tokenizer.json: pre_tokenizer.type 'Foo' is not supported"));
  }
  j = byte_level_bpe();
  j["pre_tokenizer"]["pretokenizers"][1]["type"] = "Bar";
  EXPECT_THROW(load_json(j), InvalidInput);
  j = byte_level_bpe();
  j["model"]["type"] = "WordPiece";
  try {
    load_json(j);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("model.type 'WordPiece' is not supported"));
  }
}

TEST(Tokenizer, MalformedFilesAreInvalidInput) {
  auto j = byte_level_bpe(json::array({"a q"}));
  try {
    load_json(j);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("merges[0] uses a token missing from the vocab: 'q'"));
  }
  TempModelDir dir("broken");
  dir.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,");
  EXPECT_THROW(Tokenizer::load(dir.path()), InvalidInput);
  TempModelDir empty("empty");
  EXPECT_THROW(Tokenizer::load(empty.path()), InvalidInput);
  j = byte_level_bpe();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"Regex", "(unclosed"}};
  EXPECT_THROW(load_json(j), InvalidInput);
}

}  // namespace
}  // namespace mofa::text
