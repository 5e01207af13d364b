#pragma once
// Pre-tokenizers of tokenizer.json ("pre_tokenizer"): Split, ByteLevel, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation and Sequence. They cut a normalized segment into the
// words the model encodes independently.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mofa::text {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their pre-tokenized parts, in order. `first_section` says whether
  // pieces[0] starts at offset 0 of the encoded text (Metaspace's prepend_scheme "first").
  virtual void pre_tokenize(std::vector<std::string>& pieces, bool first_section) const = 0;
};

// Builds the pre-tokenizer described by `j` (null gives nullptr); `where` is the JSON path for
// errors.
std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const nlohmann::json& j,
                                                      const std::string& where);

}  // namespace mofa::text
