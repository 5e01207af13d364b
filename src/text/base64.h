#pragma once
// Standard base64 (RFC 4648 alphabet) as tokenizer files embed binary data in text: SentencePiece's
// precompiled_charsmap in tokenizer.json, token bytes in tiktoken vocabularies.
#include <optional>
#include <string>
#include <string_view>

namespace mofa::text {

// Decodes `s`; '=' padding is optional but allowed only at the end; no whitespace. nullopt when
// `s` is not base64.
std::optional<std::string> base64_decode(std::string_view s);

}  // namespace mofa::text
