#include "text/grammar/token_table.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

// "<0xAB>" -> 0xAB, anything else -> -1 (SentencePiece byte-fallback pieces).
int byte_piece(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    char c = t[static_cast<size_t>(i)];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// The bytes of a byte-level vocabulary string, or false when it holds a character outside the
// GPT-2 alphabet (an added token stored as plain text).
bool byte_level_bytes(const std::string& raw, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < raw.size()) {
    int b = byte_level_decode(utf8_next(raw, i));
    if (b < 0) return false;
    out->push_back(static_cast<char>(b));
  }
  return true;
}

}  // namespace

std::shared_ptr<const TokenTable> TokenTable::build(const Tokenizer& tok, int64_t vocab_size,
                                                    const std::vector<int64_t>& eos_ids) {
  std::vector<std::string> bytes(static_cast<size_t>(vocab_size));
  std::vector<Kind> kinds(static_cast<size_t>(vocab_size), Kind::rejected);
  const auto space = tok.token_to_id("\xC4\xA0");  // "Ġ", the byte-level stand-in for ' '
  const bool byte_level = space && tok.decode({*space}) == " ";
  const int64_t tok_vocab = std::min(vocab_size, tok.vocab_size());
  for (int32_t id = 0; id < tok_vocab; ++id) {
    if (tok.is_special(id)) continue;
    const std::string raw = tok.id_to_token(id);
    if (raw.empty()) continue;
    std::string& b = bytes[static_cast<size_t>(id)];
    if (byte_level) {
      if (!byte_level_bytes(raw, &b)) b = tok.decode({id});
    } else if (int v = byte_piece(raw); v >= 0) {
      b.assign(1, static_cast<char>(v));
    } else {
      // Decoded after itself, so decoders that strip the first token's leading space (Metaspace,
      // Strip) show the space the token carries mid-sentence.
      const std::string one = tok.decode({id});
      const std::string two = tok.decode({id, id});
      b = two.size() > one.size() && two.compare(0, one.size(), one) == 0 ? two.substr(one.size())
                                                                          : one;
    }
    if (!b.empty()) kinds[static_cast<size_t>(id)] = Kind::text;
  }
  for (int64_t e : eos_ids)
    if (e >= 0 && e < vocab_size) {
      kinds[static_cast<size_t>(e)] = Kind::eos;
      bytes[static_cast<size_t>(e)].clear();
    }
  return std::make_shared<const TokenTable>(std::move(bytes), std::move(kinds));
}

TokenTable::TokenTable(std::vector<std::string> bytes, std::vector<Kind> kinds)
    : bytes_(std::move(bytes)), kinds_(std::move(kinds)) {
  check_internal(bytes_.size() == kinds_.size(), "token_table", "bytes and kinds differ in size");
  for (size_t i = 0; i < bytes_.size(); ++i) {
    if (kinds_[i] == Kind::text && (bytes_[i].empty() || bytes_[i].size() > 0xFFFF))
      kinds_[i] = Kind::rejected;
    if (kinds_[i] == Kind::eos) eos_.push_back(static_cast<int32_t>(i));
  }
  build_trie();
}

// Preorder trie from the sorted token strings: a string sorts before its extensions, so each
// token lands on the newest node of the current path.
void TokenTable::build_trie() {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < bytes_.size(); ++i)
    if (kinds_[i] == Kind::text) ids.push_back(static_cast<int32_t>(i));
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return bytes_[static_cast<size_t>(a)] < bytes_[static_cast<size_t>(b)];
  });
  std::vector<uint32_t> path;
  const std::string* prev = nullptr;
  for (int32_t id : ids) {
    const std::string& s = bytes_[static_cast<size_t>(id)];
    size_t common = 0;
    if (prev) {
      const size_t limit = std::min({s.size(), prev->size(), path.size()});
      while (common < limit && s[common] == (*prev)[common]) ++common;
    }
    while (path.size() > common) {
      trie_[path.back()].end = static_cast<uint32_t>(trie_.size());
      path.pop_back();
    }
    for (size_t k = common; k < s.size(); ++k) {
      Node n;
      n.byte = static_cast<uint8_t>(s[k]);
      n.depth = static_cast<uint16_t>(k + 1);
      n.tokens_begin = n.tokens_end = static_cast<uint32_t>(trie_tokens_.size());
      path.push_back(static_cast<uint32_t>(trie_.size()));
      trie_.push_back(n);
    }
    trie_tokens_.push_back(id);
    trie_[path.back()].tokens_end = static_cast<uint32_t>(trie_tokens_.size());
    max_depth_ = std::max(max_depth_, s.size());
    prev = &s;
  }
  while (!path.empty()) {
    trie_[path.back()].end = static_cast<uint32_t>(trie_.size());
    path.pop_back();
  }
}

}  // namespace mofa::text
