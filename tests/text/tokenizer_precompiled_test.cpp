// The Precompiled normalizer (SentencePiece's precompiled_charsmap) against SentencePiece itself:
// libsentencepiece_train builds a model with its built-in nmt_nfkc rules, whose charsmap we read
// back from the serialized model; SentencePiece's own normalization of a text is the concatenation
// of the pieces it encodes it into (pieces of unknown characters keep their normalized text).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <utf8proc.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/normalizer.h"
#include "text/precompiled_charsmap.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "tokenizer_test_util.h"

namespace mofa::text {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class Sentences : public sentencepiece::SentenceIterator {
 public:
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }
  std::vector<std::string> lines_;

 private:
  size_t i_ = 0;
};

uint64_t read_varint(std::string_view b, size_t& i) {
  uint64_t v = 0;
  for (int shift = 0; i < b.size(); shift += 7) {
    auto c = static_cast<unsigned char>(b[i++]);
    v |= static_cast<uint64_t>(c & 0x7F) << shift;
    if (!(c & 0x80)) return v;
  }
  throw std::runtime_error("truncated varint");
}

// The length-delimited field `field` of the protobuf message `msg` (empty when absent).
std::string_view proto_bytes_field(std::string_view msg, uint64_t field) {
  size_t i = 0;
  while (i < msg.size()) {
    const uint64_t key = read_varint(msg, i);
    switch (key & 7) {
      case 0:
        read_varint(msg, i);
        break;
      case 1:
        i += 8;
        break;
      case 5:
        i += 4;
        break;
      case 2: {
        const auto len = static_cast<size_t>(read_varint(msg, i));
        if ((key >> 3) == field) return msg.substr(i, len);
        i += len;
        break;
      }
      default:
        throw std::runtime_error("unexpected wire type");
    }
  }
  return {};
}

std::string base64_encode(std::string_view bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(k[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(k[(v >> 18) & 63]);
    out.push_back(k[(v >> 12) & 63]);
    out += i + 1 < bytes.size() ? std::string(1, k[(v >> 6) & 63]) + "=" : "==";
  }
  return out;
}

// A SentencePiece model trained on a few lines with the nmt_nfkc rules and no whitespace
// handling beyond escaping (the char trainer requires it), and its raw precompiled_charsmap.
struct NfkcModel {
  NfkcModel() {
    Sentences lines;
    for (int i = 0; i < 20; ++i) lines.lines_.push_back("the quick brown fox jumps over a dog");
    std::string proto;
    auto st = sentencepiece::SentencePieceTrainer::Train(
        "--model_type=char --vocab_size=30 --character_coverage=1.0 "
        "--normalization_rule_name=nmt_nfkc --add_dummy_prefix=false "
        "--remove_extra_whitespaces=false --minloglevel=2",
        &lines, &proto);
    if (!st.ok()) throw std::runtime_error("training failed: " + st.ToString());
    st = sp.LoadFromSerializedProto(proto);
    if (!st.ok()) throw std::runtime_error("loading failed: " + st.ToString());
    // ModelProto.normalizer_spec = 3, NormalizerSpec.precompiled_charsmap = 2.
    charsmap = std::string(proto_bytes_field(proto_bytes_field(proto, 3), 2));
  }
  // SentencePiece's normalization, with its escaped spaces turned back into spaces.
  std::string normalize(const std::string& s) const {
    std::string out;
    for (const auto& p : sp.EncodeAsPieces(s)) out += p;
    std::string r;
    for (size_t i = 0; i < out.size();) {
      if (out.compare(i, 3, "\u2581") == 0) {
        r += ' ';
        i += 3;
      } else {
        r += out[i++];
      }
    }
    return r;
  }
  sentencepiece::SentencePieceProcessor sp;
  std::string charsmap;
};

const NfkcModel& nfkc_model() {
  static const NfkcModel m;
  return m;
}

// Ours, with U+2581 written as a space the way SentencePiece's escaping round trip shows it.
std::string ours_unescaped(const PrecompiledCharsmap& map, const std::string& s) {
  std::string out = map.normalize(s), r;
  for (size_t i = 0; i < out.size();) {
    if (out.compare(i, 3, "\u2581") == 0) {
      r += ' ';
      i += 3;
    } else {
      r += out[i++];
    }
  }
  return r;
}

TEST(PrecompiledCharsmap, EveryCodePointNormalizesLikeSentencePiece) {
  const auto& m = nfkc_model();
  ASSERT_GT(m.charsmap.size(), 100000u);
  PrecompiledCharsmap map(m.charsmap, "charsmap");
  int changed = 0, checked = 0;
  for (char32_t cp = 1; cp < 0x30000; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    std::string s;
    utf8_append(s, cp);
    const auto ours = ours_unescaped(map, s);
    ASSERT_EQ(ours, m.normalize(s)) << "U+" << std::hex << static_cast<uint32_t>(cp);
    changed += ours != s;
    ++checked;
  }
  EXPECT_GT(changed, 4000);  // NFKC folds thousands of characters
  EXPECT_GT(checked, 190000);
}

TEST(PrecompiledCharsmap, KnownFoldings) {
  PrecompiledCharsmap map(nfkc_model().charsmap, "charsmap");
  EXPECT_EQ(map.normalize("ｈｅｌｌｏ ①ﬁ"), "hello 1fi");
  EXPECT_EQ(map.normalize("a\u3000b\u200Bc"), "a b c");  // ideographic and zero-width spaces
  EXPECT_EQ(map.normalize("x\u0001y\u007Fz"), "xyz");    // control characters are removed
  EXPECT_EQ(map.normalize("e\u0301"), "\u00E9");         // a cluster that is a key is composed
  EXPECT_EQ(map.normalize(""), "");
  EXPECT_EQ(map.normalize("plain ascii stays"), "plain ascii stays");
}

// Whether some extended grapheme cluster of `s` has more than one code point.
bool has_multi_code_point_cluster(const std::string& s) {
  utf8proc_int32_t state = 0;
  size_t i = 0;
  char32_t prev = 0;
  bool first = true;
  while (i < s.size()) {
    const char32_t cp = utf8_next(s, i);
    if (!first && !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                    static_cast<utf8proc_int32_t>(cp), &state)) {
      return true;
    }
    prev = cp;
    first = false;
  }
  return false;
}

TEST(PrecompiledCharsmap, CorpusMatchesSentencePieceWhereClustersAreSingleCharacters) {
  // SentencePiece takes the longest key at each position of the whole text; Hugging Face (and so
  // we) look each grapheme cluster up whole. On text whose clusters are single characters the two
  // must agree exactly.
  const auto& m = nfkc_model();
  PrecompiledCharsmap map(m.charsmap, "charsmap");
  std::ifstream in(std::string(MOFA_SOURCE_DIR) + "/tests/text/corpus/hard_strings.jsonl");
  std::string line;
  int compared = 0;
  while (std::getline(in, line)) {
    const auto s = json::parse(line).get<std::string>();
    if (s.find('\0') != std::string::npos || has_multi_code_point_cluster(s)) continue;
    EXPECT_EQ(ours_unescaped(map, s), m.normalize(s)) << json(s).dump();
    ++compared;
  }
  EXPECT_GT(compared, 550);
}

TEST(PrecompiledCharsmap, ClustersFollowHuggingFaceNotSentencePiece) {
  // Hugging Face replaces a cluster shorter than 6 bytes by the replacement of the shortest key
  // it starts with, and looks longer clusters up one character at a time. SentencePiece itself
  // composes these (its results are shown for contrast); models converted to tokenizer.json are
  // served by Hugging Face's rule, which is the one transformers applies.
  const auto& m = nfkc_model();
  PrecompiledCharsmap map(m.charsmap, "charsmap");
  // "\r\n" is one cluster whose shortest key is "\r" (-> " "): the "\n" goes with it.
  EXPECT_EQ(map.normalize("a\r\nb"), "a b");
  EXPECT_EQ(m.normalize("a\r\nb"), "a  b");
  // e + U+0302 + U+0301 (5 bytes): the shortest key e + U+0302 gives U+00EA; the acute is lost.
  EXPECT_EQ(map.normalize("Tie\u0302\u0301ng"), "Ti\u00EAng");
  EXPECT_EQ(m.normalize("Tie\u0302\u0301ng"), "Ti\u1EBFng");
  // A Hangul L+V+T jamo cluster is 9 bytes: each jamo alone is no key, so nothing composes.
  EXPECT_EQ(map.normalize("\u1100\u1161\u11A8"), "\u1100\u1161\u11A8");
  EXPECT_EQ(m.normalize("\u1100\u1161\u11A8"), "\uAC01");
  // L+V is 6 bytes, also looked up per character.
  EXPECT_EQ(map.normalize("\u1100\u1161"), "\u1100\u1161");
}

TEST(PrecompiledNormalizer, TokenizerJsonUsesTheCharsmap) {
  const auto b64 = base64_encode(nfkc_model().charsmap);
  json tok = {
      {"version", "1.0"},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers", json::array({{{"type", "Precompiled"}, {"precompiled_charsmap", b64}}})}}},
      {"pre_tokenizer",
       {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}}},
      {"model",
       {{"type", "Unigram"},
        {"unk_id", 0},
        {"vocab", json::array({json::array({"<unk>", 0.0}), json::array({"▁hello", -1.0}),
                               json::array({"▁1", -1.0}), json::array({"fi", -1.0})})}}},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}}}};
  testing::TempModelDir dir("precompiled");
  dir.write_json("tokenizer.json", tok);
  auto t = Tokenizer::load(dir.path());
  EXPECT_EQ(t->encode("ｈｅｌｌｏ ①ﬁ", false), (std::vector<int32_t>{1, 2, 3}));
}

TEST(PrecompiledNormalizer, NullOrEmptyCharsmapIsTheIdentity) {
  auto n = normalizer_from_json({{"type", "Precompiled"}, {"precompiled_charsmap", nullptr}}, "n");
  EXPECT_EQ(n, nullptr);
  n = normalizer_from_json({{"type", "Precompiled"}, {"precompiled_charsmap", ""}}, "n");
  EXPECT_EQ(n, nullptr);
}

TEST(PrecompiledNormalizer, MalformedCharsmapsNameTheField) {
  auto fails = [](const json& blob, const std::string& what) {
    try {
      normalizer_from_json({{"type", "Precompiled"}, {"precompiled_charsmap", blob}},
                           "tokenizer.json: normalizer");
      ADD_FAILURE() << "accepted " << blob.dump();
    } catch (const InvalidInput& e) {
      EXPECT_THAT(e.what(), HasSubstr("tokenizer.json: normalizer.precompiled_charsmap"));
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  fails("not base64!", "not valid base64");
  fails(base64_encode(std::string("\x01\x00", 2)), "too short");
  fails(base64_encode(std::string("\x08\x00\x00\x00\x00\x00\x00\x00", 8)), "exceeds");
  fails(base64_encode(std::string("\x03\x00\x00\x00\x00\x00\x00\x00", 8)), "multiple of 4");
  fails(base64_encode(std::string("\x04\x00\x00\x00\x00\x00\x00\x00\xff", 9)), "UTF-8");
  try {
    normalizer_from_json({{"type", "Precompiled"}}, "n");
    ADD_FAILURE() << "accepted a Precompiled normalizer without a charsmap";
  } catch (const InvalidInput& e) {
    EXPECT_THAT(e.what(), HasSubstr("Precompiled"));
  }
}

}  // namespace
}  // namespace mofa::text
