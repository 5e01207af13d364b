#pragma once
// The "model" stage of a tokenizer (BPE, Unigram, SentencePiece): turns one pre-tokenized word
// into ids and maps ids to their vocabulary strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mofa::text {

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Appends the ids of `word` to `out`.
  virtual void encode(std::string_view word, std::vector<int32_t>& out) const = 0;
  // The id of the vocabulary entry `token`, if any.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // The vocabulary string of `id`, or nullptr when the model has no such id.
  virtual const std::string* id_to_token(int32_t id) const = 0;
  // One past the largest id of the model's vocabulary.
  virtual int64_t vocab_size() const = 0;
};

}  // namespace mofa::text
