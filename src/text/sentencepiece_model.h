#pragma once
// Models that ship only a SentencePiece tokenizer.model: libsentencepiece does the encoding, and
// its control and unknown pieces become special added tokens so the pipeline treats them like
// tokenizer.json's.
#include <memory>
#include <string>
#include <vector>

#include "text/decoder.h"
#include "text/tokenizer_added.h"
#include "text/tokenizer_model.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace mofa::text {

class SentencePieceModel : public TokenizerModel {
 public:
  // Loads the serialized model at `path`; InvalidInput when it cannot be parsed.
  static std::unique_ptr<SentencePieceModel> load(const std::string& path);
  ~SentencePieceModel() override;

  void encode(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }

  // Control and unknown pieces (<s>, </s>, <unk>, ...) as special added tokens.
  std::vector<AddedToken> control_tokens() const;
  // A decoder that lets SentencePiece join pieces (spaces, byte pieces) between special tokens.
  std::unique_ptr<Decoder> make_decoder() const;
  // The BOS / EOS pieces ("" when the model has none).
  std::string bos_piece() const;
  std::string eos_piece() const;

 private:
  SentencePieceModel();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::vector<std::string> pieces_;
};

}  // namespace mofa::text
