#pragma once
// Fast reading of the two big members of a BPE tokenizer.json (model.vocab and model.merges, ~95%
// of an 11 MB Qwen file): a structural scan finds them, a specialised parser reads them, and the
// small remainder goes to nlohmann::json. Keeps Tokenizer::load well under 300 ms.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mofa::text {

struct BpeTables {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
};

// Splits tokenizer.json text `data`: when it holds a BPE model whose vocab is an object and
// merges an array, fills `tables` from them and returns the text with those two values replaced
// by {} and []; otherwise returns `data` unchanged and leaves `tables` empty. `name` is used in
// errors.
std::string extract_bpe_tables(std::string data, BpeTables& tables, const std::string& name);

}  // namespace mofa::text
