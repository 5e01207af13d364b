#include "text/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "text/jinja/call_args.h"
#include "text/jinja/interpreter.h"
#include "text/jinja/python_str.h"
#include "text/jinja/utf8.h"

namespace mofa::text::jinja {
namespace {

using Test = bool (*)(Interpreter&, const Value&, CallArgs&);

const Value& test_arg(const CallArgs& a, const char* test) {
  if (a.args.empty()) throw InvalidInput(std::string("test '") + test + "' needs an argument");
  return a.args[0];
}

const std::unordered_map<std::string, Test>& tests() {
  static const std::unordered_map<std::string, Test> kTests = {
      {"defined", [](Interpreter&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](Interpreter&, const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](Interpreter&, const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool(); }},
      {"true", [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false",
       [](Interpreter&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"integer", [](Interpreter&, const Value& v, CallArgs&) { return v.is_int(); }},
      {"float", [](Interpreter&, const Value& v, CallArgs&) { return v.is_float(); }},
      {"number", [](Interpreter&, const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](Interpreter&, const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](Interpreter&, const Value& v, CallArgs&) { return v.is_dict(); }},
      {"iterable",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"sequence",
       [](Interpreter&, const Value& v, CallArgs&) {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"callable", [](Interpreter&, const Value& v, CallArgs&) { return v.is_function(); }},
      {"odd", [](Interpreter&, const Value& v,
                 CallArgs&) { return v.is_number() && v.as_int() % 2 != 0; }},
      {"even", [](Interpreter&, const Value& v,
                  CallArgs&) { return v.is_number() && v.as_int() % 2 == 0; }},
      {"divisibleby",
       [](Interpreter&, const Value& v, CallArgs& a) {
         int64_t n = test_arg(a, "divisibleby").as_int();
         if (n == 0) throw InvalidInput("integer division or modulo by zero");
         return v.as_int() % n == 0;
       }},
      {"lower",
       [](Interpreter&, const Value& v, CallArgs&) { return v.str() == map_case(v.str(), false); }},
      {"upper",
       [](Interpreter&, const Value& v, CallArgs&) { return v.str() == map_case(v.str(), true); }},
      {"in",
       [](Interpreter&, const Value& v, CallArgs& a) { return contains(test_arg(a, "in"), v); }},
      {"sameas",
       [](Interpreter&, const Value& v, CallArgs& a) {
         const Value& o = test_arg(a, "sameas");
         if (v.kind() != o.kind()) return false;
         if (v.is_none() || v.is_bool()) return py_equal(v, o);
         if (v.is_list()) return &v.as_list() == &o.as_list();
         if (v.is_dict() || v.is_namespace()) return &v.as_dict() == &o.as_dict();
         return py_equal(v, o);
       }},
      {"escaped", [](Interpreter&, const Value&, CallArgs&) { return false; }},
      {"filter", [](Interpreter&, const Value& v,
                    CallArgs&) { return v.is_string() && has_filter(v.as_string()); }},
      {"eq",
       [](Interpreter&, const Value& v, CallArgs& a) { return py_equal(v, test_arg(a, "eq")); }},
      {"equalto", [](Interpreter&, const Value& v,
                     CallArgs& a) { return py_equal(v, test_arg(a, "equalto")); }},
      {"==",
       [](Interpreter&, const Value& v, CallArgs& a) { return py_equal(v, test_arg(a, "==")); }},
      {"ne",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_equal(v, test_arg(a, "ne")); }},
      {"!=",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_equal(v, test_arg(a, "!=")); }},
      {"lt",
       [](Interpreter&, const Value& v, CallArgs& a) { return py_less(v, test_arg(a, "lt")); }},
      {"lessthan", [](Interpreter&, const Value& v,
                      CallArgs& a) { return py_less(v, test_arg(a, "lessthan")); }},
      {"<", [](Interpreter&, const Value& v, CallArgs& a) { return py_less(v, test_arg(a, "<")); }},
      {"le",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_less(test_arg(a, "le"), v); }},
      {"<=",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_less(test_arg(a, "<="), v); }},
      {"gt",
       [](Interpreter&, const Value& v, CallArgs& a) { return py_less(test_arg(a, "gt"), v); }},
      {"greaterthan", [](Interpreter&, const Value& v,
                         CallArgs& a) { return py_less(test_arg(a, "greaterthan"), v); }},
      {">", [](Interpreter&, const Value& v, CallArgs& a) { return py_less(test_arg(a, ">"), v); }},
      {"ge",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_less(v, test_arg(a, "ge")); }},
      {">=",
       [](Interpreter&, const Value& v, CallArgs& a) { return !py_less(v, test_arg(a, ">=")); }},
  };
  return kTests;
}

int64_t normalize_index(int64_t i, int64_t n) {
  return i < 0 ? i + n : i;
}

}  // namespace

[[noreturn]] void fail_undefined(const Value& v) {
  throw InvalidInput(v.undefined_hint().empty() ? std::string("value is undefined")
                                                : v.undefined_hint());
}

bool apply_test(Interpreter& interp, const std::string& name, const Value& value, CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw InvalidInput("no test named '" + name + "'");
  return it->second(interp, value, args);
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_undefined(obj);
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
      if (const Value* v = obj.find_key(key)) return *v;
      if (key.is_string() && obj.is_dict()) return get_attr(obj, key.as_string());
      return Value::undefined("'" + obj.type_name() + "' has no attribute " + key.repr());
    case Value::Kind::List:
      if (key.is_int() || key.is_bool()) {
        int64_t n = static_cast<int64_t>(obj.as_list().size());
        int64_t i = normalize_index(key.as_int(), n);
        if (i >= 0 && i < n) return obj.as_list()[static_cast<size_t>(i)];
        return Value::undefined("list object has no element " + key.str());
      }
      if (key.is_string()) return get_attr(obj, key.as_string());
      return Value::undefined("list indices must be integers");
    case Value::Kind::String:
      if (key.is_int() || key.is_bool()) {
        std::u32string cps = utf8_decode(obj.as_string());
        int64_t n = static_cast<int64_t>(cps.size());
        int64_t i = normalize_index(key.as_int(), n);
        if (i >= 0 && i < n)
          return Value(utf8_encode(std::u32string_view(&cps[static_cast<size_t>(i)], 1)));
        return Value::undefined("str object has no element " + key.str());
      }
      if (key.is_string()) return get_attr(obj, key.as_string());
      return Value::undefined("string indices must be integers");
    default:
      return Value::undefined("'" + obj.type_name() + "' has no attribute " + key.repr());
  }
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) fail_undefined(obj);
  auto as_opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) {
      throw InvalidInput(std::string("slice ") + what + " must be an integer or None");
    }
    return v.as_int();
  };
  std::optional<int64_t> b = as_opt(start, "start");
  std::optional<int64_t> e = as_opt(stop, "stop");
  int64_t st = as_opt(step, "step").value_or(1);
  if (st == 0) throw InvalidInput("slice step cannot be zero");
  auto pick = [&](int64_t n, auto&& take) {
    auto clamp = [&](std::optional<int64_t> x, int64_t dflt) {
      if (!x) return dflt;
      int64_t v = *x < 0 ? *x + n : *x;
      if (st > 0) return std::clamp<int64_t>(v, 0, n);
      return std::clamp<int64_t>(v, -1, n - 1);
    };
    int64_t lo = clamp(b, st > 0 ? 0 : n - 1);
    int64_t hi = clamp(e, st > 0 ? n : -1);
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) take(static_cast<size_t>(i));
  };
  if (obj.is_string()) {
    std::u32string cps = utf8_decode(obj.as_string());
    std::u32string out;
    pick(static_cast<int64_t>(cps.size()), [&](size_t i) { out.push_back(cps[i]); });
    return Value(utf8_encode(out));
  }
  if (obj.is_list()) {
    const List& items = obj.as_list();
    List out;
    pick(static_cast<int64_t>(items.size()), [&](size_t i) { out.push_back(items[i]); });
    return Value(std::move(out));
  }
  throw InvalidInput("'" + obj.type_name() + "' is not subscriptable");
}

bool contains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Value::Kind::String:
      if (!needle.is_string()) {
        if (needle.is_undefined()) fail_undefined(needle);
        throw InvalidInput("'in <string>' requires string as left operand, not " + py_type(needle));
      }
      return haystack.as_string().find(needle.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& item : haystack.as_list()) {
        if (py_equal(item, needle)) return true;
      }
      return false;
    case Value::Kind::Dict:
    case Value::Kind::Namespace:
      return haystack.find_key(needle) != nullptr;
    case Value::Kind::Undefined:
      return false;
    default:
      throw InvalidInput("argument of type '" + py_type(haystack) + "' is not iterable");
  }
}

List iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::List:
      return v.as_list();
    case Value::Kind::Dict: {
      List keys;
      keys.reserve(v.as_dict().size());
      for (const auto& kv : v.as_dict()) keys.emplace_back(kv.first);
      return keys;
    }
    case Value::Kind::String: {
      List chars;
      for (char32_t c : utf8_decode(v.as_string()))
        chars.emplace_back(utf8_encode(std::u32string(1, c)));
      return chars;
    }
    case Value::Kind::Undefined:
      return {};
    default:
      throw InvalidInput("'" + v.type_name() + "' is not iterable");
  }
}

Dict builtin_globals() {
  Dict g;
  g.emplace_back(
      "range", Value::function("range", [](Interpreter& interp, CallArgs& a) {
        if (a.args.empty() || a.args.size() > 3)
          throw InvalidInput("range expected 1 to 3 arguments");
        for (const auto& x : a.args) {
          if (!x.is_int() && !x.is_bool()) {
            throw InvalidInput("'" + x.type_name() +
                               "' object cannot be interpreted as an integer");
          }
        }
        int64_t start = a.args.size() == 1 ? 0 : a.args[0].as_int();
        int64_t stop = a.args.size() == 1 ? a.args[0].as_int() : a.args[1].as_int();
        int64_t step = a.args.size() == 3 ? a.args[2].as_int() : 1;
        if (step == 0) throw InvalidInput("range() arg 3 must not be zero");
        int64_t count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                 : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (count > interp.limits().max_range) {
          throw InvalidInput("range of " + std::to_string(count) + " items exceeds the limit of " +
                             std::to_string(interp.limits().max_range));
        }
        List out;
        out.reserve(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) out.emplace_back(start + i * step);
        return Value(std::move(out));
      }));
  g.emplace_back("namespace", Value::function("namespace", [](Interpreter&, CallArgs& a) {
                   Dict attrs;
                   for (const auto& x : a.args) {
                     if (!x.is_dict())
                       throw InvalidInput("namespace() positional argument must be a mapping");
                     for (const auto& kv : x.as_dict()) attrs.push_back(kv);
                   }
                   for (const auto& [k, v] : a.kwargs) attrs.emplace_back(Value(k), v);
                   return Value::namespace_(std::move(attrs));
                 }));
  g.emplace_back("dict", Value::function("dict", [](Interpreter&, CallArgs& a) {
                   Dict d;
                   for (const auto& x : a.args) {
                     if (!x.is_dict())
                       throw InvalidInput("dict() positional argument must be a mapping");
                     for (const auto& kv : x.as_dict()) d.push_back(kv);
                   }
                   for (const auto& [k, v] : a.kwargs) d.emplace_back(Value(k), v);
                   return Value(std::move(d));
                 }));
  return g;
}

}  // namespace mofa::text::jinja
