#include "text/jinja/template.h"

#include "text/jinja/builtins.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/lexer.h"
#include "text/jinja/parser.h"

namespace mofa::text::jinja {

Template::Template(std::string_view source)
    : body_(std::make_shared<const Body>(parse(lex(source)))) {}

std::string Template::render(const Dict& variables, const RenderLimits& limits) const {
  auto globals = std::make_shared<Scope>();
  for (auto& [name, value] : builtin_globals()) globals->vars[name.as_string()] = std::move(value);
  for (const auto& [name, value] : variables) {
    if (!name.is_string()) throw InternalError("template variable names must be strings");
    globals->vars[name.as_string()] = value;
  }
  // Template-level {% set %} lands in its own scope so that it never rewrites a caller's variable.
  auto top = std::make_shared<Scope>();
  top->parent = globals;
  Interpreter interp(limits, globals);
  std::string out;
  interp.render(*body_, top, out);
  return out;
}

}  // namespace mofa::text::jinja
