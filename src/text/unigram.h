#pragma once
// Unigram language-model tokenizer of tokenizer.json ("model": {"type": "Unigram"}): Viterbi over
// the pieces' log probabilities, unknown characters fused into one unk, optional byte_fallback.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/bpe.h"
#include "text/tokenizer_model.h"

namespace mofa::text {

class UnigramModel : public TokenizerModel {
 public:
  // Builds from the "model" object of tokenizer.json; `where` names it in errors.
  static std::unique_ptr<UnigramModel> from_json(const nlohmann::json& model,
                                                 const std::string& where);

  void encode(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }

 private:
  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  TokenIdTable index_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_ = false;
  double min_score_ = 0.0;
  size_t max_piece_bytes_ = 0;
};

}  // namespace mofa::text
