#include "text/base64.h"

#include <cstdint>

namespace mofa::text {
namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view s) {
  size_t padding = 0;
  while (!s.empty() && s.back() == '=' && padding < 2) {
    s.remove_suffix(1);
    ++padding;
  }
  // A lone sextet carries no whole byte; padding must round the text up to whole quads.
  if (s.size() % 4 == 1 || (padding > 0 && (s.size() + padding) % 4 != 0)) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace mofa::text
