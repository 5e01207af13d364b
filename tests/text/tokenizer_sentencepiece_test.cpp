// Models that ship only tokenizer.model: a small SentencePiece model trained here must give the
// ids libsentencepiece gives, with BOS from tokenizer_config.json and special tokens parsed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>

#include "text/tokenizer.h"
#include "text/tokenizer_test_util.h"

namespace mofa::text {
namespace {

class SentencePieceTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempModelDir("spm");
    const std::string text_path = dir_->path() + "/train.txt";
    {
      std::ofstream f(text_path);
      for (int i = 0; i < 50; ++i) {
        f << "the quick brown fox jumps over the lazy dog " << i << "\n"
          << "tokenizers split text into pieces and ids\n"
          << "héllo wörld, ça va? 你好世界\n";
      }
    }
    auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + text_path + " --model_prefix=" + dir_->path() +
        "/tokenizer --vocab_size=400 --model_type=bpe --byte_fallback=true "
        "--character_coverage=1.0 --minloglevel=2");
    ASSERT_TRUE(status.ok()) << status.ToString();
    std::filesystem::remove(text_path);
    std::filesystem::remove(dir_->path() + "/tokenizer.vocab");
  }
  static void TearDownTestSuite() { delete dir_; }
  static testing::TempModelDir* dir_;
};
testing::TempModelDir* SentencePieceTokenizer::dir_ = nullptr;

TEST_F(SentencePieceTokenizer, EncodesLikeLibSentencePieceWithBos) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(dir_->path() + "/tokenizer.model").ok());
  auto tok = Tokenizer::load(dir_->path());
  for (std::string text : {"the quick brown fox", "héllo wörld 你好 unseen ☃", ""}) {
    std::vector<int> want;
    ASSERT_TRUE(sp.Encode(text, &want).ok());
    auto got = tok->encode(text);
    EXPECT_EQ(std::vector<int32_t>(want.begin(), want.end()), got) << text;
    auto with_bos = tok->encode(text, true);
    ASSERT_FALSE(with_bos.empty());
    EXPECT_EQ(with_bos.front(), sp.bos_id());
    EXPECT_EQ(tok->decode(got), text);
  }
  EXPECT_EQ(tok->bos_token(), "<s>");
  EXPECT_EQ(tok->eos_id(), sp.eos_id());
  EXPECT_EQ(tok->vocab_size(), sp.GetPieceSize());
}

TEST_F(SentencePieceTokenizer, ControlPiecesAreSpecialTokens) {
  auto tok = Tokenizer::load(dir_->path());
  auto ids = tok->encode("the fox</s>");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.back(), *tok->eos_id());
  EXPECT_TRUE(tok->is_special(*tok->eos_id()));
  EXPECT_EQ(tok->decode(ids, true), "the fox");
  EXPECT_EQ(tok->decode(ids), "the fox</s>");
  auto plain = tok->encode("the fox</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), *tok->eos_id()), 0);
}

}  // namespace
}  // namespace mofa::text
