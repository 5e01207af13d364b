#pragma once
// Parses lexer tokens into a statement tree with jinja2's grammar and operator precedence.
#include <vector>

#include "text/jinja/ast.h"
#include "text/jinja/lexer.h"

namespace mofa::text::jinja {

// Parses a whole template; throws InvalidInput with the line on syntax errors and on nesting
// deeper than the parser's limit.
Body parse(const std::vector<Token>& tokens);

}  // namespace mofa::text::jinja
