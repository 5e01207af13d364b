#pragma once
// The value model of the Jinja engine: Python's objects as jinja2 sees them inside transformers'
// chat templates (undefined, None, bool, int, float, str, list, dict, namespace, callables), with
// Python's printing rules so that rendered prompts match byte for byte.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mofa::text::jinja {

class Value;
struct CallArgs;
class Interpreter;

using List = std::vector<Value>;
// Insertion-ordered map, like a Python dict; keys are str (always from JSON) or another hashable
// scalar (int, float, bool, None) from a dict literal.
using Dict = std::vector<std::pair<Value, Value>>;

// A callable (global function, bound method, macro); receives the interpreter for re-entry.
using Function = std::function<Value(Interpreter& interp, CallArgs& args)>;

// json.dumps options: separators, indent (None when !indent) and sort_keys.
struct JsonStyle {
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool indent = false;
  std::string indent_str;
  bool sort_keys = false;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

  Value() = default;
  static Value undefined(std::string hint = {});
  static Value none();
  Value(bool b);
  Value(int64_t i);
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double f);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  Value(List l);
  Value(Dict d);
  // A Python tuple: a list that prints as (a, b) and never equals a list.
  static Value tuple(List items);
  static Value namespace_(Dict attrs);
  static Value function(std::string name, Function fn);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  // Python's numbers.Number: int, float and bool.
  bool is_number() const {
    return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool;
  }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }
  double as_float() const;
  const std::string& as_string() const { return s_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  // Namespaces are the one mutable object a sandboxed template may change.
  Dict& namespace_attrs() const { return *dict_; }
  const Function& as_function() const { return *fn_; }
  const std::string& function_name() const { return s_; }
  // What was missing when this undefined was made ("'dict object' has no attribute 'x'").
  const std::string& undefined_hint() const { return s_; }

  // Python truthiness.
  bool truthy() const;
  // Python's type name as jinja2 errors print it ("dict object", "str object").
  std::string type_name() const;
  // str(x) as jinja2 prints it ({{ x }}, ~, |string).
  std::string str() const;
  // repr(x) as Python prints it inside containers.
  std::string repr() const;
  // json.dumps(x, ensure_ascii=False, ...) as transformers' tojson filter calls it.
  std::string to_json(const JsonStyle& style) const;

  // Dict lookup by a str key (nullptr when absent or this is not a dict/namespace).
  const Value* find(std::string_view key) const;
  // Dict lookup by any key with Python's equality (1, 1.0 and True are the same key).
  const Value* find_key(const Value& key) const;

 private:
  Kind kind_ = Kind::Undefined;
  bool tuple_ = false;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Python ==, for jinja2's ==, in, unique, equalto.
bool py_equal(const Value& a, const Value& b);
// Python <, throwing InvalidInput where Python raises TypeError.
bool py_less(const Value& a, const Value& b);
// Python's float repr ("1.0", "1e-05", "1e+16").
std::string py_float_repr(double f);
// Python's repr of a str (quotes chosen as Python does).
std::string py_str_repr(std::string_view s);

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  // The i-th positional or the named keyword argument, or nullptr.
  const Value* get(size_t i, std::string_view name) const;
};

}  // namespace mofa::text::jinja
