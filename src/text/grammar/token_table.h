#pragma once
// The bytes every token of a model's vocabulary stands for, built once per model, and a trie of
// them in preorder so that a grammar matcher can reject a byte prefix and skip every token that
// shares it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mofa::text {

class Tokenizer;

class TokenTable {
 public:
  // text: the token stands for its bytes; eos: allowed once the grammar is complete; rejected:
  // special/control tokens, ids past the tokenizer's vocabulary and tokens with no bytes.
  enum class Kind : uint8_t { text, eos, rejected };

  // One trie node: the byte that leads to it, its depth (1 for the first byte), the index one past
  // its subtree in preorder, and the tokens whose bytes end exactly here.
  struct Node {
    uint8_t byte = 0;
    uint16_t depth = 0;
    uint32_t end = 0;
    uint32_t tokens_begin = 0;
    uint32_t tokens_end = 0;
  };

  // Reads token bytes from `tok` for ids [0, vocab_size): byte-level BPE through the GPT-2
  // alphabet, SentencePiece byte-fallback pieces <0xHH> as their byte, other pieces as decoded in
  // context (so a leading metaspace becomes a space); non-special added tokens are their text.
  static std::shared_ptr<const TokenTable> build(const Tokenizer& tok, int64_t vocab_size,
                                                 const std::vector<int64_t>& eos_ids);
  // A table from explicit token bytes (tests): empty strings are rejected tokens.
  TokenTable(std::vector<std::string> bytes, std::vector<Kind> kinds);

  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  Kind kind(int32_t id) const { return kinds_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eos_ids() const { return eos_; }
  const std::vector<Node>& trie() const { return trie_; }
  const std::vector<int32_t>& trie_tokens() const { return trie_tokens_; }
  size_t max_depth() const { return max_depth_; }

 private:
  void build_trie();

  std::vector<std::string> bytes_;
  std::vector<Kind> kinds_;
  std::vector<int32_t> eos_;
  std::vector<Node> trie_;
  std::vector<int32_t> trie_tokens_;
  size_t max_depth_ = 0;
};

}  // namespace mofa::text
