// GLM-4's tiktoken tokenizer.model (tokenization_chatglm.py): no GLM vocabulary is reachable here,
// so the tests write Llama 3's 128000 tiktoken ranks in GLM's file format (Llama 3's tokenizer.json
// is Meta's conversion of a tiktoken file with GLM-4's very pre-tokenizer regex). Encoding the
// hard-string corpus must then give exactly the ids of that tokenizer.json (itself checked against
// Hugging Face tokenizers by tokenizer_reference.sh), and GLM's special tokens follow the ranks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "core/error.h"
#include "text/tiktoken_model.h"
#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"

namespace mofa::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Byte-level spelling (GPT-2's printable code point per byte) -> byte.
std::map<std::string, unsigned char> byte_of_spelling() {
  std::map<std::string, unsigned char> out;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int cp = printable ? b : next++;
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[s] = static_cast<unsigned char>(b);
  }
  return out;
}

std::string base64(const std::string& raw) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < raw.size(); i += 3) {
    const uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8) | uint8_t(raw[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(abc[(v >> s) & 63]);
  }
  if (i + 1 == raw.size()) {
    const uint32_t v = uint8_t(raw[i]) << 16;
    out += {abc[(v >> 18) & 63], abc[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == raw.size()) {
    const uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8);
    out += {abc[(v >> 18) & 63], abc[(v >> 12) & 63], abc[(v >> 6) & 63], '='};
  }
  return out;
}

// Llama 3's ranks as a GLM tokenizer.model text.
std::string llama3_as_tiktoken() {
  std::ifstream in(testing::lenml_model_dir("llama3") + "/tokenizer.json");
  nlohmann::json tj = nlohmann::json::parse(in);
  const auto bytes = byte_of_spelling();
  std::vector<std::string> by_rank(tj["model"]["vocab"].size());
  for (const auto& [tok, rank] : tj["model"]["vocab"].items()) {
    std::string raw;
    for (size_t i = 0; i < tok.size();) {
      const size_t n = (static_cast<unsigned char>(tok[i]) < 0x80) ? 1 : 2;
      raw.push_back(static_cast<char>(bytes.at(tok.substr(i, n))));
      i += n;
    }
    by_rank.at(rank.get<size_t>()) = raw;
  }
  std::string text;
  for (size_t r = 0; r < by_rank.size(); ++r)
    text += base64(by_rank[r]) + " " + std::to_string(r) + "\n";
  return text;
}

struct GlmDir {
  testing::TempModelDir dir{"glm_tiktoken"};
  GlmDir() {
    dir.write("tokenizer.model", llama3_as_tiktoken());
    dir.write_json("tokenizer_config.json",
                   {{"eos_token", "<|endoftext|>"},
                    {"pad_token", "<|endoftext|>"},
                    {"tokenizer_class", "ChatGLM4Tokenizer"},
                    {"added_tokens_decoder",
                     {{"128000", {{"content", "<|endoftext|>"}, {"special", true}}},
                      {"128002", {{"content", "[gMASK]"}, {"special", true}}}}}});
  }
};

const Tokenizer& glm() {
  static GlmDir d;
  static std::shared_ptr<Tokenizer> t = Tokenizer::load(d.dir.path());
  return *t;
}

TEST(TiktokenTokenizer, MatchesTheSameRanksAsTokenizerJsonOnTheHardStrings) {
  auto llama3 = Tokenizer::load(testing::lenml_model_dir("llama3"));
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/corpus/hard_strings.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const std::string s = nlohmann::json::parse(line).get<std::string>();
    SCOPED_TRACE(s.substr(0, 80));
    const auto ids = glm().encode(s, false, false);
    EXPECT_EQ(ids, llama3->encode(s, false, false));
    EXPECT_EQ(glm().decode(ids), s);
    ++n;
  }
  EXPECT_GT(n, 50);
  // A long run of one character exercises the pairwise merge loop.
  const std::string long_word(3000, 'a');
  EXPECT_EQ(glm().encode(long_word), llama3->encode(long_word, false, false));
}

TEST(TiktokenTokenizer, GlmSpecialTokensFollowTheRanks) {
  const auto& tok = glm();
  EXPECT_EQ(tok.vocab_size(), 128014);
  EXPECT_THAT(tok.encode("[gMASK]<sop><|user|>\nHello, how are you?<|assistant|>"),
              ElementsAre(128002, 128004, 128007, 198, 9906, 11, 1268, 527, 499, 30, 128008));
  // add_special: build_inputs_with_special_tokens puts [gMASK] <sop> first.
  EXPECT_THAT(tok.encode("Hello", true), ElementsAre(128002, 128004, 9906));
  EXPECT_EQ(tok.eos_token(), "<|endoftext|>");
  EXPECT_EQ(tok.eos_id(), 128000);
  EXPECT_TRUE(tok.is_special(128013));  // <|end_of_video|>, from the built-in list
  EXPECT_EQ(tok.id_to_token(128009), "<|observation|>");
  EXPECT_EQ(tok.token_to_id("<|system|>"), 128006);
  EXPECT_EQ(tok.decode({128007, 9906, 128008}, true), "Hello");
  EXPECT_EQ(tok.decode({128007, 9906}), "<|user|>Hello");
  // parse_special=false keeps special text as plain text.
  auto plain = tok.encode("<|user|>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 128007), 0);
  EXPECT_EQ(tok.decode(plain), "<|user|>");
}

TEST(TiktokenTokenizer, BadFilesAreRejectedWithTheLine) {
  auto expect_error = [](const std::string& text, const std::string& what) {
    try {
      TiktokenModel::parse(text, "tokenizer.model");
      ADD_FAILURE() << "accepted: " << text.substr(0, 40);
    } catch (const InvalidInput& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  std::string bytes;
  for (int b = 0; b < 256; ++b)
    bytes += base64(std::string(1, static_cast<char>(b))) + " " + std::to_string(b) + "\n";
  expect_error("IQ== 0\n!!!! 1\n", "line 2: '!!!!' is not base64");
  expect_error("IQ== 0\nIg==\n", "line 2: expected '<base64 token> <rank>'");
  expect_error("IQ== 0\nIg== 5\n", "ranks must be 0..1");
  expect_error("IQ== 0\n", "has no token of its own");
  expect_error(bytes + "IQ== 256\n", "appears twice");
  EXPECT_NO_THROW(TiktokenModel::parse(bytes, "tokenizer.model"));
  EXPECT_TRUE(looks_like_tiktoken("IQ== 0\nIg== 1\n"));
  EXPECT_FALSE(looks_like_tiktoken(std::string("\x0a\x0b<unk>", 7)));
}

}  // namespace
}  // namespace mofa::text
