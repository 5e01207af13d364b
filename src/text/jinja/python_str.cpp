#include "text/jinja/python_str.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "text/jinja/utf8.h"

namespace mofa::text::jinja {

std::string py_strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::u32string cps = utf8_decode(s);
  std::u32string set;
  bool by_set = chars && !chars->is_none();
  if (by_set) {
    if (!chars->is_string()) throw InvalidInput("strip arg must be None or str");
    set = utf8_decode(chars->as_string());
  }
  auto strip_it = [&](char32_t c) {
    return by_set ? set.find(c) != std::u32string::npos : py_isspace(c);
  };
  size_t b = 0;
  size_t e = cps.size();
  if (left) {
    while (b < e && strip_it(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(cps[e - 1])) --e;
  }
  return utf8_encode(std::u32string_view(cps).substr(b, e - b));
}

List py_split(const std::string& s, const Value* sep, int64_t maxsplit) {
  List out;
  if (!sep || sep->is_none()) {
    std::u32string cps = utf8_decode(s);
    size_t i = 0;
    int64_t splits = 0;
    while (i < cps.size()) {
      while (i < cps.size() && py_isspace(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && splits >= maxsplit) {
        size_t e = cps.size();
        while (e > i && py_isspace(cps[e - 1])) --e;
        out.emplace_back(utf8_encode(std::u32string_view(cps).substr(i, e - i)));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !py_isspace(cps[j])) ++j;
      out.emplace_back(utf8_encode(std::u32string_view(cps).substr(i, j - i)));
      ++splits;
      i = j;
    }
    return out;
  }
  if (!sep->is_string()) throw InvalidInput("must be str or None, not " + sep->type_name());
  const std::string& d = sep->as_string();
  if (d.empty()) throw InvalidInput("empty separator");
  size_t start = 0;
  int64_t splits = 0;
  while (maxsplit < 0 || splits < maxsplit) {
    size_t pos = s.find(d, start);
    if (pos == std::string::npos) break;
    out.emplace_back(s.substr(start, pos - start));
    start = pos + d.size();
    ++splits;
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl,
                       int64_t count) {
  std::string out;
  if (old.empty()) {
    std::u32string cps = utf8_decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) utf8_append(out, cps[i]);
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t pos = s.find(old, start);
    if (pos == std::string::npos) break;
    out.append(s, start, pos - start);
    out += repl;
    start = pos + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string map_case(const std::string& s, bool upper) {
  std::string out;
  for (char32_t c : utf8_decode(s)) {
    // Python applies the full mapping where one character becomes two; German sharp s is the one
    // that occurs in practice (the other special cases are ligatures and rare Greek forms).
    if (upper && c == 0xDF) {
      out += "SS";
    } else {
      utf8_append(out, upper ? py_upper(c) : py_lower(c));
    }
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::u32string cps = utf8_decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i)
    utf8_append(out, i == 0 ? py_upper(cps[i]) : py_lower(cps[i]));
  return out;
}

// Python's str.title(): a cased letter after an uncased character starts a word.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    bool alpha = py_isalpha(c);
    utf8_append(out, alpha ? (prev_cased ? py_lower(c) : py_upper(c)) : c);
    prev_cased = alpha;
  }
  return out;
}

// jinja2's title filter: words start after whitespace, '-', '(', '{', '[' or '<'.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (char32_t c : utf8_decode(s)) {
    bool sep = py_isspace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      utf8_append(out, c);
      word_start = true;
    } else {
      utf8_append(out, word_start ? py_upper(c) : py_lower(c));
      word_start = false;
    }
  }
  return out;
}

bool starts_or_ends(const std::string& s, const Value& affix, bool start) {
  auto check = [&](const Value& a) {
    if (!a.is_string())
      throw InvalidInput("startswith/endswith first arg must be str or a tuple of str");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return start ? s.compare(0, x.size(), x) == 0
                 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const auto& a : affix.as_list()) {
      if (check(a)) return true;
    }
    return false;
  }
  return check(affix);
}

// str.format with positional {} / {0} and named {name} fields, each printed with str().
std::string py_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) throw InvalidInput("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
        throw Unsupported("str.format conversions and format specs are not supported: {" + field +
                          "}");
      }
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index < args.args.size()) v = &args.args[auto_index];
        ++auto_index;
      } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
        size_t idx = std::stoul(field);
        if (idx < args.args.size()) v = &args.args[idx];
      } else {
        for (const auto& [k, kv] : args.kwargs) {
          if (k == field) v = &kv;
        }
      }
      if (!v) throw InvalidInput("format field '{" + field + "}' has no argument");
      out += v->str();
      i = close;
    } else if (c == '}') {
      throw InvalidInput("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mofa::text::jinja
