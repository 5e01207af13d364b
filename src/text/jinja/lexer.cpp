#include "text/jinja/lexer.h"

#include <cctype>

#include "core/error.h"
#include "text/jinja/utf8.h"

namespace mofa::text::jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& what) {
  throw InvalidInput("syntax error at line " + std::to_string(line) + ": " + what);
}

// jinja2 normalizes \r\n and \r to \n and, without keep_trailing_newline, drops one final \n.
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Python's str.rstrip() for the text before a {%- / {{- tag.
void rstrip_py(std::string& s) {
  std::u32string cps = utf8_decode(s);
  size_t n = cps.size();
  while (n > 0 && py_isspace(cps[n - 1])) --n;
  if (n != cps.size()) s = utf8_encode(cps.substr(0, n));
}

// Skips what \s* matches after a -%} (ASCII and Unicode whitespace, as Python's re does).
size_t skip_ws_py(const std::string& s, size_t pos) {
  while (pos < s.size()) {
    if (is_ws(s[pos])) {
      ++pos;
      continue;
    }
    auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) break;
    size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    std::u32string cp = utf8_decode(std::string_view(s).substr(pos, len));
    if (cp.size() != 1 || !py_isspace(cp[0])) break;
    pos += len;
  }
  return pos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's unicode-escape decoding of a string literal body.
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 == body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    switch (e) {
      case '\n':
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + digits >= body.size()) {
          fail(line, std::string("truncated \\") + e + " escape in string literal");
        }
        char32_t cp = 0;
        for (size_t k = 1; k <= digits; ++k) {
          int h = hex_value(body[i + k]);
          if (h < 0) fail(line, std::string("truncated \\") + e + " escape in string literal");
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        if (cp > 0x10FFFF) fail(line, "illegal Unicode character in string literal");
        utf8_append(out, cp);
        i += digits;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          char32_t cp = static_cast<char32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k) {
            cp = cp * 8 + static_cast<char32_t>(body[++i] - '0');
          }
          utf8_append(out, cp);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(normalize_newlines(source)) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t tag = src_.find('{', pos_);
      while (tag != std::string::npos && tag + 1 < src_.size() && src_[tag + 1] != '{' &&
             src_[tag + 1] != '%' && src_[tag + 1] != '#') {
        tag = src_.find('{', tag + 1);
      }
      if (tag == std::string::npos || tag + 1 >= src_.size()) {
        emit_text(src_.substr(pos_));
        pos_ = src_.size();
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')
                      ? src_[tag + 2]
                      : '\0';
      std::string text = src_.substr(pos_, tag - pos_);
      if (sign == '-') {
        rstrip_py(text);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop spaces between the line start and a block or comment tag.
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if (l_pos > 0 || line_starting) {
          bool only_ws = l_pos < text.size();
          for (size_t i = l_pos; i < text.size() && only_ws; ++i) only_ws = is_ws(text[i]);
          if (only_ws) text.resize(l_pos);
        }
      }
      emit_text(text);
      line_ += count_newlines(pos_, tag);
      pos_ = tag + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        line_starting = lex_comment();
      } else {
        line_starting = lex_tag(kind == '{');
      }
    }
    tokens_.push_back({TokenType::End, "", line_});
    return std::move(tokens_);
  }

 private:
  int count_newlines(size_t from, size_t to) const {
    int n = 0;
    for (size_t i = from; i < to && i < src_.size(); ++i) n += src_[i] == '\n';
    return n;
  }

  void emit_text(std::string text) {
    if (!text.empty()) tokens_.push_back({TokenType::Text, std::move(text), line_});
  }

  // Consumes the end of a block/comment tag at pos_ (just after %} or #}) with its whitespace
  // rule; returns jinja2's line_starting (the match ended with a newline).
  bool finish_tag(char sign, bool trim_blocks) {
    size_t start = pos_;
    if (sign == '-') {
      pos_ = skip_ws_py(src_, pos_);
    } else if (sign != '+' && trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_ += count_newlines(start, pos_);
    return pos_ > start && src_[pos_ - 1] == '\n';
  }

  bool lex_comment() {
    int start_line = line_;
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) fail(start_line, "missing end of comment tag");
    char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    line_ += count_newlines(pos_, end);
    pos_ = end + 2;
    return finish_tag(sign, true);
  }

  // Matches "raw" or "endraw" (after optional whitespace) and the tag end at `p`; returns the
  // position after the tag end and its sign, or npos.
  size_t match_raw_tag(size_t p, std::string_view word, char& sign) const {
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, word.size(), word) != 0) return std::string::npos;
    p += word.size();
    if (p < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[p])) || src_[p] == '_')) {
      return std::string::npos;
    }
    while (p < src_.size() && is_ws(src_[p])) ++p;
    sign = '\0';
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return std::string::npos;
    return p + 2;
  }

  // {% raw %}...{% endraw %}: the content is text, tags inside it included. Returns false when
  // the block at pos_ is not a raw block.
  bool lex_raw(int start_line, bool& line_starting) {
    char sign = '\0';
    size_t p = match_raw_tag(pos_, "raw", sign);
    if (p == std::string::npos) return false;
    if (sign == '-') p = skip_ws_py(src_, p);
    size_t content_start = p;
    while (true) {
      size_t open = src_.find("{%", p);
      if (open == std::string::npos) fail(start_line, "missing end of raw directive");
      size_t q = open + 2;
      char open_sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q] : '\0';
      if (open_sign) ++q;
      char end_sign = '\0';
      size_t end = match_raw_tag(q, "endraw", end_sign);
      if (end == std::string::npos) {
        p = open + 2;
        continue;
      }
      std::string content = src_.substr(content_start, open - content_start);
      if (open_sign == '-') {
        rstrip_py(content);
      } else if (open_sign != '+') {
        size_t l_pos = content.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        bool only_ws = l_pos < content.size();
        for (size_t i = l_pos; i < content.size() && only_ws; ++i) only_ws = is_ws(content[i]);
        if (only_ws) content.resize(l_pos);
      }
      tokens_.pop_back();  // the BlockBegin of {% raw %}
      emit_text(std::move(content));
      line_ += count_newlines(pos_, end);
      pos_ = end;
      line_starting = finish_tag(end_sign, true);
      return true;
    }
  }

  bool lex_tag(bool variable) {
    int start_line = line_;
    tokens_.push_back({variable ? TokenType::VarBegin : TokenType::BlockBegin, "", line_});
    if (!variable) {
      bool line_starting = false;
      if (lex_raw(start_line, line_starting)) return line_starting;
    }
    std::vector<char> balance;
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= src_.size()) {
        fail(start_line, variable ? "unexpected end of template, expected '}}'"
                                  : "unexpected end of template, expected '%}'");
      }
      if (balance.empty()) {
        std::string_view rest = std::string_view(src_).substr(pos_);
        const char* close = variable ? "}}" : "%}";
        char sign = '\0';
        bool end = false;
        if (rest.size() >= 3 && rest.substr(1, 2) == close &&
            (rest[0] == '-' || (!variable && rest[0] == '+'))) {
          sign = rest[0];
          end = true;
          pos_ += 3;
        } else if (rest.substr(0, 2) == close) {
          end = true;
          pos_ += 2;
        }
        if (end) {
          tokens_.push_back({variable ? TokenType::VarEnd : TokenType::BlockEnd, "", line_});
          if (variable) {
            if (sign == '-') return finish_tag(sign, false);
            return false;
          }
          return finish_tag(sign, true);
        }
      }
      lex_token(balance);
    }
  }

  void lex_token(std::vector<char>& balance) {
    char c = src_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos_;
      while (end < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
        ++end;
      }
      tokens_.push_back({TokenType::Name, src_.substr(pos_, end - pos_), line_});
      pos_ = end;
      return;
    }
    if (c == '\'' || c == '"') {
      size_t i = pos_ + 1;
      while (i < src_.size() && src_[i] != c) i += src_[i] == '\\' ? 2 : 1;
      if (i >= src_.size()) fail(line_, "unterminated string literal");
      std::string_view body = std::string_view(src_).substr(pos_ + 1, i - pos_ - 1);
      tokens_.push_back({TokenType::String, unescape(body, line_), line_});
      line_ += count_newlines(pos_, i);
      pos_ = i + 1;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      lex_number();
      return;
    }
    static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenType::Op, op, line_});
        pos_ += 2;
        return;
      }
    }
    static const std::string kOne = "+-*/%~<>=.,:|()[]{}";
    if (kOne.find(c) == std::string::npos) {
      fail(line_, std::string("unexpected char '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(line_, std::string("unexpected '") + c + "'");
      if (balance.back() != c) {
        fail(line_, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      }
      balance.pop_back();
    }
    tokens_.push_back({TokenType::Op, std::string(1, c), line_});
    ++pos_;
  }

  void lex_number() {
    auto digits = [&](size_t i) {
      while (i < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[i])) ||
                                 (src_[i] == '_' && i + 1 < src_.size() &&
                                  std::isdigit(static_cast<unsigned char>(src_[i + 1]))))) {
        ++i;
      }
      return i;
    };
    size_t end = digits(pos_);
    bool is_float = false;
    // A dot right after an attribute access (x.0.1) keeps integers, as jinja2's (?<!\.) does.
    bool after_dot = pos_ > 0 && src_[pos_ - 1] == '.';
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
      is_float = true;
      end = digits(end + 1);
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t e = end + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) {
        is_float = true;
        end = digits(e);
      }
    }
    std::string text;
    for (size_t i = pos_; i < end; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    tokens_.push_back({is_float ? TokenType::Float : TokenType::Int, text, line_});
    pos_ = end;
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
  return Lexer(source).run();
}

}  // namespace mofa::text::jinja
