#include "text/grammar.h"

#include "core/error.h"

namespace mofa::text {

Grammar::Grammar(std::vector<Element> elements, std::vector<std::vector<uint32_t>> rules,
                 std::vector<std::pair<char32_t, char32_t>> ranges, std::vector<std::string> names,
                 uint32_t root)
    : elements_(std::move(elements)),
      rules_(std::move(rules)),
      ranges_(std::move(ranges)),
      names_(std::move(names)),
      root_(root) {
  check_internal(root_ < rules_.size(), "grammar", "root rule out of range");
  for (const auto& e : elements_) {
    if (e.kind == Kind::rule) check_internal(e.rule < rules_.size(), "grammar", "bad rule index");
    if (e.kind == Kind::chars)
      check_internal(e.ranges_begin + e.ranges_count <= ranges_.size(), "grammar", "bad ranges");
  }
}

bool Grammar::matches_any(uint32_t pos, char32_t lo, char32_t hi) const {
  const Element& e = elements_[pos];
  const auto* r = ranges_.data() + e.ranges_begin;
  if (!e.negated) {
    for (uint32_t i = 0; i < e.ranges_count; ++i)
      if (r[i].first <= hi && lo <= r[i].second) return true;
    return false;
  }
  // Negated: some code point of [lo, hi] escapes every range. Walk the gaps from lo upward.
  char32_t next = lo;
  for (bool moved = true; moved && next <= hi;) {
    moved = false;
    for (uint32_t i = 0; i < e.ranges_count; ++i)
      if (r[i].first <= next && next <= r[i].second) {
        if (r[i].second >= hi) return false;
        next = r[i].second + 1;
        moved = true;
      }
  }
  return next <= hi;
}

}  // namespace mofa::text
