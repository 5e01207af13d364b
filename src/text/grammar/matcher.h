#pragma once
// Grammar matching state for one generation: llama.cpp-style stacks of grammar positions kept as
// parent-linked nodes in an arena, advanced byte by byte (UTF-8 is assembled into code points,
// and a partial character only survives while some class could still accept its completion).
// Token-level queries walk the vocabulary trie so a rejected prefix skips its whole subtree.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/grammar.h"
#include "text/grammar/token_table.h"

namespace mofa::text {

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> grammar);

  // Advances over `bytes` if they keep the input a prefix of a sentence; false (and no change)
  // otherwise.
  bool accept_bytes(std::string_view bytes);
  // Whether accept_bytes(bytes) would succeed; leaves the state unchanged.
  bool can_accept_bytes(std::string_view bytes);
  // The input so far is a complete sentence of the grammar.
  bool is_complete() const;
  // Some more input could follow (false once the sentence is complete and closed).
  bool can_continue() const;

  // Token queries against a model's table: eos tokens are allowed only when complete, rejected
  // tokens never.
  bool accepts_token(const TokenTable& table, int32_t id);
  // Advances over token `id`; false (and no change) when it is not allowed.
  bool accept_token(const TokenTable& table, int32_t id);
  // Bitset (bit i of word i/64) of the allowed tokens; cached per matcher state.
  const std::vector<uint64_t>& allowed_tokens(const TokenTable& table);

  // The shortest text (fewest characters) that completes the sentence from here: "" when it is
  // already complete; nullopt in the middle of a UTF-8 character or when no completion is finite.
  std::optional<std::string> shortest_completion() const;

 private:
  struct Node {
    uint32_t pos;    // an element of the grammar: the class to match, or where to continue
    int32_t parent;  // the node to continue with once this alternative ends (-1: the root)
  };
  // A set of stacks (top node indices; kComplete marks "sentence complete") plus the code point
  // being assembled from UTF-8 bytes.
  struct State {
    std::vector<int32_t> tops;
    char32_t cp = 0;
    uint8_t need = 0;  // continuation bytes still missing
    uint8_t lead = 0;  // the first byte of that character
    size_t mark = 0;   // arena size once this state was built
  };
  static constexpr int32_t kComplete = -1;

  void expand(uint32_t pos, int32_t parent, std::vector<int32_t>& out);
  void resume(int32_t node, std::vector<int32_t>& out);
  void add_top(int32_t top, std::vector<int32_t>& out);
  bool same_stack(int32_t a, int32_t b) const;
  bool advance_cp(const std::vector<int32_t>& tops, char32_t cp, std::vector<int32_t>& out);
  bool advance_byte(const State& in, uint8_t byte, State& out);
  bool walk(std::string_view bytes, State& result);
  void commit(State& s);
  std::string state_key() const;
  void compute_min_lengths();
  void emit_shortest(uint32_t pos, std::string& out) const;

  std::shared_ptr<const Grammar> g_;
  std::vector<Node> arena_;
  State cur_;
  std::vector<State> frames_;  // per trie depth, reused
  State tmp_[2];
  std::unordered_map<std::string, std::vector<uint64_t>> mask_cache_;
  const TokenTable* cached_for_ = nullptr;
  // Fewest characters from each element to the end of its alternative, and the cheapest
  // alternative of each rule (for shortest_completion).
  std::vector<uint32_t> suffix_min_;
  std::vector<uint32_t> best_alt_;
};

}  // namespace mofa::text
