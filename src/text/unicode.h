#pragma once
// UTF-8 and Unicode helpers shared by the tokenizer stages: decoding, property tests, lossy repair
// and the GPT-2 byte-to-unicode alphabet that ByteLevel tokenizers store their vocab in.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mofa::text {

// Byte length of the UTF-8 sequence that starts with `lead` (1 for invalid leads).
inline size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// Decodes the code point at s[i] (assumed valid UTF-8) and advances i past it.
char32_t utf8_next(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of `cp` to `out`.
void utf8_append(std::string& out, char32_t cp);

// Returns `bytes` with every ill-formed subsequence replaced by U+FFFD, one per maximal subpart
// (the policy of Rust's from_utf8_lossy and the WHATWG decoder).
std::string utf8_lossy(std::string_view bytes);

// Length of the longest prefix of `s` that ends on a complete, valid UTF-8 character boundary.
size_t utf8_valid_prefix(std::string_view s);

// Unicode White_Space property (Rust's char::is_whitespace).
bool is_unicode_whitespace(char32_t cp);

// Alphabetic or numeric (Rust's char::is_alphanumeric), used by single_word added tokens.
bool is_unicode_alphanumeric(char32_t cp);

// The GPT-2 ByteLevel alphabet: byte -> its UTF-8 encoded stand-in character.
const std::array<std::string, 256>& byte_level_encode_table();

// Inverse of the ByteLevel alphabet: code point -> byte, or -1 when `cp` is not in the alphabet.
int byte_level_decode(char32_t cp);

}  // namespace mofa::text
