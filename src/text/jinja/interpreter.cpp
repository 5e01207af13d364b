#include "text/jinja/interpreter.h"

#include <cmath>

#include "core/error.h"
#include "text/jinja/builtins.h"

namespace mofa::text::jinja {
namespace {

// An engine error that already names its line; outer statements pass it through unchanged.
class LocatedError : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

std::string short_type(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::None:
      return "NoneType";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "str";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Namespace:
      return "Namespace";
    case Value::Kind::Function:
      return "function";
    case Value::Kind::Undefined:
      return "Undefined";
  }
  return "object";
}

[[noreturn]] void unsupported_operand(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "+" && a.is_string()) {
    throw InvalidInput("can only concatenate str (not \"" + short_type(b) + "\") to str");
  }
  if (op == "+" && a.is_list()) {
    throw InvalidInput("can only concatenate list (not \"" + short_type(b) + "\") to list");
  }
  throw InvalidInput("unsupported operand type(s) for " + op + ": '" + short_type(a) + "' and '" +
                     short_type(b) + "'");
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

Value repeat(const Value& seq, int64_t n) {
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  List out;
  for (int64_t i = 0; i < n; ++i) {
    out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  }
  return Value(std::move(out));
}

Value arithmetic(const std::string& op, const Value& a, const Value& b, const RenderLimits& lim) {
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) return Value(a.as_int() + b.as_int());
    if (nums) return Value(a.as_float() + b.as_float());
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      List out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(out));
    }
  } else if (op == "-") {
    if (ints) return Value(a.as_int() - b.as_int());
    if (nums) return Value(a.as_float() - b.as_float());
  } else if (op == "*") {
    if (ints) return Value(a.as_int() * b.as_int());
    if (nums) return Value(a.as_float() * b.as_float());
    const Value* seq = (a.is_string() || a.is_list())   ? &a
                       : (b.is_string() || b.is_list()) ? &b
                                                        : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && count->is_int()) {
      int64_t n = std::max<int64_t>(0, count->as_int());
      size_t unit = seq->is_string() ? seq->as_string().size() : seq->as_list().size() * 16;
      if (unit != 0 && static_cast<uint64_t>(n) > lim.max_output_bytes / unit) {
        throw InvalidInput("repetition of " + std::to_string(n) + " exceeds the output limit");
      }
      return repeat(*seq, n);
    }
  } else if (op == "/") {
    if (nums) {
      if (b.as_float() == 0.0) throw InvalidInput("division by zero");
      return Value(a.as_float() / b.as_float());
    }
  } else if (op == "//") {
    if (nums) {
      if (b.as_float() == 0.0) throw InvalidInput("integer division or modulo by zero");
      if (ints) return Value(floor_div(a.as_int(), b.as_int()));
      return Value(std::floor(a.as_float() / b.as_float()));
    }
  } else if (op == "%") {
    if (nums) {
      if (b.as_float() == 0.0) throw InvalidInput("integer division or modulo by zero");
      if (ints) return Value(floor_mod(a.as_int(), b.as_int()));
      double m = std::fmod(a.as_float(), b.as_float());
      if (m != 0 && ((m < 0) != (b.as_float() < 0))) m += b.as_float();
      return Value(m);
    }
  } else if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b.as_int() && i < 64; ++i) r *= a.as_int();
      return Value(r);
    }
    if (nums) return Value(std::pow(a.as_float(), b.as_float()));
  }
  unsupported_operand(op, a, b);
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return py_equal(a, b);
  if (op == "!=") return !py_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "<") return py_less(a, b);
  if (op == ">") return py_less(b, a);
  if (op == "<=") return !py_less(b, a);
  if (op == ">=") return !py_less(a, b);
  throw InternalError("unknown comparison " + op);
}

}  // namespace

Interpreter::Interpreter(const RenderLimits& limits, std::shared_ptr<Scope> root)
    : limits_(limits), root_(std::move(root)) {}

void Interpreter::render(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out) {
  exec_body(body, scope, out);
}

void Interpreter::count_iteration() {
  if (++iterations_ > limits_.max_loop_iterations) {
    throw InvalidInput("template ran more than " + std::to_string(limits_.max_loop_iterations) +
                       " loop iterations");
  }
}

void Interpreter::append(std::string& out, std::string_view s) {
  if (out.size() + s.size() > limits_.max_output_bytes) {
    throw InvalidInput("template output exceeds " + std::to_string(limits_.max_output_bytes) +
                       " bytes");
  }
  out += s;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, const std::shared_ptr<Scope>& scope,
                                         std::string& out) {
  for (const auto& s : body) {
    Flow f = exec(*s, scope, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                    std::string& out) {
  try {
    switch (s.kind) {
      case StmtKind::Text:
        append(out, s.text);
        return Flow::Normal;
      case StmtKind::Output: {
        Value v = eval(*s.expr, scope);
        if (v.is_string()) {
          append(out, v.as_string());
        } else {
          append(out, v.str());
        }
        return Flow::Normal;
      }
      case StmtKind::If:
        for (size_t i = 0; i < s.conditions.size(); ++i) {
          if (eval(*s.conditions[i], scope).truthy()) return exec_body(s.bodies[i], scope, out);
        }
        return exec_body(s.else_body, scope, out);
      case StmtKind::For:
        return exec_for(s, scope, out);
      case StmtKind::Set:
        assign(s.targets, eval(*s.expr, scope), *scope);
        return Flow::Normal;
      case StmtKind::SetAttr: {
        Value target = lookup(s.targets[0], *scope);
        if (!target.is_namespace()) {
          throw InvalidInput("cannot assign attribute on non-namespace object");
        }
        Value v = eval(*s.expr, scope);
        Dict& attrs = target.namespace_attrs();
        for (auto& [k, old] : attrs) {
          if (k.is_string() && k.as_string() == s.attr) {
            old = std::move(v);
            return Flow::Normal;
          }
        }
        attrs.emplace_back(s.attr, std::move(v));
        return Flow::Normal;
      }
      case StmtKind::SetBlock: {
        std::string captured;
        exec_body(s.body, scope, captured);
        Value v(std::move(captured));
        if (s.expr) {
          auto inner = std::make_shared<Scope>();
          inner->parent = scope;
          inner->vars["__block__"] = v;
          v = eval(*s.expr, inner);
        }
        scope->vars[s.targets[0]] = std::move(v);
        return Flow::Normal;
      }
      case StmtKind::Macro:
        scope->vars[s.attr] = make_macro(s, scope);
        return Flow::Normal;
      case StmtKind::CallBlock: {
        Value caller = make_macro(s, scope);
        CallArgs args = eval_args(*s.expr, scope);
        args.kwargs.emplace_back("caller", caller);
        Value fn = eval(*s.expr->object, scope);
        Value v = call(fn, args);
        append(out, v.str());
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        std::string captured;
        exec_body(s.body, scope, captured);
        auto inner = std::make_shared<Scope>();
        inner->parent = scope;
        inner->vars["__block__"] = Value(std::move(captured));
        append(out, eval(*s.expr, inner).str());
        return Flow::Normal;
      }
      case StmtKind::Break:
        return Flow::Break;
      case StmtKind::Continue:
        return Flow::Continue;
      case StmtKind::Generation:
        return exec_body(s.body, scope, out);
    }
  } catch (const LocatedError&) {
    throw;
  } catch (const UserError&) {
    throw;
  } catch (const InvalidInput& e) {
    throw LocatedError(std::string(e.what()) + " (line " + std::to_string(s.line) + ")");
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                        std::string& out) {
  if (s.recursive) throw Unsupported("recursive for loops are not supported");
  List items = iterate(eval(*s.expr, scope));
  if (s.filter) {
    List kept;
    for (auto& item : items) {
      count_iteration();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      assign(s.targets, item, *probe);
      if (eval(*s.filter, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    count_iteration();
    auto body_scope = std::make_shared<Scope>();
    body_scope->parent = scope;
    assign(s.targets, items[static_cast<size_t>(i)], *body_scope);
    Dict loop;
    loop.reserve(12);
    loop.emplace_back("index", Value(i + 1));
    loop.emplace_back("index0", Value(i));
    loop.emplace_back("revindex", Value(n - i));
    loop.emplace_back("revindex0", Value(n - i - 1));
    loop.emplace_back("first", Value(i == 0));
    loop.emplace_back("last", Value(i == n - 1));
    loop.emplace_back("length", Value(n));
    loop.emplace_back("depth", Value(1));
    loop.emplace_back("depth0", Value(0));
    loop.emplace_back("previtem", i > 0 ? items[static_cast<size_t>(i - 1)]
                                        : Value::undefined("there is no previous item"));
    loop.emplace_back("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)]
                                            : Value::undefined("there is no next item"));
    loop.emplace_back("cycle", Value::function("loop.cycle", [i](Interpreter&, CallArgs& args) {
                        if (args.args.empty()) throw InvalidInput("no items for cycling given");
                        return args.args[static_cast<size_t>(i) % args.args.size()];
                      }));
    body_scope->vars["loop"] = Value::namespace_(std::move(loop));
    Flow f = exec_body(s.body, body_scope, out);
    if (f == Flow::Break) break;
  }
  if (n == 0) exec_body(s.else_body, scope, out);
  return Flow::Normal;
}

Value Interpreter::make_macro(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  const Stmt* def = &s;
  std::shared_ptr<Scope> closure = scope;
  std::string name = s.kind == StmtKind::Macro ? s.attr : "caller";
  return Value::function(name, [def, closure, name](Interpreter& interp, CallArgs& args) {
    auto frame = std::make_shared<Scope>();
    frame->parent = closure;
    List varargs;
    for (size_t i = 0; i < args.args.size(); ++i) {
      if (i < def->params.size()) {
        frame->vars[def->params[i]] = args.args[i];
      } else {
        varargs.push_back(args.args[i]);
      }
    }
    Dict kwargs;
    for (auto& [k, v] : args.kwargs) {
      bool is_param = false;
      for (size_t i = 0; i < def->params.size(); ++i) {
        if (def->params[i] == k) {
          if (i < args.args.size()) {
            throw InvalidInput("macro '" + name + "' got multiple values for argument '" + k + "'");
          }
          frame->vars[k] = v;
          is_param = true;
        }
      }
      if (!is_param) {
        if (k == "caller") {
          frame->vars["caller"] = v;
        } else {
          kwargs.emplace_back(Value(k), v);
        }
      }
    }
    for (size_t i = 0; i < def->params.size(); ++i) {
      if (frame->vars.count(def->params[i])) continue;
      frame->vars[def->params[i]] =
          def->defaults[i]
              ? interp.eval(*def->defaults[i], frame)
              : Value::undefined("parameter '" + def->params[i] + "' was not provided");
    }
    frame->vars["varargs"] = Value::tuple(std::move(varargs));
    frame->vars["kwargs"] = Value(std::move(kwargs));
    std::string out;
    interp.render(def->body, frame, out);
    return Value(std::move(out));
  });
}

void Interpreter::assign(const std::vector<std::string>& targets, const Value& v, Scope& scope) {
  if (targets.size() == 1) {
    scope.vars[targets[0]] = v;
    return;
  }
  List items = iterate(v);
  if (items.size() != targets.size()) {
    throw InvalidInput(
        items.size() < targets.size()
            ? "not enough values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                  std::to_string(items.size()) + ")"
            : "too many values to unpack (expected " + std::to_string(targets.size()) + ")");
  }
  for (size_t i = 0; i < targets.size(); ++i) scope.vars[targets[i]] = items[i];
}

Value Interpreter::lookup(const std::string& name, const Scope& scope) const {
  for (const Scope* s = &scope; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::call(const Value& fn, CallArgs& args) {
  if (!fn.is_function()) {
    if (fn.is_undefined()) fail_undefined(fn);
    throw InvalidInput("'" + fn.type_name() + "' is not callable");
  }
  if (++call_depth_ > limits_.max_call_depth) {
    --call_depth_;
    throw InvalidInput("template calls nested deeper than " +
                       std::to_string(limits_.max_call_depth) + " levels");
  }
  struct Restore {
    int& depth;
    ~Restore() { --depth; }
  } restore{call_depth_};
  return fn.as_function()(*this, args);
}

CallArgs Interpreter::eval_args(const Expr& e, const std::shared_ptr<Scope>& scope) {
  CallArgs args;
  args.args.reserve(e.items.size());
  for (const auto& a : e.items) args.args.push_back(eval(*a, scope));
  for (const auto& [k, a] : e.kwargs) args.kwargs.emplace_back(k, eval(*a, scope));
  return args;
}

Value Interpreter::eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope) {
  const std::string& op = e.name;
  if (op == "and") {
    Value a = eval(*e.a, scope);
    return a.truthy() ? eval(*e.b, scope) : a;
  }
  if (op == "or") {
    Value a = eval(*e.a, scope);
    return a.truthy() ? a : eval(*e.b, scope);
  }
  Value a = eval(*e.a, scope);
  Value b = eval(*e.b, scope);
  if (op == "~") return Value(a.str() + b.str());
  return arithmetic(op, a, b, limits_);
}

Value Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  switch (e.kind) {
    case ExprKind::Literal:
      return e.value;
    case ExprKind::Name:
      return lookup(e.name, *scope);
    case ExprKind::List:
    case ExprKind::Tuple: {
      List items;
      items.reserve(e.items.size());
      for (const auto& item : e.items) items.push_back(eval(*item, scope));
      return e.kind == ExprKind::Tuple ? Value::tuple(std::move(items)) : Value(std::move(items));
    }
    case ExprKind::Dict: {
      Dict dict;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        if (k.is_list() || k.is_dict() || k.is_namespace() || k.is_undefined()) {
          if (k.is_undefined()) fail_undefined(k);
          throw InvalidInput("unhashable type: '" + short_type(k) + "'");
        }
        Value v = eval(*e.items[i + 1], scope);
        bool replaced = false;
        for (auto& [key, old] : dict) {
          if (py_equal(key, k)) {
            old = v;
            replaced = true;
          }
        }
        if (!replaced) dict.emplace_back(std::move(k), std::move(v));
      }
      return Value(std::move(dict));
    }
    case ExprKind::GetAttr:
      return get_attr(eval(*e.object, scope), e.name);
    case ExprKind::GetItem:
      return get_item(eval(*e.object, scope), eval(*e.a, scope));
    case ExprKind::Slice: {
      Value obj = eval(*e.object, scope);
      Value start = e.a ? eval(*e.a, scope) : Value::none();
      Value stop = e.b ? eval(*e.b, scope) : Value::none();
      Value step = e.c ? eval(*e.c, scope) : Value::none();
      return get_slice(obj, start, stop, step);
    }
    case ExprKind::Call: {
      Value fn = eval(*e.object, scope);
      CallArgs args = eval_args(e, scope);
      return call(fn, args);
    }
    case ExprKind::Filter: {
      Value subject = e.object ? eval(*e.object, scope) : lookup("__block__", *scope);
      CallArgs args = eval_args(e, scope);
      return apply_filter(*this, e.name, subject, args);
    }
    case ExprKind::Test: {
      // `x is defined` must not fail on an undefined x, so evaluate the subject as is.
      Value subject = eval(*e.object, scope);
      CallArgs args = eval_args(e, scope);
      bool r = apply_test(*this, e.name, subject, args);
      return Value(e.negated ? !r : r);
    }
    case ExprKind::Unary: {
      Value v = eval(*e.object, scope);
      if (e.name == "not") return Value(!v.truthy());
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) {
        throw InvalidInput("bad operand type for unary " + e.name + ": '" + short_type(v) + "'");
      }
      if (e.name == "-") return v.is_float() ? Value(-v.as_float()) : Value(-v.as_int());
      return v.is_float() ? Value(v.as_float()) : Value(v.as_int());
    }
    case ExprKind::Binary:
      return eval_binary(e, scope);
    case ExprKind::Compare: {
      Value left = eval(*e.items[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i + 1], scope);
        if (!compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::Cond:
      if (eval(*e.b, scope).truthy()) return eval(*e.a, scope);
      return e.c ? eval(*e.c, scope) : Value::undefined("the inline if-expression had no else");
  }
  throw InternalError("unknown expression kind");
}

}  // namespace mofa::text::jinja
