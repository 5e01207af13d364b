#pragma once
// SentencePiece's precompiled_charsmap, the normalization rules T5, XLM-R, ALBERT, mBART and other
// SentencePiece models carry in tokenizer.json ({"type": "Precompiled"}). The blob holds a
// little-endian uint32 byte size of a darts-clone double-array trie, the trie's 32-bit units, then
// NUL-terminated replacement strings; a trie key is a UTF-8 sequence and its value the offset of
// its replacement.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mofa::text {

class PrecompiledCharsmap {
 public:
  // Parses the raw blob; InvalidInput naming `where` when it is truncated or malformed.
  PrecompiledCharsmap(std::string_view blob, const std::string& where);

  // The replacement of the shortest key that is a prefix of `s` (darts-clone's first
  // common-prefix result), or nullopt when no key is. Matching stops at a NUL byte of `s`.
  std::optional<std::string_view> first_match(std::string_view s) const;

  // Hugging Face tokenizers' Precompiled normalizer: each extended grapheme cluster shorter than
  // 6 bytes that starts with a key is replaced whole by that key's replacement; otherwise each of
  // its characters is replaced when it is a key and kept when not.
  std::string normalize(std::string_view s) const;

 private:
  std::vector<uint32_t> units_;
  std::string replacements_;
};

}  // namespace mofa::text
