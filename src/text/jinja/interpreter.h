#pragma once
// Walks a parsed template: scopes, statements, expressions, macros and loops, with jinja2's
// semantics for undefined values and the sandbox's refusal to mutate containers.
#include <memory>
#include <string>
#include <unordered_map>

#include "text/jinja/ast.h"
#include "text/jinja/template.h"
#include "text/jinja/value.h"

namespace mofa::text::jinja {

// Variables of one scope; lookups walk to the parent (a loop body, a macro call, the template).
struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
};

class Interpreter {
 public:
  Interpreter(const RenderLimits& limits, std::shared_ptr<Scope> root);

  // Renders `body` into `out` in `scope`.
  void render(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out);

  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  // Calls a function value, enforcing the call depth limit.
  Value call(const Value& fn, CallArgs& args);
  // Counts one loop iteration (filters that iterate count too) against the limit.
  void count_iteration();
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec_body(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out);
  Flow exec(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Flow exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Value make_macro(const Stmt& s, const std::shared_ptr<Scope>& scope);
  void assign(const std::vector<std::string>& targets, const Value& v, Scope& scope);
  Value lookup(const std::string& name, const Scope& scope) const;
  void append(std::string& out, std::string_view s);
  Value eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope);
  CallArgs eval_args(const Expr& e, const std::shared_ptr<Scope>& scope);

  RenderLimits limits_;
  std::shared_ptr<Scope> root_;
  uint64_t iterations_ = 0;
  int call_depth_ = 0;
};

}  // namespace mofa::text::jinja
