#pragma once
// Added tokens (tokenizer.json "added_tokens", tokenizer_config.json "added_tokens_decoder"): found
// in the text before the model runs, leftmost-longest like Hugging Face's Aho-Corasick matcher,
// with lstrip / rstrip / single_word handling.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mofa::text {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool normalized = true;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// A byte range of the text and, when it is an added token, that token's id.
struct AddedMatch {
  size_t begin, end;
  std::optional<int32_t> id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  // Cuts `text` into added tokens and the plain text between them (empty ranges dropped). Only
  // tokens whose `normalized` flag equals `normalized` match; parse_special=false skips special
  // ones.
  void split(std::string_view text, bool normalized, bool parse_special,
             std::vector<AddedMatch>& out) const;
  // The id of the added token whose content is `content`.
  std::optional<int32_t> find(std::string_view content) const;
  // The content of added token `id`, or nullptr.
  const std::string* content(int32_t id) const;
  bool is_special(int32_t id) const;
  // Whether any token matches only after normalization.
  bool has_normalized() const { return has_normalized_; }
  // The largest added id (-1 when there are none).
  int64_t max_id() const { return max_id_; }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;
      int32_t token = -1;  // index into tokens_
    };
    std::vector<Node> nodes{Node{}};
    std::array<int32_t, 256> root;  // children of nodes[0] by byte, -1 when absent
    Trie() { root.fill(-1); }
    void insert(std::string_view s, int32_t token);
    // The longest token starting at text[pos]: (length, token index) or (0, -1).
    std::pair<size_t, int32_t> longest_at(std::string_view text, size_t pos) const;
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, int32_t> by_id_;
  std::unordered_map<std::string, int32_t> by_content_;
  Trie raw_, normalized_;
  bool has_normalized_ = false;
  int64_t max_id_ = -1;
};

}  // namespace mofa::text
