#include "text/bpe.h"

#include <bit>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

using nlohmann::json;

namespace {

constexpr size_t kCacheCapacity = 20000;
constexpr size_t kCacheMaxWordBytes = 256;

std::string optional_string(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return {};
  return j[key].get<std::string>();
}

}  // namespace

void TokenIdTable::build(const std::vector<std::string>& tokens) {
  tokens_ = &tokens;
  size_t capacity = 16;
  while (capacity < tokens.size() * 2) capacity *= 2;
  slots_.assign(capacity, Slot{0, -1});
  mask_ = capacity - 1;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const auto& s = tokens[id];
    if (s.empty()) continue;
    const size_t h = std::hash<std::string_view>{}(s);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      Slot& e = slots_[slot];
      if (e.id < 0) {
        e = Slot{tag, static_cast<int32_t>(id)};
        break;
      }
      if (e.tag == tag && tokens[static_cast<size_t>(e.id)] == s) break;
    }
  }
}

std::optional<int32_t> TokenIdTable::find(std::string_view s) const {
  if (slots_.empty()) return std::nullopt;
  const size_t h = std::hash<std::string_view>{}(s);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
    const Slot& e = slots_[slot];
    if (e.id < 0) return std::nullopt;
    if (e.tag == tag && (*tokens_)[static_cast<size_t>(e.id)] == s) return e.id;
  }
}

std::unique_ptr<BpeModel> BpeModel::from_json(const json& model, const std::string& where) {
  BpeTables tables;
  try {
    if (!model.contains("vocab") || !model["vocab"].is_object()) {
      throw InvalidInput(where + ".vocab must be an object of token -> id");
    }
    for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
      if (!it.value().is_number_integer()) {
        throw InvalidInput(where + ".vocab['" + it.key() + "'] is not an integer id");
      }
      auto id = it.value().get<int64_t>();
      if (id < 0 || id > INT32_MAX) {
        throw InvalidInput(where + ".vocab['" + it.key() + "'] id " + std::to_string(id) +
                           " is out of range");
      }
      tables.vocab.emplace_back(it.key(), static_cast<int32_t>(id));
    }
    if (!model.contains("merges") || !model["merges"].is_array()) {
      throw InvalidInput(where + ".merges must be an array");
    }
    const auto& merges = model["merges"];
    for (size_t r = 0; r < merges.size(); ++r) {
      const auto& e = merges[r];
      if (e.is_string()) {
        const auto& s = e.get_ref<const std::string&>();
        auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          throw InvalidInput(where + ".merges[" + std::to_string(r) + "] '" + s +
                             "' is not two tokens separated by one space");
        }
        tables.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        tables.merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      } else {
        throw InvalidInput(where + ".merges[" + std::to_string(r) +
                           "] must be \"a b\" or [\"a\", \"b\"]");
      }
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + ": " + e.what());
  }
  return build(model, std::move(tables), where);
}

std::unique_ptr<BpeModel> BpeModel::build(const json& model, BpeTables tables,
                                          const std::string& where) {
  auto m = std::unique_ptr<BpeModel>(new BpeModel());
  try {
    int32_t max_id = -1;
    for (auto& [tok, id] : tables.vocab) {
      if (id < 0) {
        throw InvalidInput(where + ".vocab['" + tok + "'] id " + std::to_string(id) +
                           " is negative");
      }
      max_id = std::max(max_id, id);
    }
    m->id_to_token_.resize(static_cast<size_t>(max_id + 1));
    for (auto& [tok, id] : tables.vocab) {
      auto& slot = m->id_to_token_[static_cast<size_t>(id)];
      if (!slot.empty()) {
        throw InvalidInput(where + ".vocab: id " + std::to_string(id) + " is given to both '" +
                           slot + "' and '" + tok + "'");
      }
      slot = std::move(tok);
    }
    m->vocab_.build(m->id_to_token_);

    m->continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix");
    m->end_of_word_suffix_ = optional_string(model, "end_of_word_suffix");
    m->fuse_unk_ = model.value("fuse_unk", false);
    m->byte_fallback_ = model.value("byte_fallback", false);
    m->ignore_merges_ = model.value("ignore_merges", false);
    if (model.contains("dropout") && !model["dropout"].is_null() &&
        model["dropout"].get<double>() > 0.0) {
      throw InvalidInput(where + ".dropout is not supported (inference tokenizers use none)");
    }
    auto unk = optional_string(model, "unk_token");
    if (!unk.empty()) {
      m->unk_id_ = m->vocab_.find(unk);
      if (!m->unk_id_) throw InvalidInput(where + ".unk_token '" + unk + "' is not in the vocab");
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      m->byte_ids_[b] = m->vocab_.find(name).value_or(-1);
    }

    size_t capacity = 16;
    while (capacity < tables.merges.size() * 2) capacity *= 2;
    m->merge_keys_.assign(capacity, kEmptyKey);
    m->merge_values_.resize(capacity);
    m->merge_mask_ = capacity - 1;
    m->merge_shift_ = 64 - std::countr_zero(capacity);
    const auto& prefix = m->continuing_subword_prefix_;
    std::string merged;
    for (size_t r = 0; r < tables.merges.size(); ++r) {
      const auto& [a, b] = tables.merges[r];
      auto ia = m->vocab_.find(a);
      auto ib = m->vocab_.find(b);
      if (!ia || !ib) {
        throw InvalidInput(where + ".merges[" + std::to_string(r) +
                           "] uses a token missing from the vocab: '" + (ia ? b : a) + "'");
      }
      merged = a;
      if (!prefix.empty() && b.compare(0, prefix.size(), prefix) == 0) {
        merged.append(b, prefix.size(), std::string::npos);
      } else {
        merged.append(b);
      }
      auto im = m->vocab_.find(merged);
      if (!im) {
        throw InvalidInput(where + ".merges[" + std::to_string(r) + "] result '" + merged +
                           "' is not in the vocab");
      }
      const uint64_t key = pair_key(*ia, *ib);
      uint64_t slot = (key * 0x9E3779B97F4A7C15ull) >> m->merge_shift_;
      while (m->merge_keys_[slot] != kEmptyKey && m->merge_keys_[slot] != key) {
        slot = (slot + 1) & m->merge_mask_;
      }
      // The first occurrence of a pair keeps its rank, as in Hugging Face.
      if (m->merge_keys_[slot] == kEmptyKey) {
        m->merge_keys_[slot] = key;
        m->merge_values_[slot] = Merge{static_cast<int32_t>(r), *im};
      }
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + ": " + e.what());
  }
  return m;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  return vocab_.find(token);
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  const auto& s = id_to_token_[static_cast<size_t>(id)];
  return s.empty() ? nullptr : &s;
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = vocab_.find(word)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  encode_uncached(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word),
                   std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(start), out.end()));
  }
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add = [&](int32_t id) {
    auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, n + 1, true});
  };

  int32_t pending_unk = -1;  // an unk waiting to be fused with the next unknown characters
  std::string piece;
  size_t i = 0;
  while (i < word.size()) {
    size_t len = std::min(utf8_len(static_cast<unsigned char>(word[i])), word.size() - i);
    const bool is_first = i == 0;
    const bool is_last = i + len == word.size();
    std::string_view ch = word.substr(i, len);
    i += len;
    std::string_view key = ch;
    if ((!is_first && !continuing_subword_prefix_.empty()) ||
        (is_last && !end_of_word_suffix_.empty())) {
      piece.clear();
      if (!is_first) piece += continuing_subword_prefix_;
      piece += ch;
      if (is_last) piece += end_of_word_suffix_;
      key = piece;
    }
    if (auto id = vocab_.find(key)) {
      if (pending_unk >= 0) {
        add(pending_unk);
        pending_unk = -1;
      }
      add(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char c : key) all &= byte_ids_[c] >= 0;
      if (all) {
        for (unsigned char c : key) add(byte_ids_[c]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk >= 0) add(pending_unk);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t pos) {
    int32_t nx = symbols[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    const Merge* m = find_merge(
        pair_key(symbols[static_cast<size_t>(pos)].id, symbols[static_cast<size_t>(nx)].id));
    if (m) queue.push({m->rank, pos, m->new_id});
  };
  for (int32_t p = 0; p + 1 < static_cast<int32_t>(symbols.size()); ++p) consider(p);

  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    const Merge* m = find_merge(pair_key(left.id, right.id));
    if (!m || m->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (int32_t p = 0; p >= 0; p = symbols[static_cast<size_t>(p)].next) {
    out.push_back(symbols[static_cast<size_t>(p)].id);
  }
}

}  // namespace mofa::text
