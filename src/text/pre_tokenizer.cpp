#include "text/pre_tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/normalizer.h"
#include "text/unicode.h"
#include "text/unicode_regex.h"

namespace mofa::text {

using nlohmann::json;

namespace {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_behavior(const json& j, const std::string& where) {
  const auto b = j.get<std::string>();
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw InvalidInput(where + ".behavior '" + b + "' is not supported");
}

struct Span {
  size_t begin, end;
  bool is_match;
};

// Cuts `s` at the `matches` following Hugging Face's SplitDelimiterBehavior and appends the
// non-empty parts to `out`.
void split_by_matches(std::string_view s, const std::vector<std::pair<size_t, size_t>>& matches,
                      SplitBehavior behavior, bool invert, std::vector<std::string>& out) {
  std::vector<Span> spans;
  spans.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev != b) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != s.size()) spans.push_back({prev, s.size(), invert});

  std::vector<Span> merged;
  merged.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& sp : spans) {
        if (!sp.is_match) merged.push_back(sp);
      }
      break;
    case SplitBehavior::kIsolated:
      merged = std::move(spans);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& sp : spans) {
        if (sp.is_match && !previous_match && !merged.empty()) {
          merged.back().end = sp.end;
        } else {
          merged.push_back(sp);
        }
        previous_match = sp.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (size_t k = spans.size(); k-- > 0;) {
        const auto& sp = spans[k];
        if (sp.is_match && !previous_match && !merged.empty()) {
          merged.back().begin = sp.begin;
        } else {
          merged.push_back(sp);
        }
        previous_match = sp.is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& sp : spans) {
        if (sp.is_match == previous_match && !merged.empty()) {
          merged.back().end = sp.end;
        } else {
          merged.push_back(sp);
        }
        previous_match = sp.is_match;
      }
      break;
    }
  }
  for (const auto& sp : merged) {
    if (sp.end > sp.begin) out.emplace_back(s.substr(sp.begin, sp.end - sp.begin));
  }
}

class MatcherPreTokenizer : public PreTokenizer {
 public:
  MatcherPreTokenizer(std::unique_ptr<Pattern> pattern, std::unique_ptr<Regex> regex,
                      SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)),
        regex_(std::move(regex)),
        behavior_(behavior),
        invert_(invert) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 2);
    std::vector<std::pair<size_t, size_t>> matches;
    for (const auto& p : pieces) {
      matches.clear();
      if (pattern_) {
        pattern_->find_all(p, matches);
      } else {
        regex_->find_all(p, matches);
      }
      split_by_matches(p, matches, behavior_, invert_, out);
    }
    pieces = std::move(out);
  }

 private:
  std::unique_ptr<Pattern> pattern_;
  std::unique_ptr<Regex> regex_;
  SplitBehavior behavior_;
  bool invert_;
};

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const std::string& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
  }
  void pre_tokenize(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> split;
    if (add_prefix_space_) {
      for (auto& p : pieces) {
        if (p.empty() || p[0] != ' ') p.insert(p.begin(), ' ');
      }
    }
    if (regex_) {
      std::vector<std::pair<size_t, size_t>> matches;
      for (const auto& p : pieces) {
        matches.clear();
        regex_->find_all(p, matches);
        split_by_matches(p, matches, SplitBehavior::kIsolated, false, split);
      }
      pieces = std::move(split);
    }
    const auto& table = byte_level_encode_table();
    for (auto& p : pieces) {
      std::string mapped;
      mapped.reserve(p.size() * 2);
      for (unsigned char c : p) mapped.append(table[c]);
      p = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool first_section) const override {
    std::vector<std::string> out;
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t k = 0; k < pieces.size(); ++k) {
      std::string s;
      for (char c : pieces[k]) {
        if (c == ' ') {
          s.append(replacement_);
        } else {
          s.push_back(c);
        }
      }
      bool prepend = scheme_ == PrependScheme::kAlways ||
                     (scheme_ == PrependScheme::kFirst && k == 0 && first_section);
      if (prepend && s.compare(0, replacement_.size(), replacement_) != 0) s = replacement_ + s;
      if (!split_) {
        if (!s.empty()) out.push_back(std::move(s));
        continue;
      }
      matches.clear();
      size_t pos = 0;
      while ((pos = s.find(replacement_, pos)) != std::string::npos) {
        matches.emplace_back(pos, pos + replacement_.size());
        pos += replacement_.size();
      }
      split_by_matches(s, matches, SplitBehavior::kMergedWithNext, false, out);
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> items)
      : items_(std::move(items)) {}
  void pre_tokenize(std::vector<std::string>& pieces, bool first_section) const override {
    for (const auto& p : items_) p->pre_tokenize(pieces, first_section);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

std::unique_ptr<PreTokenizer> regex_splitter(const char* pattern, SplitBehavior behavior,
                                             bool invert, const std::string& where) {
  return std::make_unique<MatcherPreTokenizer>(nullptr, std::make_unique<Regex>(pattern, where),
                                               behavior, invert);
}

}  // namespace

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    throw InvalidInput(where + " must be an object with a string 'type'");
  }
  const auto type = j["type"].get<std::string>();
  try {
    if (type == "Split") {
      return std::make_unique<MatcherPreTokenizer>(
          std::make_unique<Pattern>(j.at("pattern"), where + ".pattern"), nullptr,
          parse_behavior(j.at("behavior"), where), j.value("invert", false));
    }
    if (type == "ByteLevel") {
      return std::make_unique<ByteLevelPreTokenizer>(j.value("add_prefix_space", true),
                                                     j.value("use_regex", true), where);
    }
    if (type == "Metaspace") {
      PrependScheme scheme = PrependScheme::kAlways;
      if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
        const auto s = j["prepend_scheme"].get<std::string>();
        if (s == "first") {
          scheme = PrependScheme::kFirst;
        } else if (s == "never") {
          scheme = PrependScheme::kNever;
        } else if (s != "always") {
          throw InvalidInput(where + ".prepend_scheme '" + s + "' is not supported");
        }
      } else if (!j.value("add_prefix_space", true)) {
        scheme = PrependScheme::kNever;
      }
      return std::make_unique<MetaspacePreTokenizer>(j.value("replacement", std::string("\u2581")),
                                                     scheme, j.value("split", true));
    }
    if (type == "Digits") {
      return regex_splitter(R"(\p{N})",
                            j.value("individual_digits", false) ? SplitBehavior::kIsolated
                                                                : SplitBehavior::kContiguous,
                            false, where);
    }
    if (type == "Whitespace")
      return regex_splitter(R"(\w+|[^\w\s]+)", SplitBehavior::kRemoved, true, where);
    if (type == "WhitespaceSplit")
      return regex_splitter(R"(\s+)", SplitBehavior::kRemoved, false, where);
    if (type == "Punctuation") {
      SplitBehavior behavior = SplitBehavior::kIsolated;
      if (j.contains("behavior")) behavior = parse_behavior(j["behavior"], where);
      return regex_splitter(R"(\p{P}|[!-/:-@\[-`{-~])", behavior, false, where);
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<PreTokenizer>> items;
      const auto& list = j.at("pretokenizers");
      for (size_t i = 0; i < list.size(); ++i) {
        auto p =
            pre_tokenizer_from_json(list[i], where + ".pretokenizers[" + std::to_string(i) + "]");
        if (p) items.push_back(std::move(p));
      }
      return std::make_unique<SequencePreTokenizer>(std::move(items));
    }
  } catch (const json::exception& e) {
    throw InvalidInput(where + " (" + type + "): " + e.what());
  }
  throw InvalidInput(where + ".type '" + type + "' is not supported");
}

}  // namespace mofa::text
