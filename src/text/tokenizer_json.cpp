#include "text/tokenizer_json.h"

#include <cstring>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

class Scanner {
 public:
  Scanner(std::string_view s, const std::string& name) : s_(s), name_(name) {}

  [[noreturn]] void fail(size_t pos, const std::string& what) const {
    throw InvalidInput(name_ + ": " + what + " at byte " + std::to_string(pos));
  }

  size_t skip_ws(size_t p) const {
    while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\n' || s_[p] == '\r' || s_[p] == '\t')) ++p;
    return p;
  }

  // Position just past the string starting at s_[p] == '"'.
  size_t skip_string(size_t p) const {
    ++p;
    while (true) {
      const void* q = std::memchr(s_.data() + p, '"', s_.size() - p);
      if (!q) fail(p, "unterminated string");
      size_t e = static_cast<size_t>(static_cast<const char*>(q) - s_.data());
      size_t bs = 0;
      while (e - bs > p && s_[e - 1 - bs] == '\\') ++bs;
      if (bs % 2 == 0) return e + 1;
      p = e + 1;
    }
  }

  // Position just past the JSON value starting at s_[p].
  size_t skip_value(size_t p) const {
    p = skip_ws(p);
    if (p >= s_.size()) fail(p, "unexpected end");
    if (s_[p] == '"') return skip_string(p);
    if (s_[p] == '{' || s_[p] == '[') {
      int depth = 0;
      while (p < s_.size()) {
        char c = s_[p];
        if (c == '"') {
          p = skip_string(p);
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (--depth == 0) return p + 1;
        }
        ++p;
      }
      fail(p, "unterminated container");
    }
    while (p < s_.size() && s_[p] != ',' && s_[p] != '}' && s_[p] != ']' && s_[p] != ' ' &&
           s_[p] != '\n' && s_[p] != '\r' && s_[p] != '\t') {
      ++p;
    }
    return p;
  }

  // Decodes the string at s_[p] == '"' into `out`; returns the position after it.
  size_t parse_string(size_t p, std::string& out) const {
    if (p >= s_.size() || s_[p] != '"') fail(p, "expected a string");
    out.clear();
    ++p;
    while (true) {
      size_t start = p;
      while (p < s_.size() && s_[p] != '"' && s_[p] != '\\') ++p;
      out.append(s_, start, p - start);
      if (p >= s_.size()) fail(p, "unterminated string");
      if (s_[p] == '"') return p + 1;
      ++p;  // backslash
      if (p >= s_.size()) fail(p, "unterminated escape");
      char c = s_[p++];
      switch (c) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          char32_t cp = hex4(p);
          p += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p + 6 > s_.size() || s_[p] != '\\' || s_[p + 1] != 'u') fail(p, "lone surrogate");
            char32_t lo = hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) fail(p, "invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(p, "lone surrogate");
          }
          utf8_append(out, cp);
          break;
        }
        default:
          fail(p - 1, "invalid escape");
      }
    }
  }

  // Parses an integer at s_[p]; returns the position after it.
  size_t parse_int(size_t p, int64_t& v) const {
    size_t start = p;
    bool neg = p < s_.size() && s_[p] == '-';
    if (neg) ++p;
    v = 0;
    while (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') {
      v = v * 10 + (s_[p] - '0');
      if (v > INT32_MAX) fail(start, "integer out of range");
      ++p;
    }
    if (p == start + (neg ? 1 : 0)) fail(start, "expected an integer");
    if (p < s_.size() && (s_[p] == '.' || s_[p] == 'e' || s_[p] == 'E'))
      fail(start, "expected an integer");
    if (neg) v = -v;
    return p;
  }

  // Finds member `key` of the object starting at s_[p] == '{'; returns the value's span or
  // {npos, npos}.
  std::pair<size_t, size_t> member(size_t p, std::string_view key) const {
    p = skip_ws(p);
    if (p >= s_.size() || s_[p] != '{') fail(p, "expected an object");
    ++p;
    std::string k;
    while (true) {
      p = skip_ws(p);
      if (p < s_.size() && s_[p] == '}') return {std::string::npos, std::string::npos};
      p = parse_string(p, k);
      p = skip_ws(p);
      if (p >= s_.size() || s_[p] != ':') fail(p, "expected ':'");
      size_t vb = skip_ws(p + 1);
      size_t ve = skip_value(vb);
      if (k == key) return {vb, ve};
      p = skip_ws(ve);
      if (p < s_.size() && s_[p] == ',') {
        ++p;
        continue;
      }
      if (p < s_.size() && s_[p] == '}') return {std::string::npos, std::string::npos};
      fail(p, "expected ',' or '}'");
    }
  }

  size_t expect(size_t p, char c) const {
    p = skip_ws(p);
    if (p >= s_.size() || s_[p] != c) fail(p, std::string("expected '") + c + "'");
    return p + 1;
  }

  bool peek(size_t& p, char c) const {
    p = skip_ws(p);
    return p < s_.size() && s_[p] == c;
  }

 private:
  char32_t hex4(size_t p) const {
    if (p + 4 > s_.size()) fail(p, "truncated \\u escape");
    char32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      char c = s_[p + i];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) fail(p, "invalid \\u escape");
      v = (v << 4) | static_cast<char32_t>(d);
    }
    return v;
  }

  std::string_view s_;
  const std::string& name_;
};

}  // namespace

std::string extract_bpe_tables(std::string data, BpeTables& tables, const std::string& name) {
  Scanner sc(data, name);
  auto [mb, me] = sc.member(0, "model");
  if (mb == std::string::npos || data[mb] != '{') return data;
  auto [tb, te] = sc.member(mb, "type");
  if (tb != std::string::npos && std::string_view(data).substr(tb, te - tb) != "\"BPE\"")
    return data;
  auto [vb, ve] = sc.member(mb, "vocab");
  auto [gb, ge] = sc.member(mb, "merges");
  if (vb == std::string::npos || gb == std::string::npos || data[vb] != '{' || data[gb] != '[') {
    return data;
  }

  std::string key;
  size_t p = vb + 1;
  if (!sc.peek(p, '}')) {
    while (true) {
      p = sc.parse_string(sc.skip_ws(p), key);
      p = sc.expect(p, ':');
      int64_t id;
      p = sc.parse_int(sc.skip_ws(p), id);
      tables.vocab.emplace_back(key, static_cast<int32_t>(id));
      if (sc.peek(p, ',')) {
        ++p;
        continue;
      }
      sc.expect(p, '}');
      break;
    }
  }

  p = gb + 1;
  std::string a, b;
  if (!sc.peek(p, ']')) {
    while (true) {
      p = sc.skip_ws(p);
      if (data[p] == '"') {
        p = sc.parse_string(p, key);
        auto sp = key.find(' ');
        if (sp == std::string::npos || key.find(' ', sp + 1) != std::string::npos) {
          throw InvalidInput(name + ": model.merges[" + std::to_string(tables.merges.size()) +
                             "] '" + key + "' is not two tokens separated by one space");
        }
        tables.merges.emplace_back(key.substr(0, sp), key.substr(sp + 1));
      } else if (data[p] == '[') {
        p = sc.parse_string(sc.skip_ws(p + 1), a);
        p = sc.expect(p, ',');
        p = sc.parse_string(sc.skip_ws(p), b);
        p = sc.expect(p, ']');
        tables.merges.emplace_back(std::move(a), std::move(b));
      } else {
        throw InvalidInput(name + ": model.merges[" + std::to_string(tables.merges.size()) +
                           "] must be \"a b\" or [\"a\", \"b\"]");
      }
      if (sc.peek(p, ',')) {
        ++p;
        continue;
      }
      sc.expect(p, ']');
      break;
    }
  }

  // Replace the later span first so the earlier offsets stay valid.
  std::string rest;
  rest.reserve(data.size() - (ve - vb) - (ge - gb) + 4);
  if (vb < gb) {
    rest.append(data, 0, vb)
        .append("{}")
        .append(data, ve, gb - ve)
        .append("[]")
        .append(data, ge, std::string::npos);
  } else {
    rest.append(data, 0, gb)
        .append("[]")
        .append(data, ge, vb - ge)
        .append("{}")
        .append(data, ve, std::string::npos);
  }
  return rest;
}

}  // namespace mofa::text
