#include "text/regex_grammar.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

using Range = std::pair<char32_t, char32_t>;

// Above this a {m,n} count would blow up the grammar.
constexpr long kMaxCount = 1000;

std::vector<Range> normalize(std::vector<Range> r) {
  std::sort(r.begin(), r.end());
  std::vector<Range> out;
  for (const auto& x : r) {
    if (!out.empty() && x.first <= out.back().second + 1)
      out.back().second = std::max(out.back().second, x.second);
    else
      out.push_back(x);
  }
  return out;
}

std::vector<Range> complement(const std::vector<Range>& r) {
  std::vector<Range> n = normalize(r), out;
  char32_t next = 0;
  for (const auto& x : n) {
    if (x.first > next) out.push_back({next, x.first - 1});
    next = x.second + 1;
  }
  if (next <= 0x10FFFF) out.push_back({next, 0x10FFFF});
  return out;
}

bool contains(const std::vector<Range>& r, char32_t c) {
  for (const auto& x : r)
    if (x.first <= c && c <= x.second) return true;
  return false;
}

std::string class_char(char32_t c) {
  std::string s;
  if (c == '\\' || c == ']' || c == '[' || c == '-' || c == '^' || c == '"') {
    s += '\\';
    s += static_cast<char>(c);
  } else if (c < 0x20 || c == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(c));
    s = buf;
  } else {
    utf8_append(s, c);
  }
  return s;
}

// The JSON-encoded form of one character, as a GBNF literal.
std::string encoded_literal(char32_t c) {
  switch (c) {
    case '"':
      return "\"\\\\\\\"\"";
    case '\\':
      return "\"\\\\\\\\\"";
    case '\n':
      return "\"\\\\n\"";
    case '\r':
      return "\"\\\\r\"";
    case '\t':
      return "\"\\\\t\"";
    case '\b':
      return "\"\\\\b\"";
    case '\f':
      return "\"\\\\f\"";
    default:
      break;
  }
  if (c < 0x20) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\"\\\\u%04X\"", static_cast<unsigned>(c));
    return buf;
  }
  std::string s = "\"";
  s += class_char(c);
  s += "\"";
  return s;
}

// A set of characters written as JSON string content: raw characters except '"', '\\' and
// controls, which are written escaped.
std::string encoded_class(const std::vector<Range>& set) {
  std::vector<Range> raw;
  for (const auto& x : normalize(set)) {
    char32_t lo = std::max<char32_t>(x.first, 0x20), hi = x.second;
    for (char32_t cut : {char32_t{'"'}, char32_t{'\\'}}) {
      if (lo <= cut && cut <= hi) {
        if (lo < cut) raw.push_back({lo, cut - 1});
        lo = cut + 1;
      }
    }
    if (lo <= hi) raw.push_back({lo, hi});
  }
  std::vector<std::string> alts;
  if (!raw.empty()) {
    std::string cls = "[";
    for (const auto& x : raw) {
      cls += class_char(x.first);
      if (x.second != x.first) cls += "-" + class_char(x.second);
    }
    alts.push_back(cls + "]");
  }
  for (char32_t c : {char32_t{'"'}, char32_t{'\\'}, char32_t{'\n'}, char32_t{'\r'}, char32_t{'\t'}})
    if (contains(set, c)) alts.push_back(encoded_literal(c));
  if (alts.empty()) return "";
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

const std::vector<Range>& digit_set() {
  static const std::vector<Range> r = {{'0', '9'}};
  return r;
}
const std::vector<Range>& word_set() {
  static const std::vector<Range> r = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  return r;
}
// ECMAScript \s: WhiteSpace and LineTerminator.
const std::vector<Range>& space_set() {
  static const std::vector<Range> r = normalize({{'\t', '\r'},
                                                 {' ', ' '},
                                                 {0xA0, 0xA0},
                                                 {0x1680, 0x1680},
                                                 {0x2000, 0x200A},
                                                 {0x2028, 0x2029},
                                                 {0x202F, 0x202F},
                                                 {0x205F, 0x205F},
                                                 {0x3000, 0x3000},
                                                 {0xFEFF, 0xFEFF}});
  return r;
}

class RegexParser {
 public:
  RegexParser(const std::string& p, const std::string& path) : s_(p), path_(path) {}

  std::string run() {
    size_t end = s_.size();
    if (pos_ < end && s_[pos_] == '^') ++pos_;
    // A trailing unescaped `$` anchors the end.
    if (end > pos_ && s_[end - 1] == '$') {
      size_t backslashes = 0;
      for (size_t i = end - 1; i > pos_ && s_[i - 1] == '\\'; --i) ++backslashes;
      if (backslashes % 2 == 0) --end;
    }
    s_ = s_.substr(0, end);
    std::string out = parse_alternation();
    if (pos_ < s_.size()) invalid("unbalanced ')'");
    return out.empty() ? "\"\"" : out;
  }

 private:
  [[noreturn]] void unsupported(const std::string& what) const {
    throw Unsupported("pattern at " + path_ + ": " + what +
                      " is not supported in constrained output");
  }
  [[noreturn]] void invalid(const std::string& what) const {
    throw InvalidInput("pattern at " + path_ + " is not a valid regular expression: " + what);
  }
  bool more() const { return pos_ < s_.size(); }
  char peek() const { return more() ? s_[pos_] : '\0'; }

  std::string parse_alternation() {
    std::vector<std::string> alts{parse_sequence()};
    while (more() && peek() == '|') {
      ++pos_;
      alts.push_back(parse_sequence());
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i)
      out += (i ? " | " : "") + (alts[i].empty() ? "\"\"" : alts[i]);
    return out + ")";
  }

  std::string parse_sequence() {
    std::string out;
    while (more() && peek() != '|' && peek() != ')') {
      std::string atom = parse_atom();
      atom = parse_quantifier(atom);
      if (!atom.empty()) out += (out.empty() ? "" : " ") + atom;
    }
    return out;
  }

  std::string parse_quantifier(std::string atom) {
    if (!more()) return atom;
    char c = peek();
    std::string q;
    if (c == '*' || c == '+' || c == '?') {
      ++pos_;
      q = std::string(1, c);
    } else if (c == '{') {
      size_t save = pos_;
      ++pos_;
      long m = parse_number();
      if (m < 0) {  // a literal '{' as in JavaScript's annex B; keep it simple: reject
        pos_ = save;
        invalid("'{' must start a {m,n} quantifier");
      }
      long n = m;
      if (peek() == ',') {
        ++pos_;
        n = peek() == '}' ? -1 : parse_number();
      }
      if (peek() != '}') invalid("unterminated {m,n} quantifier");
      ++pos_;
      if (n >= 0 && n < m) invalid("quantifier {m,n} with n < m");
      if (m > kMaxCount || n > kMaxCount)
        unsupported("a repetition count above " + std::to_string(kMaxCount));
      q = "{" + std::to_string(m) +
          (n == m ? "" : "," + (n < 0 ? std::string() : std::to_string(n))) + "}";
    } else {
      return atom;
    }
    if (peek() == '?') ++pos_;  // lazy: the same language
    if (peek() == '+') unsupported("a possessive quantifier");
    if (atom.empty()) invalid("nothing to repeat");
    return "(" + atom + ")" + q;
  }

  long parse_number() {
    size_t start = pos_;
    long v = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > 1000000) v = 1000000;
      ++pos_;
    }
    return pos_ == start ? -1 : v;
  }

  char32_t next_char() {
    size_t i = pos_;
    char32_t cp = utf8_next(s_, i);
    pos_ = i;
    return cp;
  }

  std::string parse_atom() {
    char c = peek();
    switch (c) {
      case '(': {
        ++pos_;
        if (peek() == '?') {
          if (pos_ + 1 < s_.size() && s_[pos_ + 1] == ':') {
            pos_ += 2;
          } else {
            unsupported("the group construct '(?" + s_.substr(pos_ + 1, 1) + "'");
          }
        }
        std::string inner = parse_alternation();
        if (peek() != ')') invalid("unterminated group");
        ++pos_;
        return inner.empty() ? "" : "(" + inner + ")";
      }
      case '[': {
        std::string cls = encoded_class(parse_class());
        if (cls.empty()) unsupported("a character class that matches no JSON string character");
        return cls;
      }
      case '.':
        ++pos_;
        return encoded_class(complement({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}));
      case '^':
        unsupported("'^' other than at the start");
      case '$':
        unsupported("'$' other than at the end");
      case '*':
      case '+':
      case '?':
      case '{':
        invalid(std::string("nothing to repeat before '") + c + "'");
      case '\\': {
        ++pos_;
        std::vector<Range> set;
        bool is_set = escape(&set, false);
        if (is_set) return encoded_class(set);
        return encoded_literal(set[0].first);
      }
      default: {
        char32_t cp = next_char();
        return encoded_literal(cp);
      }
    }
  }

  // Parses the escape after a backslash into `set`; returns true for a class escape (\d ...),
  // false for a single character (set[0].first).
  bool escape(std::vector<Range>* set, bool in_class) {
    if (!more()) invalid("trailing backslash");
    char e = peek();
    ++pos_;
    auto single = [&](char32_t c) {
      set->push_back({c, c});
      return false;
    };
    auto cls = [&](const std::vector<Range>& r, bool neg) {
      if (neg && in_class) unsupported(std::string("'\\") + e + "' inside a character class");
      *set = neg ? complement(r) : r;
      return true;
    };
    switch (e) {
      case 'd':
        return cls(digit_set(), false);
      case 'D':
        return cls(digit_set(), true);
      case 'w':
        return cls(word_set(), false);
      case 'W':
        return cls(word_set(), true);
      case 's':
        return cls(space_set(), false);
      case 'S':
        return cls(space_set(), true);
      case 't':
        return single('\t');
      case 'n':
        return single('\n');
      case 'r':
        return single('\r');
      case 'f':
        return single('\f');
      case 'v':
        return single('\v');
      case '0':
        return single(0);
      case 'b':
        if (in_class) return single('\b');
        unsupported("the word boundary '\\b'");
      case 'x':
        return single(hex(2));
      case 'u':
        return single(hex(4));
      default:
        break;
    }
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '1' && e <= '9'))
      unsupported(std::string("the escape '\\") + e + "'");
    --pos_;
    return single(next_char());
  }

  char32_t hex(int digits) {
    char32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      char h = peek();
      int d = h >= '0' && h <= '9'   ? h - '0'
              : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                     : -1;
      if (d < 0) invalid("bad hex escape");
      v = v * 16 + static_cast<char32_t>(d);
      ++pos_;
    }
    return v;
  }

  std::vector<Range> parse_class() {
    ++pos_;  // [
    bool neg = false;
    if (peek() == '^') {
      neg = true;
      ++pos_;
    }
    std::vector<Range> set;
    bool first = true;
    while (true) {
      if (!more()) invalid("unterminated character class");
      if (peek() == ']' && !first) break;
      if (peek() == ']' && first) break;  // ECMAScript: [] is empty
      first = false;
      std::vector<Range> item;
      bool is_set = false;
      if (peek() == '\\') {
        ++pos_;
        is_set = escape(&item, true);
      } else {
        char32_t cp = next_char();
        item.push_back({cp, cp});
      }
      if (!is_set && peek() == '-' && pos_ + 1 < s_.size() && s_[pos_ + 1] != ']') {
        ++pos_;
        std::vector<Range> hi_item;
        bool hi_set = false;
        if (peek() == '\\') {
          ++pos_;
          hi_set = escape(&hi_item, true);
        } else {
          char32_t cp = next_char();
          hi_item.push_back({cp, cp});
        }
        if (hi_set) invalid("a class escape cannot end a range");
        if (hi_item[0].first < item[0].first) invalid("character range out of order");
        set.push_back({item[0].first, hi_item[0].first});
      } else {
        set.insert(set.end(), item.begin(), item.end());
      }
    }
    ++pos_;  // ]
    return neg ? complement(set) : normalize(set);
  }

  std::string s_;
  std::string path_;
  size_t pos_ = 0;
};

}  // namespace

std::string regex_to_gbnf(const std::string& pattern, const std::string& path) {
  return RegexParser(pattern, path).run();
}

}  // namespace mofa::text
