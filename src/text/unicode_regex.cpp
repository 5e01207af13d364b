#include "text/unicode_regex.h"

#include <oniguruma.h>

#include <mutex>

#include "core/error.h"
#include "text/unicode.h"

namespace mofa::text {

namespace {

void onig_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[1] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

}  // namespace

Regex::Regex(std::string_view pattern, const std::string& where) {
  onig_init_once();
  OnigRegex reg = nullptr;
  OnigErrorInfo einfo;
  auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  // Hugging Face's onig crate compiles with the default syntax (ONIG_SYNTAX_ONIGURUMA).
  int r = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                   ONIG_SYNTAX_DEFAULT, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, r, &einfo);
    throw InvalidInput(where + ": regex '" + std::string(pattern) +
                       "' does not compile: " + reinterpret_cast<const char*>(msg));
  }
  regex_ = reg;
}

Regex::~Regex() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  auto reg = static_cast<OnigRegex>(regex_);
  OnigRegion* region = onig_region_new();
  auto* str = reinterpret_cast<const OnigUChar*>(s.data());
  const OnigUChar* end = str + s.size();
  size_t pos = 0;
  while (pos <= s.size()) {
    int r = onig_search(reg, str, end, str + pos, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;
    auto b = static_cast<size_t>(region->beg[0]);
    auto e = static_cast<size_t>(region->end[0]);
    if (e > b) {
      out.emplace_back(b, e);
      pos = e;
    } else {
      if (b >= s.size()) break;
      pos = b + utf8_len(static_cast<unsigned char>(s[b]));
    }
  }
  onig_region_free(region, 1);
}

}  // namespace mofa::text
