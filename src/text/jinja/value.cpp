#include "text/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "text/jinja/utf8.h"

namespace mofa::text::jinja {
namespace {

// Nested containers deeper than this are refused: printing them would exhaust the stack.
constexpr int kMaxDepth = 512;

void check_depth(int depth) {
  if (depth > kMaxDepth) {
    throw InvalidInput("value nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
}

void append_repr(std::string& out, const Value& v, int depth);

void append_str(std::string& out, const Value& v, int depth) {
  check_depth(depth);
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return;
    case Value::Kind::None:
      out += "None";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float:
      out += py_float_repr(v.as_float());
      return;
    case Value::Kind::String:
      out += v.as_string();
      return;
    case Value::Kind::List: {
      out += v.is_tuple() ? '(' : '[';
      bool first = true;
      for (const auto& item : v.as_list()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, item, depth + 1);
      }
      if (v.is_tuple() && v.as_list().size() == 1) out += ',';
      out += v.is_tuple() ? ')' : ']';
      return;
    }
    case Value::Kind::Dict:
    case Value::Kind::Namespace: {
      if (v.is_namespace()) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.as_dict()) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, depth + 1);
        out += ": ";
        append_repr(out, item, depth + 1);
      }
      out += '}';
      if (v.is_namespace()) out += '>';
      return;
    }
    case Value::Kind::Function:
      out += "<function " + v.function_name() + ">";
      return;
  }
}

void append_repr(std::string& out, const Value& v, int depth) {
  if (v.is_string()) {
    out += py_str_repr(v.as_string());
  } else if (v.is_undefined()) {
    out += "Undefined";
  } else {
    append_str(out, v, depth);
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// json.dumps turns non-str keys into strings: 1 -> "1", True -> "true", None -> "null".
void append_json_key(std::string& out, const Value& key) {
  if (key.is_string()) {
    append_json_string(out, key.as_string());
  } else if (key.is_bool()) {
    out += key.as_bool() ? "\"true\"" : "\"false\"";
  } else if (key.is_none()) {
    out += "\"null\"";
  } else if (key.is_int()) {
    out += '"' + std::to_string(key.as_int()) + '"';
  } else if (key.is_float()) {
    out += '"' + py_float_repr(key.as_float()) + '"';
  } else {
    throw InvalidInput("keys must be str, int, float, bool or None, not " + key.type_name());
  }
}

void append_newline_indent(std::string& out, const JsonStyle& style, int level) {
  out += '\n';
  for (int i = 0; i < level; ++i) out += style.indent_str;
}

void append_json(std::string& out, const Value& v, const JsonStyle& style, int level) {
  check_depth(level);
  switch (v.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float: {
      double f = v.as_float();
      if (std::isnan(f)) {
        out += "NaN";
      } else if (std::isinf(f)) {
        out += f > 0 ? "Infinity" : "-Infinity";
      } else {
        out += py_float_repr(f);
      }
      return;
    }
    case Value::Kind::String:
      append_json_string(out, v.as_string());
      return;
    case Value::Kind::List: {
      const auto& list = v.as_list();
      if (list.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < list.size(); ++i) {
        if (i) out += style.item_sep;
        if (style.indent) append_newline_indent(out, style, level + 1);
        append_json(out, list[i], style, level + 1);
      }
      if (style.indent) append_newline_indent(out, style, level);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      const auto& dict = v.as_dict();
      if (dict.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      items.reserve(dict.size());
      for (const auto& kv : dict) items.push_back(&kv);
      if (style.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](const auto* a, const auto* b) { return py_less(a->first, b->first); });
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_sep;
        if (style.indent) append_newline_indent(out, style, level + 1);
        append_json_key(out, items[i]->first);
        out += style.key_sep;
        append_json(out, items[i]->second, style, level + 1);
      }
      if (style.indent) append_newline_indent(out, style, level);
      out += '}';
      return;
    }
    case Value::Kind::Undefined:
      throw InvalidInput("Object of type Undefined is not JSON serializable");
    case Value::Kind::Namespace:
      throw InvalidInput("Object of type Namespace is not JSON serializable");
    case Value::Kind::Function:
      throw InvalidInput("Object of type function is not JSON serializable");
  }
}

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  check_depth(depth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List list;
      list.reserve(j.size());
      for (const auto& item : j) list.push_back(from_json_at(item, depth + 1));
      return Value(std::move(list));
    }
    case nlohmann::ordered_json::value_t::object: {
      Dict dict;
      dict.reserve(j.size());
      for (const auto& [k, item] : j.items())
        dict.emplace_back(Value(k), from_json_at(item, depth + 1));
      return Value(std::move(dict));
    }
    default:
      throw InvalidInput("JSON value of type '" + std::string(j.type_name()) +
                         "' has no template equivalent");
  }
}

int kind_rank(const Value& v) {
  return v.is_number() ? 0 : static_cast<int>(v.kind()) + 1;
}

}  // namespace

Value Value::undefined(std::string hint) {
  Value v;
  v.s_ = std::move(hint);
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value::Value(bool b) : kind_(Kind::Bool), b_(b) {}
Value::Value(int64_t i) : kind_(Kind::Int), i_(i) {}
Value::Value(double f) : kind_(Kind::Float), f_(f) {}
Value::Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}
Value::Value(List l) : kind_(Kind::List), list_(std::make_shared<List>(std::move(l))) {}
Value::Value(Dict d) : kind_(Kind::Dict), dict_(std::make_shared<Dict>(std::move(d))) {}

Value Value::tuple(List items) {
  Value v(std::move(items));
  v.tuple_ = true;
  return v;
}

Value Value::namespace_(Dict attrs) {
  Value v(std::move(attrs));
  v.kind_ = Kind::Namespace;
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.s_ = std::move(name);
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
  return from_json_at(j, 0);
}

double Value::as_float() const {
  switch (kind_) {
    case Kind::Float:
      return f_;
    case Kind::Int:
      return static_cast<double>(i_);
    case Kind::Bool:
      return b_ ? 1.0 : 0.0;
    default:
      return 0.0;
  }
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return b_;
    case Kind::Int:
      return i_ != 0;
    case Kind::Float:
      return f_ != 0.0;
    case Kind::String:
      return !s_.empty();
    case Kind::List:
      return !list_->empty();
    case Kind::Dict:
      return !dict_->empty();
    case Kind::Namespace:
    case Kind::Function:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool object";
    case Kind::Int:
      return "int object";
    case Kind::Float:
      return "float object";
    case Kind::String:
      return "str object";
    case Kind::List:
      return "list object";
    case Kind::Dict:
      return "dict object";
    case Kind::Namespace:
      return "Namespace object";
    case Kind::Function:
      return "function object";
  }
  return "object";
}

std::string Value::str() const {
  if (kind_ == Kind::String) return s_;
  std::string out;
  append_str(out, *this, 0);
  return out;
}

std::string Value::repr() const {
  std::string out;
  append_repr(out, *this, 0);
  return out;
}

std::string Value::to_json(const JsonStyle& style) const {
  std::string out;
  append_json(out, *this, style, 0);
  return out;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Dict && kind_ != Kind::Namespace) return nullptr;
  for (const auto& [k, v] : *dict_) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* Value::find_key(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  if (kind_ != Kind::Dict && kind_ != Kind::Namespace) return nullptr;
  for (const auto& [k, v] : *dict_) {
    if (py_equal(k, key)) return &v;
  }
  return nullptr;
}

bool py_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind() || a.is_tuple() != b.is_tuple()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None:
      return true;
    case Value::Kind::String:
      return a.as_string() == b.as_string();
    case Value::Kind::List: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!py_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::Dict: {
      if (a.as_dict().size() != b.as_dict().size()) return false;
      for (const auto& [k, v] : a.as_dict()) {
        const Value* other = b.find_key(k);
        if (!other || !py_equal(v, *other)) return false;
      }
      return true;
    }
    case Value::Kind::Namespace:
      return &a.namespace_attrs() == &b.namespace_attrs();
    case Value::Kind::Function:
      return &a.as_function() == &b.as_function();
    default:
      return false;
  }
}

bool py_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (kind_rank(a) == kind_rank(b)) {
    if (a.is_string()) return a.as_string() < b.as_string();
    if (a.is_list()) {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (!py_equal(x[i], y[i])) return py_less(x[i], y[i]);
      }
      return x.size() < y.size();
    }
  }
  auto name = [](const Value& v) {
    std::string t = v.type_name();
    if (auto sp = t.find(' '); sp != std::string::npos) t.resize(sp);
    return t == "None" ? std::string("NoneType") : t;
  };
  throw InvalidInput("'<' not supported between instances of '" + name(a) + "' and '" + name(b) +
                     "'");
}

std::string py_float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  if (f == 0.0) return std::signbit(f) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci is "[-]d[.ddd]e[+-]xx": split into sign, digits and decimal exponent.
  std::string out;
  size_t pos = 0;
  if (sci[0] == '-') {
    out += '-';
    pos = 1;
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = pos; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  int exp = std::stoi(sci.substr(e + 1));
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(exp) + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exp) + 1);
      out += '.';
      out += digits.substr(static_cast<size_t>(exp) + 1);
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  out += ebuf;
  return out;
}

std::string py_str_repr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : utf8_decode(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && !py_isprintable(cp))) {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      utf8_append(out, cp);
    }
  }
  out += quote;
  return out;
}

const Value* CallArgs::get(size_t i, std::string_view name) const {
  if (i < args.size()) return &args[i];
  for (const auto& [k, v] : kwargs) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace mofa::text::jinja
