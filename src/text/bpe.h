#pragma once
// Byte-pair-encoding model of tokenizer.json ("model": {"type": "BPE"}): ranked merges applied with
// a priority queue (n log n per word), byte_fallback, unk fusing, ignore_merges, subword prefix and
// suffix, and a bounded cache of encoded words.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/tokenizer_json.h"
#include "text/tokenizer_model.h"

namespace mofa::text {

// Token string -> id, open addressing over ids into a token table owned by the caller: one
// compact array instead of a node per entry, so building and probing stay in cache.
class TokenIdTable {
 public:
  // Indexes every non-empty tokens[id]; a later duplicate string keeps the first id.
  void build(const std::vector<std::string>& tokens);
  std::optional<int32_t> find(std::string_view s) const;

 private:
  struct Slot {
    uint32_t tag;
    int32_t id;  // -1 when empty
  };
  const std::vector<std::string>* tokens_ = nullptr;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

class BpeModel : public TokenizerModel {
 public:
  // Builds from the "model" object of tokenizer.json; `where` names it in errors.
  static std::unique_ptr<BpeModel> from_json(const nlohmann::json& model, const std::string& where);
  // Builds from the model's options (vocab and merges ignored) and already parsed `tables`.
  static std::unique_ptr<BpeModel> build(const nlohmann::json& model, BpeTables tables,
                                         const std::string& where);

  void encode(std::string_view word, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(id_to_token_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void encode_uncached(std::string_view word, std::vector<int32_t>& out) const;
  // Open-addressing lookup of a merge by pair_key; nullptr when the pair does not merge.
  const Merge* find_merge(uint64_t key) const {
    for (uint64_t slot = (key * 0x9E3779B97F4A7C15ull) >> merge_shift_;;
         slot = (slot + 1) & merge_mask_) {
      if (merge_keys_[slot] == key) return &merge_values_[slot];
      if (merge_keys_[slot] == kEmptyKey) return nullptr;
    }
  }
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};

  TokenIdTable vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<uint64_t> merge_keys_;
  std::vector<Merge> merge_values_;
  uint64_t merge_mask_ = 0;
  int merge_shift_ = 64;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  int32_t byte_ids_[256];

  mutable std::mutex cache_mutex_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace mofa::text
