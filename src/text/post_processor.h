#pragma once
// Post-processors of tokenizer.json ("post_processor"): TemplateProcessing, RobertaProcessing,
// BertProcessing, ByteLevel (ids unchanged) and Sequence. They add the special tokens that
// Hugging Face's add_special_tokens=True adds around a single sequence.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mofa::text {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Returns `ids` of a single sequence with the special tokens added.
  virtual std::vector<int32_t> process(std::vector<int32_t> ids) const = 0;
};

// Resolves a token string to its id (added tokens included); used to check processors' tokens.
using TokenLookup = std::function<std::optional<int32_t>(std::string_view)>;

// Builds the post-processor described by `j` (null gives nullptr); `where` is the JSON path.
std::unique_ptr<PostProcessor> post_processor_from_json(const nlohmann::json& j,
                                                        const std::string& where,
                                                        const TokenLookup& lookup);

// A processor that puts `prefix` before and `suffix` after the sequence, as transformers' Llama and
// Gemma tokenizers build from add_bos_token / add_eos_token.
std::unique_ptr<PostProcessor> make_affix_post_processor(std::vector<int32_t> prefix,
                                                         std::vector<int32_t> suffix);

}  // namespace mofa::text
