// The Python methods of str, dict and list that jinja2's immutable sandbox lets a template call,
// and attribute lookup (which finds them).
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

Value string_method(const std::string& s, const std::string& name) {
  auto bind = [&](auto fn) {
    return Value::function("str." + name,
                           [s, fn](Interpreter&, CallArgs& args) { return fn(s, args); });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip";
    bool right = name != "lstrip";
    return bind([left, right](const std::string& str, CallArgs& a) {
      return Value(py_strip(str, a.get(0, "chars"), left, right));
    });
  }
  if (name == "split") {
    return bind([](const std::string& str, CallArgs& a) {
      return Value(py_split(str, a.get(0, "sep"), int_arg(a, 1, "maxsplit", -1)));
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool start = name == "startswith";
    return bind([start](const std::string& str, CallArgs& a) {
      const Value* affix = a.get(0, "prefix");
      if (!affix) throw InvalidInput("startswith/endswith takes at least 1 argument");
      return Value(starts_or_ends(str, *affix, start));
    });
  }
  if (name == "upper" || name == "lower") {
    bool upper = name == "upper";
    return bind([upper](const std::string& str, CallArgs&) { return Value(map_case(str, upper)); });
  }
  if (name == "title")
    return bind([](const std::string& str, CallArgs&) { return Value(py_title(str)); });
  if (name == "capitalize") {
    return bind([](const std::string& str, CallArgs&) { return Value(py_capitalize(str)); });
  }
  if (name == "replace") {
    return bind([](const std::string& str, CallArgs& a) {
      return Value(
          py_replace(str, str_arg(a, 0, "old"), str_arg(a, 1, "new"), int_arg(a, 2, "count", -1)));
    });
  }
  if (name == "find" || name == "rfind" || name == "count" || name == "index" || name == "rindex") {
    std::string op = name;
    return bind([op](const std::string& str, CallArgs& a) {
      std::string sub = str_arg(a, 0, "sub");
      if (op == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(str) + 1));
        int64_t n = 0;
        for (size_t p = str.find(sub); p != std::string::npos; p = str.find(sub, p + sub.size()))
          ++n;
        return Value(n);
      }
      size_t pos = (op == "find" || op == "index") ? str.find(sub) : str.rfind(sub);
      if (pos == std::string::npos) {
        if (op == "index" || op == "rindex") throw InvalidInput("substring not found");
        return Value(int64_t{-1});
      }
      return Value(static_cast<int64_t>(utf8_length(std::string_view(str).substr(0, pos))));
    });
  }
  if (name == "join") {
    return bind([](const std::string& str, CallArgs& a) {
      const Value* seq = a.get(0, "iterable");
      if (!seq) throw InvalidInput("join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const auto& item : iterate(*seq)) {
        if (!item.is_string()) {
          throw InvalidInput("sequence item: expected str instance, " + item.type_name() +
                             " found");
        }
        if (!first) out += str;
        first = false;
        out += item.as_string();
      }
      return Value(std::move(out));
    });
  }
  if (name == "format") {
    return bind([](const std::string& str, CallArgs& a) { return Value(py_format(str, a)); });
  }
  if (name == "splitlines") {
    return bind([](const std::string& str, CallArgs& a) {
      bool keep = bool_arg(a, 0, "keepends", false);
      List out;
      size_t start = 0;
      for (size_t i = 0; i < str.size(); ++i) {
        if (str[i] == '\n' || str[i] == '\r') {
          size_t end = i;
          if (str[i] == '\r' && i + 1 < str.size() && str[i + 1] == '\n') ++i;
          out.emplace_back(str.substr(start, (keep ? i + 1 : end) - start));
          start = i + 1;
        }
      }
      if (start < str.size()) out.emplace_back(str.substr(start));
      return Value(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" ||
      name == "isupper" || name == "islower") {
    std::string op = name;
    return bind([op](const std::string& str, CallArgs&) {
      std::u32string cps = utf8_decode(str);
      if (cps.empty()) return Value(false);
      bool cased = false;
      for (char32_t c : cps) {
        bool ok = true;
        if (op == "isdigit") ok = c >= '0' && c <= '9';
        if (op == "isspace") ok = py_isspace(c);
        if (op == "isalpha") ok = py_isalpha(c);
        if (op == "isalnum") ok = py_isalpha(c) || (c >= '0' && c <= '9');
        if (op == "isupper" || op == "islower") {
          bool up = py_lower(c) != c;
          bool low = py_upper(c) != c;
          if (up || low) cased = true;
          ok = op == "isupper" ? !low : !up;
        }
        if (!ok) return Value(false);
      }
      return Value(op == "isupper" || op == "islower" ? cased : true);
    });
  }
  return Value::undefined("'str object' has no attribute '" + name + "'");
}

bool is_mutating(const std::string& name) {
  static const std::unordered_set<std::string> kNames = {
      "append", "extend", "insert",     "pop",     "remove", "sort",   "reverse",
      "clear",  "update", "setdefault", "popitem", "add",    "discard"};
  return kNames.count(name) != 0;
}

Value dict_method(const Value& d, const std::string& name) {
  if (name == "items") {
    return Value::function("dict.items", [d](Interpreter&, CallArgs&) {
      List out;
      for (const auto& [k, v] : d.as_dict()) out.push_back(Value::tuple({k, v}));
      return Value(std::move(out));
    });
  }
  if (name == "keys") {
    return Value::function("dict.keys", [d](Interpreter&, CallArgs&) {
      List out;
      for (const auto& kv : d.as_dict()) out.emplace_back(kv.first);
      return Value(std::move(out));
    });
  }
  if (name == "values") {
    return Value::function("dict.values", [d](Interpreter&, CallArgs&) {
      List out;
      for (const auto& kv : d.as_dict()) out.push_back(kv.second);
      return Value(std::move(out));
    });
  }
  if (name == "get") {
    return Value::function("dict.get", [d](Interpreter&, CallArgs& a) {
      const Value* key = a.get(0, "key");
      if (!key) throw InvalidInput("get expected at least 1 argument, got 0");
      if (const Value* v = d.find_key(*key)) return *v;
      const Value* fallback = a.get(1, "default");
      return fallback ? *fallback : Value::none();
    });
  }
  if (name == "copy") {
    return Value::function("dict.copy",
                           [d](Interpreter&, CallArgs&) { return Value(d.as_dict()); });
  }
  return Value::undefined();
}

Value list_method(const Value& l, const std::string& name) {
  if (name == "index" || name == "count") {
    bool count = name == "count";
    return Value::function("list." + name, [l, count](Interpreter&, CallArgs& a) {
      const Value* x = a.get(0, "value");
      if (!x) throw InvalidInput("list method takes exactly one argument");
      int64_t n = 0;
      const auto& items = l.as_list();
      for (size_t i = 0; i < items.size(); ++i) {
        if (py_equal(items[i], *x)) {
          if (!count) return Value(static_cast<int64_t>(i));
          ++n;
        }
      }
      if (!count) throw InvalidInput(x->repr() + " is not in list");
      return Value(n);
    });
  }
  return Value::undefined();
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::Undefined:
      fail_undefined(obj);
    case Value::Kind::Dict: {
      if (is_mutating(name)) {
        throw InvalidInput("access to attribute '" + name + "' of 'dict' object is unsafe.");
      }
      Value m = dict_method(obj, name);
      if (!m.is_undefined()) return m;
      if (const Value* v = obj.find(name)) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::Namespace:
      if (const Value* v = obj.find(name)) return *v;
      return Value::undefined("'" + obj.type_name() + "' has no attribute '" + name + "'");
    case Value::Kind::String:
      return string_method(obj.as_string(), name);
    case Value::Kind::List: {
      if (is_mutating(name)) {
        throw InvalidInput("access to attribute '" + name + "' of 'list' object is unsafe.");
      }
      Value m = list_method(obj, name);
      if (!m.is_undefined()) return m;
      return Value::undefined("'list object' has no attribute '" + name + "'");
    }
    default:
      return Value::undefined("'" + obj.type_name() + "' has no attribute '" + name + "'");
  }
}

}  // namespace mofa::text::jinja
