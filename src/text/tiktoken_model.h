#pragma once
// tiktoken-style BPE vocabularies shipped as tokenizer.model: one "<base64 token bytes> <rank>"
// line per token (GLM-4-9B-chat's tokenizer.model, read by its tokenization_chatglm.py). A word
// is encoded as tiktoken does: the whole word when it is a token, else its bytes merged pairwise,
// always the adjacent pair whose concatenation has the lowest rank, until no pair is a token.
// Vocabulary strings are the GPT-2 byte-level spelling of the token bytes, so the usual ByteLevel
// pre-tokenizer and decoder stages apply unchanged.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/decoder.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer_added.h"
#include "text/tokenizer_model.h"

namespace mofa::text {

class TiktokenModel : public TokenizerModel {
 public:
  // Parses the file text; `where` names it in errors (bad base64, duplicate or gapped ranks).
  static std::unique_ptr<TiktokenModel> parse(std::string_view text, const std::string& where);

  void encode(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }

 private:
  std::vector<std::string> tokens_;                      // rank -> byte-level spelling
  std::unordered_map<std::string_view, int32_t> ranks_;  // views into tokens_
};

// Whether `head` (the first bytes of a tokenizer.model) is a tiktoken rank file rather than a
// SentencePiece protobuf.
bool looks_like_tiktoken(std::string_view head);
// The same for the file at `path` (false when it cannot be read).
bool is_tiktoken_file(const std::string& path);

// Every stage of GLM-4's tokenizer (tokenization_chatglm.py's ChatGLM4Tokenizer) from its
// tokenizer.model text and tokenizer_config.json.
struct TiktokenTokenizerParts {
  std::unique_ptr<TiktokenModel> model;
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // its regex split, then ByteLevel
  std::unique_ptr<Decoder> decoder;             // ByteLevel
  std::vector<AddedToken> added;  // GLM's special tokens after the ranks, then the config's
  std::vector<int32_t> prefix;    // what add_special puts first: [gMASK] <sop>
};
TiktokenTokenizerParts load_glm_tiktoken(std::string_view model_text, const nlohmann::json& config,
                                         const std::string& where);

}  // namespace mofa::text
