#pragma once
// Splits a template into text and tag tokens the way jinja2's lexer does with transformers'
// settings (trim_blocks, lstrip_blocks, keep_trailing_newline=False), applying whitespace control.
#include <string>
#include <string_view>
#include <vector>

namespace mofa::text::jinja {

enum class TokenType {
  Text,        // literal template text, already whitespace-trimmed
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // value is the unescaped string
  Int,
  Float,
  Op,  // operators and punctuation: + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  End,
};

struct Token {
  TokenType type;
  std::string value;
  int line;
};

// Tokenizes the template; throws InvalidInput naming the line on unterminated tags or strings.
std::vector<Token> lex(std::string_view source);

}  // namespace mofa::text::jinja
