// GBNF text -> Grammar tables. Repetitions become helper rules (x* is `r ::= x r |`), so the
// matcher only ever sees character classes, rule references and alternative ends.
#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "core/error.h"
#include "text/grammar.h"

namespace mofa::text {

namespace {

using Range = std::pair<char32_t, char32_t>;

struct PElem {
  Grammar::Kind kind = Grammar::Kind::chars;
  bool negated = false;
  std::vector<Range> ranges;
  uint32_t rule = 0;
};
using Seq = std::vector<PElem>;

struct PRule {
  std::string name;
  std::vector<Seq> alts;
  bool defined = false;
  size_t where = 0;  // offset of the definition, or of the first reference while undefined
};

// Repetition counts above this would expand to an unreasonable number of helper rules.
constexpr long kMaxRepeat = 10000;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view src) : s_(src) {}

  std::shared_ptr<const Grammar> run(std::string_view root) {
    skip_space(true);
    while (pos_ < s_.size()) {
      parse_rule();
      skip_space(true);
    }
    auto root_it = index_.find(std::string(root));
    if (root_it == index_.end() || !rules_[root_it->second].defined)
      throw InvalidInput("grammar has no rule named '" + std::string(root) + "' (the root rule)");
    for (const auto& r : rules_)
      if (!r.defined) fail_at(r.where, "undefined rule '" + r.name + "'");
    check_left_recursion();
    return flatten(root_it->second);
  }

 private:
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw InvalidInput("grammar error at line " + std::to_string(line) + ", column " +
                       std::to_string(col) + ": " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }

  // Skips blanks and comments; newlines too when `newlines` (inside groups, after `::=` and `|`).
  void skip_space(bool newlines) {
    while (!at_end()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t rule_index(const std::string& name, size_t where) {
    auto it = index_.find(name);
    if (it != index_.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(rules_.size());
    rules_.push_back({name, {}, false, where});
    index_.emplace(name, id);
    return id;
  }

  // A helper rule for a group or repetition; named after the rule being parsed for errors.
  uint32_t new_rule(std::vector<Seq> alts, size_t where) {
    uint32_t id = static_cast<uint32_t>(rules_.size());
    rules_.push_back({current_ + "-" + std::to_string(id), std::move(alts), true, where});
    return id;
  }

  std::string parse_name() {
    size_t start = pos_;
    while (!at_end() && is_name_char(s_[pos_])) ++pos_;
    if (pos_ == start) fail("expected a rule name");
    return std::string(s_.substr(start, pos_ - start));
  }

  void parse_rule() {
    const size_t start = pos_;
    std::string name = parse_name();
    skip_space(false);
    if (s_.substr(pos_, 3) != "::=") fail("expected '::=' after rule name '" + name + "'");
    pos_ += 3;
    skip_space(true);
    uint32_t id = rule_index(name, start);
    if (rules_[id].defined) fail_at(start, "rule '" + name + "' is defined twice");
    current_ = name;
    std::vector<Seq> alts = parse_alternatives(false);
    rules_[id].alts = std::move(alts);
    rules_[id].defined = true;
    rules_[id].where = start;
    if (!at_end() && peek() != '\n') fail(std::string("unexpected character '") + peek() + "'");
  }

  std::vector<Seq> parse_alternatives(bool nested) {
    std::vector<Seq> alts;
    alts.push_back(parse_sequence(nested));
    while (true) {
      if (!nested) {
        // A top-level rule may continue on the next line with a leading `|`.
        size_t save = pos_;
        skip_space(true);
        if (peek() != '|') {
          pos_ = save;
          skip_space(false);
          break;
        }
      }
      if (peek() != '|') break;
      ++pos_;
      skip_space(true);
      alts.push_back(parse_sequence(nested));
    }
    return alts;
  }

  Seq parse_sequence(bool nested) {
    Seq seq;
    while (!at_end()) {
      const size_t item_start = pos_;
      char c = peek();
      Seq item;
      if (c == '"') {
        item = parse_literal();
      } else if (c == '[') {
        item.push_back(parse_class());
      } else if (c == '.') {
        ++pos_;
        PElem any;
        any.negated = true;  // no ranges, negated: every code point
        item.push_back(any);
      } else if (c == '(') {
        ++pos_;
        skip_space(true);
        std::vector<Seq> alts = parse_alternatives(true);
        skip_space(true);
        if (peek() != ')') fail("expected ')' to close the group opened at " + where(item_start));
        ++pos_;
        PElem ref;
        ref.kind = Grammar::Kind::rule;
        ref.rule = new_rule(std::move(alts), item_start);
        item.push_back(ref);
      } else if (is_name_char(c)) {
        std::string name = parse_name();
        PElem ref;
        ref.kind = Grammar::Kind::rule;
        ref.rule = rule_index(name, item_start);
        item.push_back(ref);
      } else if (c == '|' || c == ')' || c == '\n') {
        break;
      } else {
        fail(std::string("unexpected character '") + c + "'");
      }
      skip_space(nested);
      while (!at_end() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{')) {
        item = parse_repetition(std::move(item), item_start);
        skip_space(nested);
      }
      seq.insert(seq.end(), item.begin(), item.end());
    }
    return seq;
  }

  std::string where(size_t at) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
  }

  long parse_count() {
    size_t start = pos_;
    long v = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      v = v * 10 + (peek() - '0');
      if (v > kMaxRepeat) fail_at(start, "repetition count above " + std::to_string(kMaxRepeat));
      ++pos_;
    }
    if (pos_ == start) fail("expected a number in the repetition");
    return v;
  }

  Seq parse_repetition(Seq item, size_t item_start) {
    long min = 0, max = -1;
    char op = peek();
    ++pos_;
    if (op == '+') {
      min = 1;
    } else if (op == '?') {
      max = 1;
    } else if (op == '{') {
      skip_space(true);
      min = parse_count();
      skip_space(true);
      if (peek() == ',') {
        ++pos_;
        skip_space(true);
        if (peek() != '}') max = parse_count();
      } else {
        max = min;
      }
      skip_space(true);
      if (peek() != '}') fail("expected '}' to close the repetition");
      ++pos_;
      if (max >= 0 && max < min) fail_at(item_start, "repetition {m,n} with n < m");
    }
    // The repeated unit as one element: multi-element items (literals) become a rule.
    PElem unit = item.size() == 1 ? item[0] : PElem{};
    if (item.size() != 1) {
      unit.kind = Grammar::Kind::rule;
      unit.rule = new_rule({item}, item_start);
    }
    PElem ref;
    ref.kind = Grammar::Kind::rule;
    Seq out(static_cast<size_t>(min), unit);
    if (max < 0) {
      uint32_t star = new_rule({}, item_start);  // star ::= unit star |
      ref.rule = star;
      rules_[star].alts = {Seq{unit, ref}, Seq{}};
      out.push_back(ref);
    } else if (max > min) {
      // opt_1 ::= unit | ; opt_k ::= unit opt_{k-1} |
      uint32_t prev = new_rule({Seq{unit}, Seq{}}, item_start);
      for (long k = 2; k <= max - min; ++k) {
        ref.rule = prev;
        prev = new_rule({Seq{unit, ref}, Seq{}}, item_start);
      }
      ref.rule = prev;
      out.push_back(ref);
    }
    return out;
  }

  // One (possibly escaped) code point of a literal or class.
  char32_t parse_char() {
    if (at_end()) fail("unexpected end of grammar");
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c == '\\') {
      ++pos_;
      if (at_end()) fail("unexpected end of grammar after '\\'");
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '^':
        case '/':
        case '\'':
          return static_cast<char32_t>(e);
        case 'x':
          return parse_hex(2);
        case 'u':
          return parse_hex(4);
        case 'U':
          return parse_hex(8);
        default:
          pos_ -= 2;
          fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    // UTF-8 decode.
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + len > s_.size()) fail("invalid UTF-8 in grammar");
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < len; ++i) {
      unsigned char b = static_cast<unsigned char>(s_[pos_ + i]);
      if ((b & 0xC0) != 0x80) fail("invalid UTF-8 in grammar");
      cp = (cp << 6) | (b & 0x3F);
    }
    pos_ += len;
    return cp;
  }

  char32_t parse_hex(int digits) {
    char32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      char h = peek();
      int d = h >= '0' && h <= '9'   ? h - '0'
              : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                     : -1;
      if (d < 0) fail("expected " + std::to_string(digits) + " hex digits in escape");
      v = v * 16 + static_cast<char32_t>(d);
      ++pos_;
    }
    if (v > 0x10FFFF) fail("escape is beyond U+10FFFF");
    return v;
  }

  Seq parse_literal() {
    const size_t start = pos_;
    ++pos_;  // opening quote
    Seq seq;
    while (true) {
      if (at_end() || peek() == '\n') fail_at(start, "unterminated string literal");
      if (peek() == '"') break;
      char32_t cp = parse_char();
      PElem e;
      e.ranges.push_back({cp, cp});
      seq.push_back(e);
    }
    ++pos_;
    return seq;
  }

  PElem parse_class() {
    const size_t start = pos_;
    ++pos_;  // [
    PElem e;
    if (peek() == '^') {
      e.negated = true;
      ++pos_;
    }
    while (true) {
      if (at_end()) fail_at(start, "unterminated character class");
      if (peek() == ']') break;
      char32_t lo = parse_char();
      char32_t hi = lo;
      if (peek() == '-' && peek(1) != ']' && pos_ + 1 < s_.size()) {
        ++pos_;
        hi = parse_char();
        if (hi < lo) fail("character range is reversed");
      }
      e.ranges.push_back({lo, hi});
    }
    ++pos_;
    return e;
  }

  void check_left_recursion() const {
    const size_t n = rules_.size();
    std::vector<bool> nullable(n, false);
    auto seq_nullable = [&](const Seq& s) {
      for (const auto& e : s)
        if (e.kind != Grammar::Kind::rule || !nullable[e.rule]) return false;
      return true;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        for (const auto& alt : rules_[r].alts)
          if (seq_nullable(alt)) {
            nullable[r] = changed = true;
            break;
          }
      }
    }
    // Rules each rule can begin with without consuming input.
    std::vector<std::vector<uint32_t>> first(n);
    for (size_t r = 0; r < n; ++r)
      for (const auto& alt : rules_[r].alts)
        for (const auto& e : alt) {
          if (e.kind != Grammar::Kind::rule) break;
          first[r].push_back(e.rule);
          if (!nullable[e.rule]) break;
        }
    std::vector<int> mark(n, 0);  // 0 new, 1 on the path, 2 done
    std::function<void(uint32_t)> visit = [&](uint32_t r) {
      mark[r] = 1;
      for (uint32_t next : first[r]) {
        if (mark[next] == 1) {
          fail_at(rules_[next].where,
                  "rule '" + rules_[next].name +
                      "' is left-recursive (it can reach itself without consuming input)");
        }
        if (mark[next] == 0) visit(next);
      }
      mark[r] = 2;
    };
    for (uint32_t r = 0; r < n; ++r)
      if (mark[r] == 0) visit(r);
  }

  std::shared_ptr<const Grammar> flatten(uint32_t root) const {
    std::vector<Grammar::Element> elems;
    std::vector<std::vector<uint32_t>> rules(rules_.size());
    std::vector<Range> ranges;
    std::vector<std::string> names;
    for (size_t r = 0; r < rules_.size(); ++r) {
      names.push_back(rules_[r].name);
      for (const auto& alt : rules_[r].alts) {
        rules[r].push_back(static_cast<uint32_t>(elems.size()));
        for (const auto& pe : alt) {
          Grammar::Element e;
          e.kind = pe.kind;
          e.negated = pe.negated;
          e.rule = pe.rule;
          e.ranges_begin = static_cast<uint32_t>(ranges.size());
          e.ranges_count = static_cast<uint32_t>(pe.ranges.size());
          ranges.insert(ranges.end(), pe.ranges.begin(), pe.ranges.end());
          elems.push_back(e);
        }
        elems.push_back(Grammar::Element{});
      }
    }
    return std::make_shared<const Grammar>(std::move(elems), std::move(rules), std::move(ranges),
                                           std::move(names), root);
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::vector<PRule> rules_;
  std::map<std::string, uint32_t> index_;
  std::string current_;
};

}  // namespace

std::shared_ptr<const Grammar> Grammar::parse(std::string_view gbnf, std::string_view root) {
  return Parser(gbnf).run(root);
}

}  // namespace mofa::text
