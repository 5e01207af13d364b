// UTF-8 repair, the ByteLevel alphabet and Oniguruma patterns the tokenizer stages rely on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "text/unicode.h"
#include "text/unicode_regex.h"

namespace mofa::text {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(TokenizerUnicode, LossyReplacesEachMaximalSubpart) {
  EXPECT_EQ(utf8_lossy("abc"), "abc");
  EXPECT_EQ(utf8_lossy("\xE4\xB8"), kFffd);  // truncated 3-byte sequence
  EXPECT_EQ(utf8_lossy("a\xFF"
                       "b"),
            "a" + kFffd + "b");                                  // never-valid byte
  EXPECT_EQ(utf8_lossy("\xF0\x80"), kFffd + kFffd);              // F0 cannot be followed by 80
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(utf8_lossy("\xE4\xB8\xAD"), "中");
}

TEST(TokenizerUnicode, ValidPrefixStopsBeforeAnIncompleteCharacter) {
  EXPECT_EQ(utf8_valid_prefix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(utf8_valid_prefix("ab\xE4\xB8\xAD"), 5u);
}

TEST(TokenizerUnicode, ByteLevelAlphabetIsGpt2s) {
  const auto& t = byte_level_encode_table();
  EXPECT_EQ(t[' '], "Ġ");
  EXPECT_EQ(t['\n'], "Ċ");
  EXPECT_EQ(t['a'], "a");
  EXPECT_EQ(t[0xAD], "Ń");
  for (int b = 0; b < 256; ++b) {
    size_t i = 0;
    EXPECT_EQ(byte_level_decode(utf8_next(t[b], i)), b);
  }
  EXPECT_EQ(byte_level_decode(U'中'), -1);
}

TEST(TokenizerUnicode, RegexUsesUnicodeClassesAndLookahead) {
  Regex re(R"(\p{L}+|\p{N}|\s+(?!\S)|\s+)", "test");
  std::vector<std::pair<size_t, size_t>> m;
  const std::string s = "héllo 12  世界";
  re.find_all(s, m);
  std::vector<std::string> parts;
  for (auto [b, e] : m) parts.push_back(s.substr(b, e - b));
  EXPECT_THAT(parts, ::testing::ElementsAre("héllo", " ", "1", "2", " ", " ", "世界"));
  EXPECT_THROW(Regex("(", "bad"), std::exception);
}

TEST(TokenizerUnicode, WhitespaceAndAlphanumericFollowRust) {
  EXPECT_TRUE(is_unicode_whitespace(U'\u3000'));
  EXPECT_TRUE(is_unicode_whitespace(U'\u0085'));
  EXPECT_FALSE(is_unicode_whitespace(U'\u200B'));
  EXPECT_TRUE(is_unicode_alphanumeric(U'é'));
  EXPECT_TRUE(is_unicode_alphanumeric(U'٣'));
  EXPECT_FALSE(is_unicode_alphanumeric(U'-'));
}

}  // namespace
}  // namespace mofa::text
