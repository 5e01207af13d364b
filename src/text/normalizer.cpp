#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/base64.h"
#include "text/precompiled_charsmap.h"
#include "text/unicode.h"

namespace mofa::text {

using nlohmann::json;

Pattern::Pattern(const json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    literal_ = j["String"].get<std::string>();
    if (literal_.empty()) throw InvalidInput(where + ".String is empty");
  } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    regex_ = std::make_unique<Regex>(j["Regex"].get<std::string>(), where + ".Regex");
  } else {
    throw InvalidInput(where + " must be {\"String\": ...} or {\"Regex\": ...}");
  }
}

void Pattern::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  if (regex_) {
    regex_->find_all(s, out);
    return;
  }
  size_t pos = 0;
  while ((pos = s.find(literal_, pos)) != std::string_view::npos) {
    out.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
}

namespace {

class UnicodeNormalizer : public Normalizer {
 public:
  UnicodeNormalizer(int options, bool compose_only)
      : options_(options), compose_only_(compose_only) {}
  std::string normalize(std::string s) const override {
    if (!compose_only_) {
      bool ascii = true;
      for (char ch : s) ascii &= static_cast<unsigned char>(ch) < 0x80;
      return ascii ? s : map(s);  // every normal form of ASCII is itself
    }
    // NFC leaves code points below U+0300 alone and never composes them with what precedes, so
    // only runs of higher code points (with the character before each run) need utf8proc.
    std::string out;
    size_t done = 0, i = 0;
    while (i < s.size()) {
      if (static_cast<unsigned char>(s[i]) < 0xCC) {
        i += utf8_len(static_cast<unsigned char>(s[i]));
        continue;
      }
      size_t start = i;
      if (start > done) {
        start = i - 1;
        while (start > done && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      }
      size_t end = i;
      while (end < s.size()) {
        auto b = static_cast<unsigned char>(s[end]);
        if (b < 0x80 || (b >= 0xC0 && b < 0xCC)) break;
        ++end;
      }
      if (done == 0 && out.empty()) out.reserve(s.size());
      out.append(s, done, start - done);
      out += map(std::string_view(s).substr(start, end - start));
      done = i = end;
    }
    if (done == 0) return s;
    out.append(s, done, std::string::npos);
    return out;
  }

 private:
  std::string map(std::string_view s) const {
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                          static_cast<utf8proc_option_t>(options_));
    if (n < 0) return std::string(s);  // invalid UTF-8 cannot reach here from valid input
    std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
  }
  int options_;
  bool compose_only_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string normalize(std::string s) const override {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      char32_t cp = utf8_next(s, i);
      utf8_append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    return out;
  }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
  std::string normalize(std::string s) const override { return s.empty() ? s : prepend_ + s; }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where + ".pattern"),
        content_(j.at("content").get<std::string>()) {}
  std::string normalize(std::string s) const override {
    std::vector<std::pair<size_t, size_t>> m;
    pattern_.find_all(s, m);
    if (m.empty()) return s;
    std::string out;
    out.reserve(s.size() + m.size() * content_.size());
    size_t prev = 0;
    for (auto [b, e] : m) {
      out.append(s, prev, b - prev);
      out.append(content_);
      prev = e;
    }
    out.append(s, prev, std::string::npos);
    return out;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      size_t i = 0;
      while (i < e) {
        size_t j = i;
        if (!is_unicode_whitespace(utf8_next(s, j))) break;
        i = j;
      }
      b = i;
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t j = start;
        if (!is_unicode_whitespace(utf8_next(s, j))) break;
        e = start;
      }
    }
    return s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class PrecompiledNormalizer : public Normalizer {
 public:
  explicit PrecompiledNormalizer(PrecompiledCharsmap map) : map_(std::move(map)) {}
  std::string normalize(std::string s) const override { return map_.normalize(s); }

 private:
  PrecompiledCharsmap map_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items)
      : items_(std::move(items)) {}
  std::string normalize(std::string s) const override {
    for (const auto& n : items_) s = n->normalize(std::move(s));
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> normalizer_from_json(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw InvalidInput(where + " must be an object with a string 'type'");
  }
  const auto type = j["type"].get<std::string>();
  try {
    if (type == "NFC")
      return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE, true);
    if (type == "NFD")
      return std::make_unique<UnicodeNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, false);
    if (type == "NFKC") {
      return std::make_unique<UnicodeNormalizer>(
          UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, false);
    }
    if (type == "NFKD") {
      return std::make_unique<UnicodeNormalizer>(
          UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, false);
    }
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "Prepend")
      return std::make_unique<PrependNormalizer>(j.at("prepend").get<std::string>());
    if (type == "Replace") return std::make_unique<ReplaceNormalizer>(j, where);
    if (type == "Strip") {
      return std::make_unique<StripNormalizer>(j.value("strip_left", true),
                                               j.value("strip_right", true));
    }
    if (type == "Precompiled") {
      // Converters write a null or empty charsmap for SentencePiece models whose normalization is
      // the identity; there is nothing to apply then.
      const auto& blob = j.at("precompiled_charsmap");
      if (blob.is_null()) return nullptr;
      const auto field = where + ".precompiled_charsmap";
      auto bytes = base64_decode(blob.get<std::string>());
      if (!bytes) throw InvalidInput(field + " is not valid base64");
      if (bytes->empty()) return nullptr;
      return std::make_unique<PrecompiledNormalizer>(PrecompiledCharsmap(*bytes, field));
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Normalizer>> items;
      const auto& list = j.at("normalizers");
      for (size_t i = 0; i < list.size(); ++i) {
        auto n = normalizer_from_json(list[i], where + ".normalizers[" + std::to_string(i) + "]");
        if (n) items.push_back(std::move(n));
      }
      return std::make_unique<SequenceNormalizer>(std::move(items));
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + " (" + type + "): " + e.what());
  }
  throw InvalidInput(where + ".type '" + type + "' is not supported");
}

}  // namespace mofa::text
