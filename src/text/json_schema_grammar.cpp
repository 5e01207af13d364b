#include "text/json_schema_grammar.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/error.h"
#include "text/regex_grammar.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

// Ordered: an object's properties are generated in the schema's order, as OpenAI does.
using json = nlohmann::ordered_json;

// Integers are written with at most 16 digits.
constexpr int64_t kIntLimit = 9999999999999999;
// Above this a length or item count would expand into too many grammar rules.
constexpr int64_t kMaxCount = 1000;

const std::set<std::string>& annotation_keywords() {
  static const std::set<std::string> k = {"description", "title",     "default",  "$schema",
                                          "examples",    "$id",       "$comment", "deprecated",
                                          "readOnly",    "writeOnly", "$defs",    "definitions"};
  return k;
}

const std::set<std::string>& supported_keywords() {
  static const std::set<std::string> k = {"type",
                                          "properties",
                                          "required",
                                          "additionalProperties",
                                          "enum",
                                          "const",
                                          "anyOf",
                                          "oneOf",
                                          "allOf",
                                          "$ref",
                                          "items",
                                          "prefixItems",
                                          "minItems",
                                          "maxItems",
                                          "minimum",
                                          "maximum",
                                          "exclusiveMinimum",
                                          "exclusiveMaximum",
                                          "minLength",
                                          "maxLength",
                                          "pattern",
                                          "format",
                                          "uniqueItems"};
  return k;
}

// A GBNF string literal for `s` (UTF-8 passes through).
std::string gbnf_literal(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
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
      default:
        if (c < 0x20 || c == 0x7F) {
          const char* hex = "0123456789ABCDEF";
          out += "\\x";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string sanitize(const std::string& hint) {
  std::string out;
  for (char c : hint) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '-';
    if (out.size() >= 40) break;
  }
  return out.empty() ? "x" : out;
}

std::string join_alts(const std::vector<std::string>& alts) {
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

// Exact digit patterns for the integers [a, b], both of the same number of digits.
std::string same_length_range(const std::string& a, const std::string& b) {
  if (a.empty()) return "";
  const size_t rest = a.size() - 1;
  auto tail = [&](const std::string& t) { return t.empty() ? std::string() : " " + t; };
  if (a[0] == b[0])
    return std::string("\"") + a[0] + "\"" + tail(same_length_range(a.substr(1), b.substr(1)));
  const std::string any_rest = rest ? " [0-9]{" + std::to_string(rest) + "}" : "";
  if (a.substr(1) == std::string(rest, '0') && b.substr(1) == std::string(rest, '9'))
    return std::string("[") + a[0] + "-" + b[0] + "]" + any_rest;
  std::vector<std::string> alts;
  alts.push_back(std::string("\"") + a[0] + "\"" +
                 tail(same_length_range(a.substr(1), std::string(rest, '9'))));
  if (a[0] + 1 <= b[0] - 1)
    alts.push_back(std::string("[") + static_cast<char>(a[0] + 1) + "-" +
                   static_cast<char>(b[0] - 1) + "]" + any_rest);
  alts.push_back(std::string("\"") + b[0] + "\"" +
                 tail(same_length_range(std::string(rest, '0'), b.substr(1))));
  return join_alts(alts);
}

// Exact pattern for the non-negative integers [lo, hi] without leading zeros.
std::string nonneg_range(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  int64_t pow = 1;  // 10^(len-1)
  for (size_t len = 1; len <= 16; ++len, pow *= 10) {
    const int64_t first = len == 1 ? 0 : pow, last = pow * 10 - 1;
    const int64_t a = std::max(lo, first), b = std::min(hi, last);
    if (a <= b) alts.push_back(same_length_range(std::to_string(a), std::to_string(b)));
  }
  return join_alts(alts);
}

std::string int_range(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  if (lo < 0) alts.push_back("\"-\" " + nonneg_range(-std::min<int64_t>(hi, -1), -lo));
  if (hi >= 0) alts.push_back(nonneg_range(std::max<int64_t>(lo, 0), hi));
  return join_alts(alts);
}

// Regular expressions (an exact subset of what ajv-formats accepts) for the supported formats.
std::optional<std::string> format_regex(const std::string& f) {
  const std::string date = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
  const std::string time =
      "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,3})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])";
  if (f == "date") return date;
  if (f == "time") return time;
  if (f == "date-time") return date + "T" + time;
  if (f == "uuid") return "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
  if (f == "email")
    return "[a-z0-9]{1,16}(\\.[a-z0-9]{1,16}){0,2}@[a-z0-9]{1,16}(\\.[a-z0-9]{1,16}){0,2}\\.[a-z]{"
           "2,6}";
  return std::nullopt;
}

class Converter {
 public:
  Converter(const json& schema, const std::string& root)
      : schema_(schema), root_(root), prefix_(root + "-") {}

  std::string run() {
    const std::string body = visit(schema_, "#");
    std::string out = root_ + " ::= " + body + "\n";
    for (const auto& [name, rule] : rules_) out += name + " ::= " + rule + "\n";
    return out;
  }

 private:
  [[noreturn]] static void unsupported(const std::string& what) { throw Unsupported(what); }
  [[noreturn]] static void invalid(const std::string& what) { throw InvalidInput(what); }

  std::string unique(const std::string& hint) {
    std::string name = prefix_ + sanitize(hint);
    for (int i = 2; used_.count(name); ++i)
      name = prefix_ + sanitize(hint) + "-" + std::to_string(i);
    used_.insert(name);
    return name;
  }

  // A rule for `body` (identical bodies share one rule).
  std::string rule(const std::string& hint, const std::string& body) {
    if (auto it = by_body_.find(body); it != by_body_.end()) return it->second;
    const std::string name = unique(hint);
    rules_.emplace_back(name, body);
    by_body_.emplace(body, name);
    return name;
  }

  // The shared building blocks, defined on first use.
  std::string prim(const std::string& what) {
    const std::string name = prefix_ + what;
    if (prims_.count(what)) return name;
    prims_.insert(what);
    used_.insert(name);
    std::string body;
    if (what == "ws") {
      body = "| \" \" | \"\\n\" [ \\t]{0,20}";
    } else if (what == "char") {
      // Escapes never write a lone surrogate, so lengths count like JavaScript's.
      body =
          "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-C] [0-9a-fA-F]{3} | "
          "[dD] [0-7] [0-9a-fA-F]{2} | [eEfF] [0-9a-fA-F]{3}))";
    } else if (what == "rawchar") {
      body = "[^\"\\\\\\x00-\\x1F]";
    } else if (what == "string") {
      body = "\"\\\"\" " + prim("char") + "* \"\\\"\"";
    } else if (what == "int") {
      body = "\"-\"? (\"0\" | [1-9] [0-9]{0,15})";
    } else if (what == "number") {
      body = prim("int") + " (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?";
    } else if (what == "boolean") {
      body = "\"true\" | \"false\"";
    } else if (what == "null") {
      body = "\"null\"";
    } else if (what == "value") {
      body = prim("object") + " | " + prim("array") + " | " + prim("string") + " | " +
             prim("number") + " | " + prim("boolean") + " | " + prim("null");
    } else if (what == "object") {
      const std::string kv = prim("string") + " " + prim("ws") + " \":\" " + prim("ws") + " " +
                             prim("value") + " " + prim("ws");
      body = "\"{\" " + prim("ws") + " (" + kv + " (\",\" " + prim("ws") + " " + kv + ")*)? \"}\"";
    } else if (what == "array") {
      const std::string item = prim("value") + " " + prim("ws");
      body =
          "\"[\" " + prim("ws") + " (" + item + " (\",\" " + prim("ws") + " " + item + ")*)? \"]\"";
    }
    rules_.emplace_back(name, body);
    return name;
  }

  std::string literal(const json& v) { return gbnf_literal(v.dump()); }

  std::optional<int64_t> count(const json& s, const char* key, const std::string& path) {
    auto it = s.find(key);
    if (it == s.end()) return std::nullopt;
    if (!it->is_number() || it->get<double>() < 0 ||
        std::floor(it->get<double>()) != it->get<double>())
      invalid(std::string("'") + key + "' at " + path + " must be a non-negative integer, got " +
              it->dump());
    const double v = it->get<double>();
    if (v > kMaxCount)
      unsupported(std::string("'") + key + "' at " + path + " is " + it->dump() +
                  "; constrained output supports up to " + std::to_string(kMaxCount));
    return static_cast<int64_t>(v);
  }

  std::optional<double> bound(const json& s, const char* key, const std::string& path) {
    auto it = s.find(key);
    if (it == s.end() || it->is_boolean()) return std::nullopt;
    if (!it->is_number())
      invalid(std::string("'") + key + "' at " + path + " must be a number, got " + it->dump());
    const double v = it->get<double>();
    if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(kIntLimit))
      unsupported(std::string("'") + key + "' at " + path + " beyond 16 digits");
    return v;
  }

  std::string visit(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return prim("value");
      unsupported("the schema at " + path + " is false: no value is valid");
    }
    if (!s.is_object())
      invalid("the schema at " + path + " must be an object or a boolean, got " + s.type_name());
    for (const auto& [k, v] : s.items())
      if (!supported_keywords().count(k) && !annotation_keywords().count(k))
        unsupported("JSON Schema keyword '" + k + "' at " + path + " is not supported");
    if (auto it = s.find("uniqueItems"); it != s.end() && *it != false)
      unsupported("JSON Schema keyword 'uniqueItems' at " + path +
                  " is not supported (only false)");

    auto constraint_keys = [&](const char* except) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : s.items())
        if (k != except && !annotation_keywords().count(k)) keys.push_back(k);
      return keys;
    };
    if (s.contains("$ref")) {
      if (auto keys = constraint_keys("$ref"); !keys.empty())
        unsupported("keyword '" + keys[0] + "' next to '$ref' at " + path + " is not supported");
      return ref(s["$ref"], path);
    }
    if (s.contains("const")) return literal(s["const"]);
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) invalid("'enum' at " + path + " must be a non-empty list");
      std::vector<std::string> alts;
      for (const auto& v : e) alts.push_back(literal(v));
      return join_alts(alts);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const json& list = s[key];
      if (!list.is_array() || list.empty())
        invalid(std::string("'") + key + "' at " + path + " must be a non-empty list");
      if (auto keys = constraint_keys(key); !keys.empty())
        unsupported("keyword '" + keys[0] + "' next to '" + key + "' at " + path +
                    " is not supported");
      std::vector<std::string> alts;
      for (size_t i = 0; i < list.size(); ++i)
        alts.push_back(visit(list[i], path + "/" + key + "/" + std::to_string(i)));
      return join_alts(alts);
    }
    if (s.contains("allOf")) return visit(merge_all_of(s, path), path);

    std::vector<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        types.push_back(it->get<std::string>());
      } else if (it->is_array() && !it->empty()) {
        for (const auto& t : *it) {
          if (!t.is_string())
            invalid("'type' at " + path + " must be a string or a list of strings");
          types.push_back(t.get<std::string>());
        }
      } else {
        invalid("'type' at " + path + " must be a string or a non-empty list of strings");
      }
    } else {
      auto has = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys)
          if (s.contains(k)) return true;
        return false;
      };
      if (has({"properties", "additionalProperties", "required"})) types.push_back("object");
      if (has({"items", "prefixItems", "minItems", "maxItems"})) types.push_back("array");
      if (has({"minLength", "maxLength", "pattern", "format"})) types.push_back("string");
      if (has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}))
        types.push_back("number");
      if (types.empty()) return prim("value");
    }
    std::vector<std::string> alts;
    for (const auto& t : types) alts.push_back(typed(s, t, path));
    return join_alts(alts);
  }

  std::string typed(const json& s, const std::string& t, const std::string& path) {
    if (t == "string") return string_rule(s, path);
    if (t == "integer") return integer_rule(s, path);
    if (t == "number") return number_rule(s, path);
    if (t == "boolean") return prim("boolean");
    if (t == "null") return prim("null");
    if (t == "object") return object_rule(s, path);
    if (t == "array") return array_rule(s, path);
    invalid("unknown type '" + t + "' at " + path);
  }

  std::string ref(const json& r, const std::string& path) {
    if (!r.is_string()) invalid("'$ref' at " + path + " must be a string");
    const std::string target = r.get<std::string>();
    if (auto it = refs_.find(target); it != refs_.end()) return it->second;
    if (target.empty() || target[0] != '#')
      unsupported("'$ref' at " + path + " to '" + target +
                  "': only references inside the schema (#/...) are supported");
    const json* node = nullptr;
    try {
      json::json_pointer ptr(target.substr(1));
      if (schema_.contains(ptr)) node = &schema_.at(ptr);
    } catch (const json::exception&) {
      invalid("'$ref' at " + path + " is not a valid JSON pointer: '" + target + "'");
    }
    if (!node) invalid("'$ref' at " + path + " points to nothing: '" + target + "'");
    const size_t slash = target.find_last_of('/');
    const std::string name = unique(
        "ref-" + (slash == std::string::npos ? std::string("root") : target.substr(slash + 1)));
    refs_.emplace(target, name);
    const std::string body = visit(*node, target);
    rules_.emplace_back(name, body);
    return name;
  }

  const json& deref(const json& s) {
    if (s.is_object() && s.size() == 1 && s.contains("$ref") && s["$ref"].is_string()) {
      const std::string target = s["$ref"].get<std::string>();
      if (!target.empty() && target[0] == '#') {
        json::json_pointer ptr(target.substr(1));
        if (schema_.contains(ptr)) return schema_.at(ptr);
      }
    }
    return s;
  }

  // allOf of object schemas: one object with every member's properties and required keys;
  // a member closed with additionalProperties false limits the keys to its own.
  json merge_all_of(const json& s, const std::string& path) {
    const json& list = s["allOf"];
    if (!list.is_array() || list.empty())
      invalid("'allOf' at " + path + " must be a non-empty list");
    std::vector<json> members;
    json self = s;
    self.erase("allOf");
    members.push_back(self);
    for (const auto& m : list) members.push_back(deref(m));
    json props = json::object();
    std::set<std::string> required;
    std::optional<std::set<std::string>> allowed;
    for (size_t i = 0; i < members.size(); ++i) {
      const json& m = members[i];
      const std::string mpath = i == 0 ? path : path + "/allOf/" + std::to_string(i - 1);
      if (!m.is_object()) invalid("the schema at " + mpath + " must be an object");
      for (const auto& [k, v] : m.items()) {
        if (annotation_keywords().count(k)) continue;
        if (k == "type") {
          if (v != "object")
            unsupported("'allOf' at " + path + " is only supported for object schemas");
        } else if (k == "properties") {
          if (!v.is_object()) invalid("'properties' at " + mpath + " must be an object");
          for (const auto& [pk, pv] : v.items()) {
            if (props.contains(pk) && props[pk] != pv)
              unsupported("'allOf' at " + path + " defines property '" + pk +
                          "' twice with different schemas");
            props[pk] = pv;
          }
        } else if (k == "required") {
          if (!v.is_array()) invalid("'required' at " + mpath + " must be a list of strings");
          for (const auto& r : v) required.insert(r.get<std::string>());
        } else if (k == "additionalProperties") {
          if (v == false) {
            std::set<std::string> own;
            if (m.contains("properties"))
              for (const auto& [pk, pv] : m["properties"].items()) own.insert(pk);
            if (!allowed) {
              allowed = own;
            } else {
              std::set<std::string> both;
              for (const auto& a : *allowed)
                if (own.count(a)) both.insert(a);
              allowed = both;
            }
          } else if (v != true) {
            unsupported("'additionalProperties' with a schema inside 'allOf' at " + path +
                        " is not supported");
          }
        } else {
          unsupported("keyword '" + k + "' in 'allOf' at " + mpath +
                      " is not supported (only object members)");
        }
      }
    }
    json merged = {{"type", "object"}, {"additionalProperties", false}};
    json kept = json::object();
    for (const auto& [k, v] : props.items())
      if (!allowed || allowed->count(k)) kept[k] = v;
    json req = json::array();
    for (const auto& r : required) {
      if (allowed && !allowed->count(r))
        unsupported("'allOf' at " + path + " requires '" + r + "' but a member forbids it");
      req.push_back(r);
    }
    merged["properties"] = kept;
    merged["required"] = req;
    return merged;
  }

  std::string string_rule(const json& s, const std::string& path) {
    const auto min = count(s, "minLength", path), max = count(s, "maxLength", path);
    if (min && max && *min > *max) invalid("'minLength' > 'maxLength' at " + path);
    const bool lengths = min || max;
    const std::string quote = "\"\\\"\"";
    if (auto it = s.find("format"); it != s.end()) {
      if (!it->is_string()) invalid("'format' at " + path + " must be a string");
      auto re = format_regex(it->get<std::string>());
      if (!re)
        unsupported("format '" + it->get<std::string>() + "' at " + path +
                    " is not supported (date, time, date-time, uuid, email are)");
      if (lengths || s.contains("pattern"))
        unsupported("'format' combined with 'pattern' or lengths at " + path + " is not supported");
      return rule("format", quote + " " + regex_to_gbnf(*re, path + "/format") + " " + quote);
    }
    if (auto it = s.find("pattern"); it != s.end()) {
      if (!it->is_string()) invalid("'pattern' at " + path + " must be a string");
      if (lengths)
        unsupported("'pattern' combined with 'minLength'/'maxLength' at " + path +
                    " is not supported");
      return rule(
          "pattern",
          quote + " " + regex_to_gbnf(it->get<std::string>(), path + "/pattern") + " " + quote);
    }
    if (!lengths) return prim("string");
    const std::string reps =
        "{" + std::to_string(min.value_or(0)) + "," + (max ? std::to_string(*max) : "") + "}";
    return rule("string", quote + " " + prim("char") + reps + " " + quote);
  }

  std::string integer_rule(const json& s, const std::string& path) {
    int64_t lo = -kIntLimit, hi = kIntLimit;
    const bool draft4_xmin = s.value("exclusiveMinimum", json()) == true;
    const bool draft4_xmax = s.value("exclusiveMaximum", json()) == true;
    if (auto v = bound(s, "minimum", path))
      lo = std::max(lo, static_cast<int64_t>(draft4_xmin ? std::floor(*v) + 1 : std::ceil(*v)));
    if (auto v = bound(s, "maximum", path))
      hi = std::min(hi, static_cast<int64_t>(draft4_xmax ? std::ceil(*v) - 1 : std::floor(*v)));
    if (auto v = bound(s, "exclusiveMinimum", path))
      lo = std::max(lo, static_cast<int64_t>(std::floor(*v) + 1));
    if (auto v = bound(s, "exclusiveMaximum", path))
      hi = std::min(hi, static_cast<int64_t>(std::ceil(*v) - 1));
    if (lo > hi) invalid("no integer satisfies the bounds at " + path);
    if (lo == -kIntLimit && hi == kIntLimit) return prim("int");
    return rule("int", int_range(lo, hi));
  }

  // Bounded numbers are written as an integer part with an optional fraction and no exponent,
  // with the integer part chosen so that every fraction stays inside the bounds.
  std::string number_rule(const json& s, const std::string& path) {
    const auto min = bound(s, "minimum", path), max = bound(s, "maximum", path);
    const auto xmin = bound(s, "exclusiveMinimum", path), xmax = bound(s, "exclusiveMaximum", path);
    const bool draft4_xmin = s.value("exclusiveMinimum", json()) == true;
    const bool draft4_xmax = s.value("exclusiveMaximum", json()) == true;
    if (!min && !max && !xmin && !xmax) return prim("number");
    const double big = 1e15;
    // Smallest / largest integer allowed; the largest integer part of a fraction (I + .f < I+1).
    double a = -big, b = big, frac_hi = big, neg_frac_hi = big;
    auto lower = [&](double v, bool exclusive) {
      a = std::max(a, exclusive ? std::floor(v) + 1 : std::ceil(v));
      neg_frac_hi = std::min(neg_frac_hi, -std::ceil(v) - 1);
    };
    auto upper = [&](double v, bool exclusive) {
      b = std::min(b, exclusive ? std::ceil(v) - 1 : std::floor(v));
      frac_hi = std::min(frac_hi, std::floor(v) - 1);
    };
    if (min) lower(*min, draft4_xmin);
    if (xmin) lower(*xmin, true);
    if (max) upper(*max, draft4_xmax);
    if (xmax) upper(*xmax, true);
    const std::string frac = " \".\" [0-9]{1,10}";
    std::vector<std::string> alts;
    auto add = [&](double lo, double hi, const std::string& sign, const std::string& suffix) {
      if (lo <= hi)
        alts.push_back(sign + nonneg_range(static_cast<int64_t>(lo), static_cast<int64_t>(hi)) +
                       suffix);
    };
    add(std::max(a, 0.0), b, "", "");
    add(std::max(a, 0.0), frac_hi, "", frac);
    add(std::max(1.0, -b), -a, "\"-\" ", "");
    add(std::max(1.0, -b), neg_frac_hi, "\"-\" ", frac);
    // An exclusive integer lower bound L also allows L itself with a non-zero fraction (0.5 > 0).
    for (const auto& x : {xmin, draft4_xmin ? min : std::nullopt})
      if (x && *x >= 0 && std::floor(*x) == *x && *x <= frac_hi)
        add(*x, *x, "", " \".\" [0-9]{0,9} [1-9]");
    if (alts.empty())
      unsupported("number bounds at " + path +
                  " admit no integer; constrained output needs at least one");
    return rule("number", join_alts(alts));
  }

  // A key that is none of `known` (keys with characters needing escapes can never collide,
  // since these keys are written without escapes).
  std::string extra_key(const std::vector<std::string>& known) {
    struct Trie {
      std::map<char32_t, size_t> kids;
      bool end = false;
    };
    std::vector<Trie> t(1);
    for (const auto& k : known) {
      size_t n = 0;
      bool plain = true;
      for (size_t i = 0; i < k.size();) {
        const char32_t c = utf8_next(k, i);
        if (c < 0x20 || c == '"' || c == '\\') plain = false;
      }
      if (!plain) continue;
      for (size_t i = 0; i < k.size();) {
        const char32_t c = utf8_next(k, i);
        auto it = t[n].kids.find(c);
        if (it == t[n].kids.end()) {
          t.push_back({});
          it = t[n].kids.emplace(c, t.size() - 1).first;
        }
        n = it->second;
      }
      t[n].end = true;
    }
    const std::string quote = "\"\\\"\"";
    auto node_rule = [&](auto&& self, size_t n) -> std::string {
      std::vector<std::string> alts;
      if (!t[n].end) alts.push_back(quote);
      std::string other = "[^\"\\\\\\x00-\\x1F";
      for (const auto& [c, child] : t[n].kids) {
        std::string ch;
        utf8_append(ch, c);
        alts.push_back(gbnf_literal(ch) + " " + self(self, child));
        if (c == ']' || c == '-' || c == '^' || c == '[') other += '\\';
        other += ch;
      }
      alts.push_back(other + "] " + prim("rawchar") + "* " + quote);
      return rule("key", join_alts(alts));
    };
    return rule("key", quote + " " + node_rule(node_rule, 0));
  }

  std::string object_rule(const json& s, const std::string& path) {
    const json props = s.value("properties", json::object());
    if (!props.is_object()) invalid("'properties' at " + path + " must be an object");
    std::vector<std::string> required;
    if (auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) invalid("'required' at " + path + " must be a list of strings");
      for (const auto& r : *it) {
        if (!r.is_string()) invalid("'required' at " + path + " must be a list of strings");
        if (std::find(required.begin(), required.end(), r.get<std::string>()) == required.end())
          required.push_back(r.get<std::string>());
      }
    }
    const std::string ws = prim("ws");
    auto kv = [&](const std::string& key, const std::string& value) {
      return rule("kv-" + key, gbnf_literal(json(key).dump()) + " " + ws + " \":\" " + ws + " " +
                                   value + " " + ws);
    };
    std::vector<std::string> req_kv, opt_kv, known;
    for (const auto& [k, v] : props.items()) {
      known.push_back(k);
      const bool is_req = std::find(required.begin(), required.end(), k) != required.end();
      (is_req ? req_kv : opt_kv).push_back(kv(k, visit(v, path + "/properties/" + k)));
    }
    const auto add = s.find("additionalProperties");
    for (const auto& r : required)
      if (!props.contains(r)) {
        if (add != s.end() && *add == false)
          unsupported("'required' at " + path + " names '" + r +
                      "', which 'additionalProperties': false forbids: no object is valid");
        known.push_back(r);
        req_kv.push_back(kv(r, prim("value")));
      }
    // Extra keys: when additionalProperties allows them, or for a bare object.
    std::string extra;
    const bool open = add == s.end() ? known.empty() : *add != false;
    if (open) {
      std::string value = prim("value");
      if (add != s.end() && add->is_object())
        value = visit(*add, path + "/additionalProperties");
      else if (add != s.end() && !add->is_boolean())
        invalid("'additionalProperties' at " + path + " must be a boolean or a schema");
      const std::string key = known.empty() ? prim("string") : extra_key(known);
      extra = rule("kv-extra", key + " " + ws + " \":\" " + ws + " " + value + " " + ws);
    }
    const std::string comma = "\",\" " + ws + " ";
    std::string body = "\"{\" " + ws + " ";
    if (!req_kv.empty()) {
      for (size_t i = 0; i < req_kv.size(); ++i) body += (i ? comma : "") + req_kv[i] + " ";
      for (const auto& o : opt_kv) body += "(" + comma + o + ")? ";
      if (!extra.empty()) body += "(" + comma + extra + ")* ";
    } else if (!opt_kv.empty() || !extra.empty()) {
      // No required key: whichever present key comes first carries no comma.
      std::string after = extra.empty() ? "" : "(" + comma + extra + ")*";
      std::vector<std::string> starts;
      if (!extra.empty()) starts.push_back(extra + " " + after);
      for (size_t i = opt_kv.size(); i-- > 0;) {
        const std::string tail = after.empty() ? "" : rule("tail", after);
        starts.insert(starts.begin(), opt_kv[i] + (tail.empty() ? "" : " " + tail));
        after = "(" + comma + opt_kv[i] + ")? " + tail;
      }
      body += "(" + join_alts(starts) + ")? ";
    }
    body += "\"}\"";
    return rule("object", body);
  }

  std::string array_rule(const json& s, const std::string& path) {
    const int64_t min = count(s, "minItems", path).value_or(0);
    std::optional<int64_t> max = count(s, "maxItems", path);
    std::vector<std::string> prefix;
    const json* prefix_list = nullptr;
    if (auto it = s.find("prefixItems"); it != s.end()) prefix_list = &*it;
    auto items = s.find("items");
    if (items != s.end() && items->is_array()) prefix_list = &*items;  // draft-4 tuples
    if (prefix_list) {
      if (!prefix_list->is_array())
        invalid("'prefixItems' at " + path + " must be a list of schemas");
      for (size_t i = 0; i < prefix_list->size(); ++i)
        prefix.push_back(visit((*prefix_list)[i], path + "/prefixItems/" + std::to_string(i)));
    }
    std::string item;
    if (items != s.end() && !items->is_array()) {
      if (*items != false) item = visit(*items, path + "/items");
    } else if (!prefix_list) {
      item = prim("value");
    }
    const int64_t p = static_cast<int64_t>(prefix.size());
    if (item.empty()) max = std::min<int64_t>(max.value_or(p), p);
    if (max && min > *max)
      unsupported("'minItems' at " + path + " cannot be met by the allowed items");
    const std::string ws = prim("ws");
    if (max && *max == 0) return rule("array", "\"[\" " + ws + " \"]\"");
    auto element = [&](int64_t i) {
      return (i < p ? prefix[static_cast<size_t>(i)] : item) + " " + ws;
    };
    const std::string comma = "\",\" " + ws + " ";
    // Elements from index i on, each after a comma.
    auto tail = [&](auto&& self, int64_t i) -> std::string {
      if (max && i >= *max) return "";
      if (i < p) {
        const std::string rest = self(self, i + 1);
        const std::string seq = comma + element(i) + (rest.empty() ? "" : " " + rest);
        return i < min ? seq : "(" + seq + ")?";
      }
      const int64_t need = std::max<int64_t>(0, min - i);
      const std::string unit = "(" + comma + element(i) + ")";
      std::string out;
      if (need > 0) out += unit + "{" + std::to_string(need) + "} ";
      if (!max)
        out += unit + "*";
      else if (*max - i - need > 0)
        out += unit + "{0," + std::to_string(*max - i - need) + "}";
      return out;
    };
    const std::string rest = tail(tail, 1);
    const std::string first = element(0) + (rest.empty() ? "" : " " + rest);
    return rule("array", "\"[\" " + ws + " " + (min >= 1 ? first : "(" + first + ")?") + " \"]\"");
  }

  const json& schema_;
  std::string root_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::map<std::string, std::string> by_body_;
  std::map<std::string, std::string> refs_;
  std::set<std::string> used_;
  std::set<std::string> prims_;
};

}  // namespace

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& root) {
  return Converter(schema, root).run();
}

std::string json_schema_to_gbnf(const nlohmann::json& schema, const std::string& root) {
  return Converter(nlohmann::ordered_json::parse(schema.dump()), root).run();
}

}  // namespace mofa::text
