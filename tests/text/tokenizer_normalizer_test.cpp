// Normalizers and pre-tokenizers on their own: the NFC fast path must equal utf8proc's full NFC on
// every corpus string, and Split must cut like Hugging Face's delimiter behaviours.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "text/normalizer.h"
#include "text/pre_tokenizer.h"

namespace mofa::text {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

std::string utf8proc_form(const std::string& s,
                          utf8proc_uint8_t* (*form)(const utf8proc_uint8_t*)) {
  utf8proc_uint8_t* p = form(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  std::string r(reinterpret_cast<char*>(p));
  std::free(p);
  return r;
}

TEST(TokenizerNormalizer, NfcAndNfkcEqualUtf8procOnTheCorpus) {
  auto nfc = normalizer_from_json({{"type", "NFC"}}, "n");
  auto nfkc = normalizer_from_json({{"type", "NFKC"}}, "n");
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/corpus/hard_strings.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    auto s = json::parse(line).get<std::string>();
    if (s.find('\0') != std::string::npos) continue;  // utf8proc's C-string API stops at NUL
    ASSERT_EQ(nfc->normalize(s), utf8proc_form(s, utf8proc_NFC)) << s;
    ASSERT_EQ(nfkc->normalize(s), utf8proc_form(s, utf8proc_NFKC)) << s;
    ++checked;
  }
  EXPECT_GT(checked, 500);
  EXPECT_EQ(nfc->normalize("e\u0301 a\u0300"), "\u00e9 \u00e0");
}

TEST(TokenizerNormalizer, SequencePrependReplaceAndStrip) {
  auto n = normalizer_from_json(
      {{"type", "Sequence"},
       {"normalizers",
        json::array({{{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}},
                     {{"type", "Prepend"}, {"prepend", "▁"}},
                     {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}},
                     {{"type", "Lowercase"}}})}},
      "n");
  EXPECT_EQ(n->normalize("  Hello World\u3000"), "▁hello▁world");
  EXPECT_EQ(n->normalize(""), "");
  auto re = normalizer_from_json(
      {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}, "n");
  EXPECT_EQ(re->normalize("a    b  c d"), "a b c d");
}

std::vector<std::string> split(const json& pre, const std::string& text) {
  std::vector<std::string> pieces{text};
  pre_tokenizer_from_json(pre, "p")->pre_tokenize(pieces, true);
  return pieces;
}

TEST(TokenizerPreTokenizer, SplitBehavioursFollowHuggingFace) {
  auto with = [](const char* behavior, bool invert = false) {
    return json{{"type", "Split"},
                {"pattern", {{"String", "-"}}},
                {"behavior", behavior},
                {"invert", invert}};
  };
  const std::string s = "a-b--c-";
  EXPECT_THAT(split(with("Removed"), s), ElementsAre("a", "b", "c"));
  EXPECT_THAT(split(with("Isolated"), s), ElementsAre("a", "-", "b", "-", "-", "c", "-"));
  EXPECT_THAT(split(with("MergedWithPrevious"), s), ElementsAre("a-", "b-", "-", "c-"));
  EXPECT_THAT(split(with("MergedWithNext"), s), ElementsAre("a", "-b", "-", "-c", "-"));
  EXPECT_THAT(split(with("Contiguous"), s), ElementsAre("a", "-", "b", "--", "c", "-"));
  EXPECT_THAT(split(with("Removed", true), s), ElementsAre("-", "-", "-", "-"));
}

TEST(TokenizerPreTokenizer, MetaspaceAndDigitsAndByteLevel) {
  json meta = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}};
  EXPECT_THAT(split(meta, "hi there"), ElementsAre("▁hi", "▁there"));
  std::vector<std::string> later{"hi"};
  pre_tokenizer_from_json(meta, "p")->pre_tokenize(later, false);
  EXPECT_THAT(later, ElementsAre("hi"));
  EXPECT_THAT(split({{"type", "Digits"}, {"individual_digits", true}}, "a123"),
              ElementsAre("a", "1", "2", "3"));
  EXPECT_THAT(split({{"type", "Digits"}, {"individual_digits", false}}, "a123b"),
              ElementsAre("a", "123", "b"));
  EXPECT_THAT(split({{"type", "ByteLevel"}, {"add_prefix_space", true}}, "Hi you\n"),
              ElementsAre("ĠHi", "Ġyou", "Ċ"));
  EXPECT_THAT(split({{"type", "WhitespaceSplit"}}, " a  b\tc "), ElementsAre("a", "b", "c"));
}

}  // namespace
}  // namespace mofa::text
