#include "text/precompiled_charsmap.h"

#include <utf8proc.h>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

// darts-clone packs each unit as: bits 0-7 the label, bit 8 "has a leaf child", bit 9 the offset
// scale (offsets are shifted left by 8 when set), bits 10-30 the offset, bit 31 "is a leaf" (its
// low 31 bits are then the value instead).
bool has_leaf(uint32_t u) {
  return ((u >> 8) & 1) != 0;
}
uint32_t value_of(uint32_t u) {
  return u & 0x7FFFFFFFu;
}
uint32_t label_of(uint32_t u) {
  return u & (0x80000000u | 0xFFu);
}
uint32_t offset_of(uint32_t u) {
  return (u >> 10) << ((u & (1u << 9)) >> 6);
}

uint32_t read_le32(std::string_view b, size_t at) {
  auto byte = [&](size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(b[at + k]));
  };
  return byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24);
}

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob, const std::string& where) {
  if (blob.size() < 4) throw InvalidInput(where + " is too short to hold the trie size");
  const uint32_t trie_bytes = read_le32(blob, 0);
  if (trie_bytes == 0 || trie_bytes % 4 != 0) {
    throw InvalidInput(where + ": trie size " + std::to_string(trie_bytes) +
                       " is not a positive multiple of 4");
  }
  if (trie_bytes > blob.size() - 4) {
    throw InvalidInput(where + ": trie size " + std::to_string(trie_bytes) + " exceeds the " +
                       std::to_string(blob.size() - 4) + " bytes that follow it");
  }
  units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < units_.size(); ++i) units_[i] = read_le32(blob, 4 + 4 * i);
  replacements_ = std::string(blob.substr(4 + trie_bytes));
  if (utf8_valid_prefix(replacements_) != replacements_.size()) {
    throw InvalidInput(where + ": the replacement strings are not valid UTF-8");
  }
}

std::optional<std::string_view> PrecompiledCharsmap::first_match(std::string_view s) const {
  // A blob whose trie points outside itself is corrupt; such a path is treated as "no key" rather
  // than read out of bounds.
  size_t pos = offset_of(units_[0]);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    pos ^= c;
    if (pos >= units_.size()) return std::nullopt;
    const uint32_t unit = units_[pos];
    if (label_of(unit) != c) return std::nullopt;
    pos ^= offset_of(unit);
    if (pos >= units_.size()) return std::nullopt;
    if (has_leaf(unit)) {
      const uint32_t at = value_of(units_[pos]);
      if (at >= replacements_.size()) return std::nullopt;
      const size_t end = replacements_.find('\0', at);
      return std::string_view(replacements_).substr(at, end == std::string::npos ? end : end - at);
    }
  }
  return std::nullopt;
}

std::string PrecompiledCharsmap::normalize(std::string_view s) const {
  std::string out;
  out.reserve(s.size());
  auto emit_chars = [&](std::string_view g) {
    size_t i = 0;
    while (i < g.size()) {
      const size_t start = i;
      utf8_next(g, i);
      const auto ch = g.substr(start, i - start);
      auto m = first_match(ch);
      out.append(m ? *m : ch);
    }
  };
  utf8proc_int32_t state = 0;
  size_t g_start = 0, i = 0;
  char32_t prev = 0;
  while (i < s.size()) {
    const size_t at = i;
    const char32_t cp = utf8_next(s, i);
    if (at > g_start &&
        utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                         static_cast<utf8proc_int32_t>(cp), &state)) {
      const auto g = s.substr(g_start, at - g_start);
      auto m = g.size() < 6 ? first_match(g) : std::nullopt;
      if (m) {
        out.append(*m);
      } else {
        emit_chars(g);
      }
      g_start = at;
    }
    prev = cp;
  }
  if (g_start < s.size()) {
    const auto g = s.substr(g_start);
    auto m = g.size() < 6 ? first_match(g) : std::nullopt;
    if (m) {
      out.append(*m);
    } else {
      emit_chars(g);
    }
  }
  return out;
}

}  // namespace mofa::text
