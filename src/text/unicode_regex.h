#pragma once
// Oniguruma-backed regex, the engine Hugging Face tokenizers uses, so \p{L}, \s and lookaheads in
// tokenizer.json patterns mean exactly what they mean there. Compiled once; searching is const.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mofa::text {

class Regex {
 public:
  // Compiles `pattern` with Oniguruma's default syntax in UTF-8; `where` names it in errors.
  Regex(std::string_view pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the byte ranges [start, end) of all non-overlapping, non-empty matches in `s`.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  void* regex_ = nullptr;  // OnigRegex; kept opaque so users do not include oniguruma.h.
};

}  // namespace mofa::text
