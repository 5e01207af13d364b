#include <algorithm>

#include "text/tokenizer.h"

namespace mofa::text {

namespace {

bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

}  // namespace

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tok, bool skip_special)
    : tok_(tok), skip_special_(skip_special) {}

void IncrementalDetokenizer::keep_special(int32_t id) {
  auto at = std::lower_bound(kept_special_.begin(), kept_special_.end(), id);
  if (at == kept_special_.end() || *at != id) kept_special_.insert(at, id);
}

// Decodes `ids`, dropping the special tokens that are not kept when skipping them.
std::string IncrementalDetokenizer::decode(const std::vector<int32_t>& ids) const {
  if (!skip_special_ || kept_special_.empty()) return tok_.decode(ids, skip_special_);
  std::vector<int32_t> kept;
  kept.reserve(ids.size());
  for (int32_t id : ids)
    if (!tok_.is_special(id) || std::binary_search(kept_special_.begin(), kept_special_.end(), id))
      kept.push_back(id);
  return tok_.decode(kept, false);
}

// Decodes a window that starts one emission back, so decoders that look at the first token
// (Strip, Metaspace) or at byte sequences spanning tokens see the same context a full decode does.
std::string IncrementalDetokenizer::push(int32_t id) {
  ids_.push_back(id);
  std::vector<int32_t> window(ids_.begin() + static_cast<ptrdiff_t>(prefix_offset_), ids_.end());
  std::string text = decode(window);
  if (text.size() <= prefix_text_.size() || ends_with_replacement(text) ||
      text.compare(0, prefix_text_.size(), prefix_text_) != 0) {
    return {};
  }
  std::string piece = text.substr(prefix_text_.size());
  emitted_ += piece;
  prefix_offset_ = read_offset_;
  read_offset_ = ids_.size();
  std::vector<int32_t> prefix(ids_.begin() + static_cast<ptrdiff_t>(prefix_offset_),
                              ids_.begin() + static_cast<ptrdiff_t>(read_offset_));
  prefix_text_ = decode(prefix);
  return piece;
}

std::string IncrementalDetokenizer::flush() {
  std::string all = decode(ids_);
  std::string rest;
  if (all.size() >= emitted_.size() && all.compare(0, emitted_.size(), emitted_) == 0) {
    rest = all.substr(emitted_.size());
  } else {
    // Unreachable for the decoders we build (each is prefix-stable); keep the window's tail.
    std::vector<int32_t> window(ids_.begin() + static_cast<ptrdiff_t>(prefix_offset_), ids_.end());
    std::string text = decode(window);
    rest = text.size() > prefix_text_.size() ? text.substr(prefix_text_.size()) : std::string();
  }
  emitted_ += rest;
  prefix_offset_ = read_offset_ = ids_.size();
  prefix_text_.clear();
  return rest;
}

}  // namespace mofa::text
