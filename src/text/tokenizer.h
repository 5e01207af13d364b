#pragma once
// Tokenizer built from a Hugging Face model directory (tokenizer.json + tokenizer_config.json, or
// a SentencePiece tokenizer.model), byte-exact with Hugging Face tokenizers, and the streaming
// detokenizer the generate loop uses.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mofa::text {

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json (with DIR/tokenizer_config.json when present) or DIR/tokenizer.model.
  static std::shared_ptr<Tokenizer> load(const std::string& dir);
  ~Tokenizer();

  // Encodes `text`. add_special applies the post-processor (BOS/EOS) like HF add_special_tokens;
  // parse_special=false treats special added tokens in the text as plain text (llama.cpp's
  // parse_special, HF's split_special_tokens); non-special added tokens still match.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false,
                              bool parse_special = true) const;
  // Decodes `ids` through the decoder; skip_special drops special tokens first.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The raw vocabulary string of `id` ("" when the id is unknown).
  std::string id_to_token(int32_t id) const;
  // The id of vocabulary or added token `token`.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // One past the largest id, added tokens included.
  int64_t vocab_size() const;
  // Whether `id` is a special added token (what skip_special drops).
  bool is_special(int32_t id) const;
  // BOS / EOS strings from tokenizer_config.json ("" if none).
  const std::string& bos_token() const;
  const std::string& eos_token() const;
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streaming decode for generation: pieces never contain broken UTF-8, and the concatenation of all
// push() results and flush() equals decode(all ids).
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tok, bool skip_special = true);
  // Adds one id; returns the text that became final (possibly empty).
  std::string push(int32_t id);
  // Returns whatever text is still held back (an incomplete character decodes as U+FFFD).
  std::string flush();
  // Keeps special token `id` in the text although special tokens are skipped (markers a caller
  // parses, like [TOOL_CALLS]). Call before the first push().
  void keep_special(int32_t id);

 private:
  std::string decode(const std::vector<int32_t>& ids) const;
  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<int32_t> kept_special_;  // sorted
  std::vector<int32_t> ids_;
  size_t prefix_offset_ = 0;  // ids_[prefix_offset_, read_offset_) decode to prefix_text_
  size_t read_offset_ = 0;
  std::string prefix_text_;
  std::string emitted_;  // everything returned so far, so flush() can finish exactly
};

}  // namespace mofa::text
