#include "text/tokenizer_added.h"

#include "text/unicode.h"

namespace mofa::text {

void AddedVocabulary::Trie::insert(std::string_view s, int32_t token) {
  int32_t node = 0;
  for (unsigned char c : s) {
    int32_t next = -1;
    for (auto [ch, child] : nodes[static_cast<size_t>(node)].children) {
      if (ch == c) next = child;
    }
    if (next < 0) {
      next = static_cast<int32_t>(nodes.size());
      nodes[static_cast<size_t>(node)].children.emplace_back(c, next);
      nodes.emplace_back();
      if (node == 0) root[c] = next;
    }
    node = next;
  }
  // Two tokens with the same content: the first one registered keeps it.
  if (nodes[static_cast<size_t>(node)].token < 0) nodes[static_cast<size_t>(node)].token = token;
}

std::pair<size_t, int32_t> AddedVocabulary::Trie::longest_at(std::string_view text,
                                                             size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = root[static_cast<unsigned char>(text[pos])];
  if (node < 0) return best;
  if (nodes[static_cast<size_t>(node)].token >= 0)
    best = {1, nodes[static_cast<size_t>(node)].token};
  for (size_t i = pos + 1; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    int32_t next = -1;
    for (auto [ch, child] : nodes[static_cast<size_t>(node)].children) {
      if (ch == c) {
        next = child;
        break;
      }
    }
    if (next < 0) break;
    node = next;
    if (nodes[static_cast<size_t>(node)].token >= 0) {
      best = {i + 1 - pos, nodes[static_cast<size_t>(node)].token};
    }
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto& t = tokens_[i];
    auto idx = static_cast<int32_t>(i);
    by_id_[t.id] = idx;
    by_content_.emplace(t.content, idx);
    max_id_ = std::max<int64_t>(max_id_, t.id);
    if (t.content.empty()) continue;
    if (t.normalized) {
      normalized_.insert(t.content, idx);
      has_normalized_ = true;
    } else {
      raw_.insert(t.content, idx);
    }
  }
}

namespace {

// The code point that ends at byte `end` of `s` (end > 0).
char32_t char_before(std::string_view s, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return utf8_next(s, start);
}

}  // namespace

void AddedVocabulary::split(std::string_view text, bool normalized, bool parse_special,
                            std::vector<AddedMatch>& out) const {
  const Trie& trie = normalized ? normalized_ : raw_;
  size_t start_offset = 0;
  size_t pos = 0;
  const bool any = trie.nodes[0].children.size() > 0;
  while (any && pos < text.size()) {
    auto [len, idx] = trie.longest_at(text, pos);
    if (idx < 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[static_cast<size_t>(idx)];
    size_t start = pos, stop = pos + len;
    pos = stop;
    if (t.special && !parse_special) continue;
    if (t.single_word) {
      bool start_space = start == 0 || !is_unicode_alphanumeric(char_before(text, start));
      size_t k = stop;
      bool stop_space = stop == text.size() || !is_unicode_alphanumeric(utf8_next(text, k));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        size_t prev = new_start - 1;
        while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
        size_t k = prev;
        if (!is_unicode_whitespace(utf8_next(text, k))) break;
        new_start = prev;
      }
      start = std::max(new_start, start_offset);
    }
    if (t.rstrip) {
      while (stop < text.size()) {
        size_t k = stop;
        if (!is_unicode_whitespace(utf8_next(text, k))) break;
        stop = k;
      }
      pos = stop;
    }
    if (start_offset < start) out.push_back({start_offset, start, std::nullopt});
    out.push_back({start, stop, t.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), std::nullopt});
}

std::optional<int32_t> AddedVocabulary::find(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[static_cast<size_t>(it->second)].id;
}

const std::string* AddedVocabulary::content(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[static_cast<size_t>(it->second)].content;
}

bool AddedVocabulary::is_special(int32_t id) const {
  auto it = by_id_.find(id);
  return it != by_id_.end() && tokens_[static_cast<size_t>(it->second)].special;
}

}  // namespace mofa::text
