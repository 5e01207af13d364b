// jinja2's built-in filters, with transformers' tojson.
#include "text/jinja/builtins.h"

#include <algorithm>
#include <charconv>
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

using Filter = Value (*)(Interpreter&, const Value&, CallArgs&);

Value attribute_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) {
      cur = get_item(cur, Value(static_cast<int64_t>(std::stoll(part))));
    } else {
      cur = get_item(cur, Value(part));
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// A sort key: lowercased strings unless case_sensitive, as jinja2's ignore_case does.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(map_case(v.as_string(), false));
  return v;
}

Value filter_length(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_string()) return Value(static_cast<int64_t>(utf8_length(v.as_string())));
  if (v.is_list()) return Value(static_cast<int64_t>(v.as_list().size()));
  if (v.is_dict()) return Value(static_cast<int64_t>(v.as_dict().size()));
  if (v.is_undefined()) return Value(int64_t{0});
  throw InvalidInput("object of type '" + py_type(v) + "' has no len()");
}

Value filter_tojson(Interpreter&, const Value& v, CallArgs& a) {
  JsonStyle style;
  if (const Value* indent = a.get(0, "indent"); indent && !indent->is_none()) {
    style.indent = true;
    style.item_sep = ",";
    if (indent->is_string()) {
      style.indent_str = indent->as_string();
    } else {
      style.indent_str.assign(static_cast<size_t>(std::max<int64_t>(0, indent->as_int())), ' ');
    }
  }
  if (const Value* seps = a.get(2, "separators"); seps && !seps->is_none()) {
    if (!seps->is_list() || seps->as_list().size() != 2 || !seps->as_list()[0].is_string() ||
        !seps->as_list()[1].is_string()) {
      throw InvalidInput("tojson separators must be a pair of strings");
    }
    style.item_sep = seps->as_list()[0].as_string();
    style.key_sep = seps->as_list()[1].as_string();
  }
  style.sort_keys = bool_arg(a, 3, "sort_keys", false);
  if (const Value* ea = a.get(1, "ensure_ascii"); ea && ea->truthy()) {
    throw Unsupported("tojson(ensure_ascii=True) is not supported");
  }
  return Value(v.to_json(style));
}

Value filter_default(Interpreter&, const Value& v, CallArgs& a) {
  static const Value kEmpty("");
  const Value& fallback = arg_or(a, 0, "default_value", kEmpty);
  bool boolean = bool_arg(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
  return v;
}

Value filter_join(Interpreter&, const Value& v, CallArgs& a) {
  static const Value kEmpty("");
  const Value& sep = arg_or(a, 0, "d", kEmpty);
  const Value* attribute = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep.str();
    first = false;
    out +=
        (attribute && !attribute->is_none() ? attribute_path(item, attribute->str()) : item).str();
  }
  return Value(std::move(out));
}

Value filter_first(Interpreter&, const Value& v, CallArgs&) {
  List items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value filter_last(Interpreter&, const Value& v, CallArgs&) {
  List items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value filter_list(Interpreter&, const Value& v, CallArgs&) {
  return Value(iterate(v));
}

Value filter_string(Interpreter&, const Value& v, CallArgs&) {
  return Value(v.str());
}

Value filter_upper(Interpreter&, const Value& v, CallArgs&) {
  return Value(map_case(v.str(), true));
}
Value filter_lower(Interpreter&, const Value& v, CallArgs&) {
  return Value(map_case(v.str(), false));
}
Value filter_title(Interpreter&, const Value& v, CallArgs&) {
  return Value(jinja_title(v.str()));
}
Value filter_capitalize(Interpreter&, const Value& v, CallArgs&) {
  return Value(py_capitalize(v.str()));
}

Value filter_trim(Interpreter&, const Value& v, CallArgs& a) {
  return Value(py_strip(v.str(), a.get(0, "chars"), true, true));
}

Value filter_replace(Interpreter&, const Value& v, CallArgs& a) {
  return Value(py_replace(v.str(), arg_or(a, 0, "old", Value("")).str(),
                          arg_or(a, 1, "new", Value("")).str(), int_arg(a, 2, "count", -1)));
}

Value filter_safe(Interpreter&, const Value& v, CallArgs&) {
  return v;
}

Value filter_escape(Interpreter&, const Value& v, CallArgs&) {
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return Value(std::move(out));
}

// Python's float(str): decimal or scientific notation, inf and nan; no hex, unlike strtod.
std::optional<double> parse_py_float(const std::string& text) {
  std::string s = py_strip(text, nullptr, true, true);
  if (s.empty() || s.find_first_of("xX") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  double f = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return f;
}

Value filter_int(Interpreter&, const Value& v, CallArgs& a) {
  int64_t fallback = int_arg(a, 0, "default", 0);
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value(v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int());
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), nullptr, true, true);
    int64_t i = 0;
    auto res = std::from_chars(s.data() + (!s.empty() && s[0] == '+'), s.data() + s.size(), i);
    if (!s.empty() && res.ec == std::errc() && res.ptr == s.data() + s.size()) return Value(i);
    if (auto f = parse_py_float(s); f && std::isfinite(*f)) return Value(static_cast<int64_t>(*f));
  }
  return Value(fallback);
}

Value filter_float(Interpreter&, const Value& v, CallArgs& a) {
  double fallback = arg_or(a, 0, "default", Value(0.0)).as_float();
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    if (auto f = parse_py_float(v.as_string())) return Value(*f);
  }
  return Value(fallback);
}

Value filter_round(Interpreter&, const Value& v, CallArgs& a) {
  int64_t precision = int_arg(a, 0, "precision", 0);
  std::string method = arg_or(a, 1, "method", Value("common")).str();
  if (!v.is_number()) throw InvalidInput("round filter needs a number, got " + v.type_name());
  if (method != "common" && method != "ceil" && method != "floor") {
    throw InvalidInput("method must be 'common', 'ceil' or 'floor'");
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "common" && precision >= 0 && precision <= 300 && std::fabs(v.as_float()) < 1e300) {
    // Python's round() rounds the exact binary value half-to-even at the decimal digit, which
    // is what printf's correctly rounded %.Nf does (2.675 -> 2.67, 2.5 -> 2).
    char buf[1024];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), v.as_float());
    return Value(std::strtod(buf, nullptr));
  }
  double x = v.as_float() * scale;
  double r = method == "ceil"    ? std::ceil(x)
             : method == "floor" ? std::floor(x)
                                 : std::nearbyint(x);
  return Value(r / scale);
}

Value filter_abs(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_number()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  throw InvalidInput("bad operand type for abs(): '" + py_type(v) + "'");
}

Value filter_items(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value(List{});
  if (!v.is_dict()) throw InvalidInput("Can only get item pairs from a mapping.");
  List out;
  for (const auto& [k, item] : v.as_dict()) out.push_back(Value::tuple({k, item}));
  return Value(std::move(out));
}

Value filter_dictsort(Interpreter&, const Value& v, CallArgs& a) {
  if (!v.is_dict()) throw InvalidInput("dictsort filter needs a mapping, got " + v.type_name());
  bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  std::string by = arg_or(a, 1, "by", Value("key")).str();
  bool reverse = bool_arg(a, 2, "reverse", false);
  if (by != "key" && by != "value")
    throw InvalidInput("You can only sort by either 'key' or 'value'");
  List out;
  for (const auto& [k, item] : v.as_dict()) out.push_back(Value::tuple({k, item}));
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
    Value kx = sort_key(x.as_list()[pos], case_sensitive);
    Value ky = sort_key(y.as_list()[pos], case_sensitive);
    return reverse ? py_less(ky, kx) : py_less(kx, ky);
  });
  return Value(std::move(out));
}

Value filter_sort(Interpreter&, const Value& v, CallArgs& a) {
  bool reverse = bool_arg(a, 0, "reverse", false);
  bool case_sensitive = bool_arg(a, 1, "case_sensitive", false);
  const Value* attribute = a.get(2, "attribute");
  List items = iterate(v);
  auto key = [&](const Value& x) {
    Value k = attribute && !attribute->is_none() ? attribute_path(x, attribute->str()) : x;
    return sort_key(k, case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? py_less(key(y), key(x)) : py_less(key(x), key(y));
  });
  return Value(std::move(items));
}

Value filter_unique(Interpreter&, const Value& v, CallArgs& a) {
  bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  List out;
  List seen;
  for (const auto& item : iterate(v)) {
    Value k =
        sort_key(attribute && !attribute->is_none() ? attribute_path(item, attribute->str()) : item,
                 case_sensitive);
    bool dup = false;
    for (const auto& s : seen) {
      if (py_equal(s, k)) {
        dup = true;
        break;
      }
    }
    if (!dup) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value(std::move(out));
}

Value filter_reverse(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::u32string cps = utf8_decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(utf8_encode(cps));
  }
  List items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value(std::move(items));
}

// jinja2's do_indent: appends a newline, splits into lines, indents all but the first (and blank
// lines only with blank=True), then the first line with first=True.
Value filter_indent(Interpreter&, const Value& v, CallArgs& a) {
  const Value* width = a.get(0, "width");
  std::string pad =
      width && width->is_string()
          ? width->as_string()
          : std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(a, 0, "width", 4))), ' ');
  bool first = bool_arg(a, 1, "first", false);
  bool blank = bool_arg(a, 2, "blank", false);
  std::string s = v.str() + "\n";
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.push_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  std::string out = lines.empty() ? std::string() : lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    out += '\n';
    if (blank || !lines[i].empty()) out += pad;
    out += lines[i];
  }
  if (first) out = pad + out;
  return Value(std::move(out));
}

Value filter_wordcount(Interpreter&, const Value& v, CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(v.str())) {
    bool w = py_isalpha(c) || (c >= '0' && c <= '9') || c == '_';
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Value filter_sum(Interpreter&, const Value& v, CallArgs& a) {
  const Value* attribute = a.get(0, "attribute");
  Value total = arg_or(a, 1, "start", Value(int64_t{0}));
  for (const auto& item : iterate(v)) {
    Value x = attribute && !attribute->is_none() ? attribute_path(item, attribute->str()) : item;
    if (!x.is_number() || !total.is_number()) throw InvalidInput("sum filter needs numbers");
    total = total.is_float() || x.is_float() ? Value(total.as_float() + x.as_float())
                                             : Value(total.as_int() + x.as_int());
  }
  return total;
}

Value filter_minmax(const Value& v, CallArgs& a, bool max) {
  bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  List items = iterate(v);
  if (items.empty())
    return Value::undefined(std::string("No aggregated item, sequence was empty."));
  auto key = [&](const Value& x) {
    return sort_key(attribute && !attribute->is_none() ? attribute_path(x, attribute->str()) : x,
                    case_sensitive);
  };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    if (max ? py_less(key(items[best]), key(items[i])) : py_less(key(items[i]), key(items[best])))
      best = i;
  }
  return items[best];
}
Value filter_max(Interpreter&, const Value& v, CallArgs& a) {
  return filter_minmax(v, a, true);
}
Value filter_min(Interpreter&, const Value& v, CallArgs& a) {
  return filter_minmax(v, a, false);
}

// jinja2's attr looks up attributes only, never items: a dict key is not an attribute.
Value filter_attr(Interpreter&, const Value& v, CallArgs& a) {
  std::string name = str_arg(a, 0, "name");
  if (v.is_dict()) {
    Value method = get_attr(Value(Dict{}), name);
    return method.is_function() ? get_attr(v, name)
                                : Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  return get_attr(v, name);
}

Value filter_map(Interpreter& interp, const Value& v, CallArgs& a) {
  List out;
  if (a.args.empty()) {
    const Value* attribute = a.get(99, "attribute");
    if (!attribute) throw InvalidInput("map filter needs a filter name or attribute=");
    const Value* fallback = a.get(99, "default");
    for (const auto& item : iterate(v)) {
      interp.count_iteration();
      Value x = attribute_path(item, attribute->str());
      out.push_back(x.is_undefined() && fallback ? *fallback : x);
    }
    return Value(std::move(out));
  }
  std::string name = a.args[0].str();
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const auto& item : iterate(v)) {
    interp.count_iteration();
    CallArgs copy = rest;
    out.push_back(apply_filter(interp, name, item, copy));
  }
  return Value(std::move(out));
}

Value select_impl(Interpreter& interp, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  size_t idx = 0;
  std::string attribute;
  if (by_attr) {
    if (a.args.empty()) throw InvalidInput("selectattr/rejectattr need an attribute name");
    attribute = a.args[0].str();
    idx = 1;
  }
  std::string test;
  CallArgs test_args;
  if (idx < a.args.size()) {
    test = a.args[idx].str();
    test_args.args.assign(a.args.begin() + static_cast<long>(idx) + 1, a.args.end());
    test_args.kwargs = a.kwargs;
  }
  List out;
  for (const auto& item : iterate(v)) {
    interp.count_iteration();
    Value subject = by_attr ? attribute_path(item, attribute) : item;
    bool r;
    if (test.empty()) {
      r = subject.truthy();
    } else {
      CallArgs copy = test_args;
      r = apply_test(interp, test, subject, copy);
    }
    if (r == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value filter_select(Interpreter& i, const Value& v, CallArgs& a) {
  return select_impl(i, v, a, false, true);
}
Value filter_reject(Interpreter& i, const Value& v, CallArgs& a) {
  return select_impl(i, v, a, false, false);
}
Value filter_selectattr(Interpreter& i, const Value& v, CallArgs& a) {
  return select_impl(i, v, a, true, true);
}
Value filter_rejectattr(Interpreter& i, const Value& v, CallArgs& a) {
  return select_impl(i, v, a, true, false);
}

Value filter_batch(Interpreter&, const Value& v, CallArgs& a) {
  int64_t n = int_arg(a, 0, "linecount", 1);
  if (n <= 0) throw InvalidInput("batch size must be positive");
  const Value* fill = a.get(1, "fill_with");
  List out;
  List cur;
  for (const auto& item : iterate(v)) {
    cur.push_back(item);
    if (static_cast<int64_t>(cur.size()) == n) {
      out.emplace_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    while (fill && !fill->is_none() && static_cast<int64_t>(cur.size()) < n) cur.push_back(*fill);
    out.emplace_back(std::move(cur));
  }
  return Value(std::move(out));
}

const std::unordered_map<std::string, Filter>& filters() {
  static const std::unordered_map<std::string, Filter> kFilters = {
      {"length", filter_length},
      {"count", filter_length},
      {"tojson", filter_tojson},
      {"default", filter_default},
      {"d", filter_default},
      {"join", filter_join},
      {"first", filter_first},
      {"last", filter_last},
      {"list", filter_list},
      {"string", filter_string},
      {"upper", filter_upper},
      {"lower", filter_lower},
      {"title", filter_title},
      {"capitalize", filter_capitalize},
      {"trim", filter_trim},
      {"replace", filter_replace},
      {"safe", filter_safe},
      {"escape", filter_escape},
      {"e", filter_escape},
      {"forceescape", filter_escape},
      {"int", filter_int},
      {"float", filter_float},
      {"round", filter_round},
      {"abs", filter_abs},
      {"items", filter_items},
      {"dictsort", filter_dictsort},
      {"sort", filter_sort},
      {"unique", filter_unique},
      {"reverse", filter_reverse},
      {"indent", filter_indent},
      {"wordcount", filter_wordcount},
      {"sum", filter_sum},
      {"max", filter_max},
      {"min", filter_min},
      {"attr", filter_attr},
      {"map", filter_map},
      {"select", filter_select},
      {"reject", filter_reject},
      {"selectattr", filter_selectattr},
      {"rejectattr", filter_rejectattr},
      {"batch", filter_batch},
  };
  return kFilters;
}

}  // namespace

Value apply_filter(Interpreter& interp, const std::string& name, const Value& value,
                   CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw InvalidInput("no filter named '" + name + "'");
  return it->second(interp, value, args);
}

bool has_filter(const std::string& name) {
  return filters().count(name) != 0;
}

}  // namespace mofa::text::jinja
