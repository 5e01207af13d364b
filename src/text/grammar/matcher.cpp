#include "text/grammar/matcher.h"

#include <algorithm>

namespace mofa::text {

namespace {

// Masks stay cached per distinct matcher state; a generation rarely visits more than this many.
constexpr size_t kMaxCachedMasks = 256;

// What a token means to the grammar, shared by the dry run and the real advance: EOS ends a
// complete sentence, rejected tokens never fit, and a text token fits as `on_text` finds its bytes.
template <class OnText>
bool decide_token(const GrammarMatcher& m, const TokenTable& table, int32_t id, OnText on_text) {
  if (id < 0 || id >= table.size()) return false;
  switch (table.kind(id)) {
    case TokenTable::Kind::eos:
      return m.is_complete();
    case TokenTable::Kind::rejected:
      return false;
    case TokenTable::Kind::text:
      return on_text(table.bytes(id));
  }
  return false;
}

}  // namespace

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar) : g_(std::move(grammar)) {
  compute_min_lengths();
  for (uint32_t alt : g_->rules()[g_->root()]) expand(alt, kComplete, cur_.tops);
  cur_.mark = arena_.size();
}

bool GrammarMatcher::same_stack(int32_t a, int32_t b) const {
  while (a != b) {
    if (a < 0 || b < 0) return false;
    if (arena_[static_cast<size_t>(a)].pos != arena_[static_cast<size_t>(b)].pos) return false;
    a = arena_[static_cast<size_t>(a)].parent;
    b = arena_[static_cast<size_t>(b)].parent;
  }
  return true;
}

void GrammarMatcher::add_top(int32_t top, std::vector<int32_t>& out) {
  for (int32_t t : out)
    if (same_stack(t, top)) return;
  out.push_back(top);
}

// Continues at grammar position `pos` with `parent` as the return point, collecting the
// character classes that can come next.
void GrammarMatcher::expand(uint32_t pos, int32_t parent, std::vector<int32_t>& out) {
  const auto& elems = g_->elements();
  switch (elems[pos].kind) {
    case Grammar::Kind::end:
      if (parent == kComplete)
        add_top(kComplete, out);
      else
        resume(parent, out);
      return;
    case Grammar::Kind::chars: {
      arena_.push_back({pos, parent});
      add_top(static_cast<int32_t>(arena_.size() - 1), out);
      return;
    }
    case Grammar::Kind::rule: {
      // A reference in tail position returns straight to our parent, so right recursion
      // (x* and friends) keeps stacks flat.
      int32_t cont = parent;
      if (elems[pos + 1].kind != Grammar::Kind::end) {
        arena_.push_back({pos + 1, parent});
        cont = static_cast<int32_t>(arena_.size() - 1);
      }
      for (uint32_t alt : g_->rules()[elems[pos].rule]) expand(alt, cont, out);
      return;
    }
  }
}

// Continues at an existing return node (never an end position).
void GrammarMatcher::resume(int32_t node, std::vector<int32_t>& out) {
  const Node n = arena_[static_cast<size_t>(node)];
  if (g_->elements()[n.pos].kind == Grammar::Kind::chars)
    add_top(node, out);
  else
    expand(n.pos, n.parent, out);
}

bool GrammarMatcher::advance_cp(const std::vector<int32_t>& tops, char32_t cp,
                                std::vector<int32_t>& out) {
  out.clear();
  for (int32_t t : tops) {
    if (t == kComplete) continue;
    const Node n = arena_[static_cast<size_t>(t)];
    if (g_->matches(n.pos, cp)) expand(n.pos + 1, n.parent, out);
  }
  return !out.empty();
}

bool GrammarMatcher::advance_byte(const State& in, uint8_t b, State& out) {
  char32_t cp;
  uint8_t need;
  if (in.need == 0) {
    if (b < 0x80) {
      out.need = 0;
      out.cp = 0;
      return advance_cp(in.tops, b, out.tops);
    }
    if (b < 0xC2 || b > 0xF4) return false;  // a continuation byte, an overlong lead or > U+10FFFF
    out.lead = b;
    if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F;
      need = 1;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F;
      need = 2;
    } else {
      cp = b & 0x07;
      need = 3;
    }
  } else {
    if ((b & 0xC0) != 0x80) return false;
    // The second byte rules out overlong forms, surrogates and code points past U+10FFFF.
    const uint8_t total = in.lead >= 0xF0 ? 3 : in.lead >= 0xE0 ? 2 : 1;
    if (in.need == total && ((in.lead == 0xE0 && b < 0xA0) || (in.lead == 0xED && b > 0x9F) ||
                             (in.lead == 0xF0 && b < 0x90) || (in.lead == 0xF4 && b > 0x8F)))
      return false;
    out.lead = in.lead;
    cp = (in.cp << 6) | (b & 0x3F);
    need = static_cast<uint8_t>(in.need - 1);
  }
  out.cp = cp;
  out.need = need;
  if (need == 0) return advance_cp(in.tops, cp, out.tops);
  // Keep the partial character only if some class accepts one of its completions.
  // Overlong forms are rejected, so a character of n bytes is at least 0x80, 0x800 or 0x10000.
  const uint8_t total = out.lead >= 0xF0 ? 4 : out.lead >= 0xE0 ? 3 : 2;
  const char32_t least = total == 2 ? 0x80 : total == 3 ? 0x800 : 0x10000;
  const char32_t lo = std::max<char32_t>(cp << (6 * need), least);
  const char32_t hi = lo | ((char32_t{1} << (6 * need)) - 1);
  out.tops.clear();
  bool any = false;
  for (int32_t t : in.tops) {
    if (t == kComplete) continue;
    any = any ||
          g_->matches_any(arena_[static_cast<size_t>(t)].pos, lo, std::min<char32_t>(hi, 0x10FFFF));
  }
  if (any) out.tops = in.tops;
  return any;
}

// Runs `bytes` from the current state into `result`; the arena keeps what it built.
bool GrammarMatcher::walk(std::string_view bytes, State& result) {
  State* a = &tmp_[0];
  State* b = &tmp_[1];
  *a = cur_;
  for (char c : bytes) {
    if (!advance_byte(*a, static_cast<uint8_t>(c), *b)) return false;
    std::swap(a, b);
  }
  result = *a;
  return true;
}

// Makes `s` the current state and drops arena nodes no stack reaches any more.
void GrammarMatcher::commit(State& s) {
  std::vector<Node> fresh;
  std::vector<int32_t> remap(arena_.size(), -2);
  auto copy = [&](auto&& self, int32_t idx) -> int32_t {
    if (idx < 0) return idx;
    if (remap[static_cast<size_t>(idx)] != -2) return remap[static_cast<size_t>(idx)];
    const Node n = arena_[static_cast<size_t>(idx)];
    const int32_t parent = self(self, n.parent);
    fresh.push_back({n.pos, parent});
    return remap[static_cast<size_t>(idx)] = static_cast<int32_t>(fresh.size() - 1);
  };
  for (int32_t& t : s.tops) t = copy(copy, t);
  arena_ = std::move(fresh);
  cur_ = s;
  cur_.mark = arena_.size();
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  State next;
  if (!walk(bytes, next)) {
    arena_.resize(cur_.mark);
    return false;
  }
  commit(next);
  return true;
}

bool GrammarMatcher::can_accept_bytes(std::string_view bytes) {
  State next;
  bool ok = walk(bytes, next);
  arena_.resize(cur_.mark);
  return ok;
}

bool GrammarMatcher::is_complete() const {
  return cur_.need == 0 &&
         std::find(cur_.tops.begin(), cur_.tops.end(), kComplete) != cur_.tops.end();
}

bool GrammarMatcher::can_continue() const {
  if (cur_.need > 0) return true;
  for (int32_t t : cur_.tops)
    if (t != kComplete) return true;
  return false;
}

bool GrammarMatcher::accepts_token(const TokenTable& table, int32_t id) {
  return decide_token(*this, table, id,
                      [this](std::string_view bytes) { return can_accept_bytes(bytes); });
}

bool GrammarMatcher::accept_token(const TokenTable& table, int32_t id) {
  return decide_token(*this, table, id,
                      [this](std::string_view bytes) { return accept_bytes(bytes); });
}

// The stacks' grammar positions, root to top, plus the partial character: equal keys accept
// the same continuations.
std::string GrammarMatcher::state_key() const {
  std::vector<std::vector<uint32_t>> stacks;
  for (int32_t t : cur_.tops) {
    std::vector<uint32_t> st;
    for (int32_t n = t; n >= 0; n = arena_[static_cast<size_t>(n)].parent)
      st.push_back(arena_[static_cast<size_t>(n)].pos);
    if (t == kComplete) st.push_back(UINT32_MAX);
    stacks.push_back(std::move(st));
  }
  std::sort(stacks.begin(), stacks.end());
  std::string key;
  auto put = [&](uint32_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(cur_.cp);
  put(cur_.need);
  for (const auto& st : stacks) {
    put(static_cast<uint32_t>(st.size()));
    for (uint32_t p : st) put(p);
  }
  return key;
}

const std::vector<uint64_t>& GrammarMatcher::allowed_tokens(const TokenTable& table) {
  if (cached_for_ != &table) {
    mask_cache_.clear();
    cached_for_ = &table;
  }
  std::string key = state_key();
  if (auto it = mask_cache_.find(key); it != mask_cache_.end()) return it->second;
  if (mask_cache_.size() >= kMaxCachedMasks) mask_cache_.clear();

  std::vector<uint64_t> mask(static_cast<size_t>((table.size() + 63) / 64), 0);
  auto allow = [&](int32_t id) { mask[static_cast<size_t>(id) / 64] |= uint64_t{1} << (id % 64); };
  if (is_complete())
    for (int32_t e : table.eos_ids()) allow(e);

  // Depth-first over the trie in preorder: frames_[d] is the state after the first d bytes.
  const auto& trie = table.trie();
  const auto& toks = table.trie_tokens();
  if (frames_.size() < table.max_depth() + 1) frames_.resize(table.max_depth() + 1);
  frames_[0] = cur_;
  for (size_t i = 0; i < trie.size();) {
    const TokenTable::Node& node = trie[i];
    State& parent = frames_[node.depth - 1];
    State& here = frames_[node.depth];
    arena_.resize(parent.mark);
    if (!advance_byte(parent, node.byte, here)) {
      i = node.end;
      continue;
    }
    here.mark = arena_.size();
    for (uint32_t k = node.tokens_begin; k < node.tokens_end; ++k) allow(toks[k]);
    ++i;
  }
  arena_.resize(cur_.mark);
  return mask_cache_.emplace(std::move(key), std::move(mask)).first->second;
}

namespace {

constexpr uint32_t kInfinite = UINT32_MAX / 4;

uint32_t add_saturated(uint32_t a, uint32_t b) {
  return std::min(kInfinite, a + b);
}

}  // namespace

void GrammarMatcher::compute_min_lengths() {
  const auto& elems = g_->elements();
  const auto& rules = g_->rules();
  std::vector<uint32_t> rule_min(rules.size(), kInfinite);
  best_alt_.assign(rules.size(), 0);
  suffix_min_.assign(elems.size(), 0);
  auto alt_cost = [&](uint32_t start) {
    uint32_t c = 0;
    for (uint32_t p = start; elems[p].kind != Grammar::Kind::end; ++p)
      c = add_saturated(c, elems[p].kind == Grammar::Kind::chars ? 1 : rule_min[elems[p].rule]);
    return c;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < rules.size(); ++r)
      for (uint32_t alt : rules[r]) {
        const uint32_t c = alt_cost(alt);
        if (c < rule_min[r]) {
          rule_min[r] = c;
          best_alt_[r] = alt;
          changed = true;
        }
      }
  }
  // Suffix sums, walking each alternative backwards from its end marker.
  for (size_t p = elems.size(); p-- > 0;) {
    if (elems[p].kind == Grammar::Kind::end) {
      suffix_min_[p] = 0;
    } else {
      const uint32_t here = elems[p].kind == Grammar::Kind::chars ? 1 : rule_min[elems[p].rule];
      suffix_min_[p] = add_saturated(here, suffix_min_[p + 1]);
    }
  }
}

// Appends the cheapest text for elements from `pos` to the end of their alternative.
void GrammarMatcher::emit_shortest(uint32_t pos, std::string& out) const {
  const auto& elems = g_->elements();
  for (uint32_t p = pos; elems[p].kind != Grammar::Kind::end; ++p) {
    if (elems[p].kind == Grammar::Kind::rule) {
      emit_shortest(best_alt_[elems[p].rule], out);
      continue;
    }
    // A printable character the class accepts, else the smallest one.
    char32_t pick = 0;
    bool found = false;
    for (char32_t c : {char32_t{'a'}, char32_t{'0'}, char32_t{' '}})
      if (!found && g_->matches(p, c)) {
        pick = c;
        found = true;
      }
    const auto& e = elems[p];
    if (!found && !e.negated && e.ranges_count > 0) pick = g_->ranges()[e.ranges_begin].first;
    for (char32_t c = 0x20; !found && c < 0x3000; ++c)
      if (g_->matches(p, c)) {
        pick = c;
        found = true;
      }
    if (pick < 0x80) {
      out += static_cast<char>(pick);
    } else if (pick < 0x800) {
      out += static_cast<char>(0xC0 | (pick >> 6));
      out += static_cast<char>(0x80 | (pick & 0x3F));
    } else if (pick < 0x10000) {
      out += static_cast<char>(0xE0 | (pick >> 12));
      out += static_cast<char>(0x80 | ((pick >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (pick & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (pick >> 18));
      out += static_cast<char>(0x80 | ((pick >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((pick >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (pick & 0x3F));
    }
  }
}

std::optional<std::string> GrammarMatcher::shortest_completion() const {
  if (cur_.need > 0) return std::nullopt;
  int32_t best = kComplete;
  uint32_t best_cost = kInfinite;
  for (int32_t t : cur_.tops) {
    if (t == kComplete) return std::string();
    uint32_t cost = 0;
    for (int32_t n = t; n >= 0; n = arena_[static_cast<size_t>(n)].parent)
      cost = add_saturated(cost, suffix_min_[arena_[static_cast<size_t>(n)].pos]);
    if (cost < best_cost) {
      best_cost = cost;
      best = t;
    }
  }
  if (best == kComplete) return std::nullopt;
  std::string out;
  for (int32_t n = best; n >= 0; n = arena_[static_cast<size_t>(n)].parent)
    emit_shortest(arena_[static_cast<size_t>(n)].pos, out);
  return out;
}

}  // namespace mofa::text
