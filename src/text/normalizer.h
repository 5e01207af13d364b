#pragma once
// Normalizers of tokenizer.json ("normalizer"): NFC/NFD/NFKC/NFKD, Lowercase, Prepend, Replace,
// Strip, Precompiled (SentencePiece's charsmap) and Sequence. They rewrite each text segment
// between added tokens before pre-tokenization.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/unicode_regex.h"

namespace mofa::text {

// A literal string or a regex, as tokenizer.json's {"String": ...} / {"Regex": ...} patterns.
class Pattern {
 public:
  // Builds from {"String": s} or {"Regex": r}; `where` names the field in errors.
  Pattern(const nlohmann::json& j, const std::string& where);

  // Appends the byte ranges of all non-overlapping, non-empty matches in `s`.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Returns the normalized form of `s`.
  virtual std::string normalize(std::string s) const = 0;
};

// Builds the normalizer described by `j` (null gives nullptr); `where` is the JSON path for errors.
std::unique_ptr<Normalizer> normalizer_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace mofa::text
