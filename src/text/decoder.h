#pragma once
// Decoders of tokenizer.json ("decoder"): ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace
// and Sequence. Each rewrites the list of token strings; the final text is their concatenation.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mofa::text {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites `tokens` in place (Hugging Face's decode_chain).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Builds the decoder described by `j` (null gives nullptr); `where` is the JSON path for errors.
std::unique_ptr<Decoder> decoder_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace mofa::text
