#pragma once
// A context-free grammar in llama.cpp's GBNF dialect, compiled to flat rule tables that the
// byte-level matcher (text/grammar/matcher.h) walks to constrain sampling.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mofa::text {

class Grammar {
 public:
  // One symbol of an alternative: a character class, a reference to a rule, or the end marker
  // that closes every alternative.
  enum class Kind : uint8_t { end, chars, rule };
  struct Element {
    Kind kind = Kind::end;
    bool negated = false;       // chars: matches code points outside the ranges
    uint32_t rule = 0;          // rule: index into rules()
    uint32_t ranges_begin = 0;  // chars: [ranges_begin, ranges_begin + ranges_count) in ranges()
    uint32_t ranges_count = 0;
  };

  // Parses GBNF text: `name ::= alternatives` rules, `|`, groups, "literals" and [classes] with
  // escapes (\n \r \t \\ \" \] \xHH \uHHHH \UHHHHHHHH), negated classes, `.`, postfix `*` `+`
  // `?` `{m}` `{m,}` `{m,n}`, and `#` comments. Throws InvalidInput with line and column for
  // syntax errors, undefined rules, a missing root and left recursion.
  static std::shared_ptr<const Grammar> parse(std::string_view gbnf,
                                              std::string_view root = "root");

  // Every alternative is a run of elements in elements() ending with Kind::end; rules()[r]
  // lists the start index of each alternative of rule r.
  const std::vector<Element>& elements() const { return elements_; }
  const std::vector<std::vector<uint32_t>>& rules() const { return rules_; }
  const std::vector<std::pair<char32_t, char32_t>>& ranges() const { return ranges_; }
  const std::string& rule_name(uint32_t rule) const { return names_[rule]; }
  uint32_t root() const { return root_; }

  // Whether the character class at elements()[pos] accepts `cp`.
  bool matches(uint32_t pos, char32_t cp) const {
    const Element& e = elements_[pos];
    const auto* r = ranges_.data() + e.ranges_begin;
    bool found = false;
    for (uint32_t i = 0; i < e.ranges_count && !found; ++i)
      found = r[i].first <= cp && cp <= r[i].second;
    return found != e.negated;
  }
  // Whether the class at elements()[pos] accepts some code point in [lo, hi].
  bool matches_any(uint32_t pos, char32_t lo, char32_t hi) const;

  // Builds a grammar from already-compiled tables (the parser's output); validates references.
  Grammar(std::vector<Element> elements, std::vector<std::vector<uint32_t>> rules,
          std::vector<std::pair<char32_t, char32_t>> ranges, std::vector<std::string> names,
          uint32_t root);

 private:
  std::vector<Element> elements_;
  std::vector<std::vector<uint32_t>> rules_;
  std::vector<std::pair<char32_t, char32_t>> ranges_;
  std::vector<std::string> names_;
  uint32_t root_ = 0;
};

}  // namespace mofa::text
