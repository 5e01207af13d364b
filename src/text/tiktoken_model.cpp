#include "text/tiktoken_model.h"

#include <array>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/base64.h"

namespace mofa::text {
namespace {

// GPT-2's byte -> printable code point table (the byte-level alphabet of tokenizer.json BPEs).
const std::array<std::string, 256>& byte_spelling() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    auto utf8 = [](uint32_t cp) {
      std::string s;
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      return s;
    };
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = utf8(printable ? b : next++);
    }
    return t;
  }();
  return table;
}

// Splits UTF-8 text into its code points' byte ranges (byte-level words hold only code points of
// the byte alphabet, one per original byte).
void utf8_chars(std::string_view s, std::vector<std::pair<size_t, size_t>>& parts) {
  parts.clear();
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + n > s.size()) n = s.size() - i;
    parts.emplace_back(i, i + n);
    i += n;
  }
}

// tokenization_chatglm.py's special tokens, numbered from the first id after the ranks.
constexpr const char* kGlmSpecials[] = {"<|endoftext|>",
                                        "[MASK]",
                                        "[gMASK]",
                                        "[sMASK]",
                                        "<sop>",
                                        "<eop>",
                                        "<|system|>",
                                        "<|user|>",
                                        "<|assistant|>",
                                        "<|observation|>",
                                        "<|begin_of_image|>",
                                        "<|end_of_image|>",
                                        "<|begin_of_video|>",
                                        "<|end_of_video|>"};

// tokenization_chatglm.py's pre-tokenizer pattern (cl100k's).
constexpr const char* kGlmPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace

std::unique_ptr<TiktokenModel> TiktokenModel::parse(std::string_view text,
                                                    const std::string& where) {
  auto m = std::unique_ptr<TiktokenModel>(new TiktokenModel());
  const auto& spell = byte_spelling();
  std::string raw;
  size_t line_no = 0;
  std::vector<std::pair<int64_t, std::string>> entries;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string at = where + " line " + std::to_string(line_no);
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) throw InvalidInput(at + ": expected '<base64 token> <rank>'");
    auto decoded = base64_decode(line.substr(0, sp));
    if (!decoded || decoded->empty())
      throw InvalidInput(at + ": '" + std::string(line.substr(0, sp)) + "' is not base64");
    raw = std::move(*decoded);
    int64_t rank = 0;
    std::string_view r = line.substr(sp + 1);
    if (r.empty() || r.size() > 9) throw InvalidInput(at + ": bad rank");
    for (char c : r) {
      if (c < '0' || c > '9') throw InvalidInput(at + ": rank '" + std::string(r) + "'");
      rank = rank * 10 + (c - '0');
    }
    std::string spelled;
    for (unsigned char b : raw) spelled += spell[b];
    entries.emplace_back(rank, std::move(spelled));
  }
  if (entries.empty()) throw InvalidInput(where + ": no tokens");
  m->tokens_.resize(entries.size());
  std::vector<bool> seen(entries.size(), false);
  for (auto& [rank, tok] : entries) {
    if (rank >= static_cast<int64_t>(entries.size()) || seen[rank])
      throw InvalidInput(where + ": ranks must be 0.." + std::to_string(entries.size() - 1) +
                         ", each once (rank " + std::to_string(rank) + ")");
    seen[rank] = true;
    m->tokens_[rank] = std::move(tok);
  }
  m->ranks_.reserve(m->tokens_.size());
  for (size_t i = 0; i < m->tokens_.size(); ++i) {
    if (!m->ranks_.emplace(m->tokens_[i], static_cast<int32_t>(i)).second)
      throw InvalidInput(where + ": token of rank " + std::to_string(i) + " appears twice");
  }
  for (int b = 0; b < 256; ++b) {
    if (!m->ranks_.count(spell[b]))
      throw InvalidInput(where + ": byte " + std::to_string(b) + " has no token of its own");
  }
  return m;
}

void TiktokenModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (auto it = ranks_.find(word); it != ranks_.end()) {
    out.push_back(it->second);
    return;
  }
  std::vector<std::pair<size_t, size_t>> parts;
  utf8_chars(word, parts);
  constexpr int32_t kNone = std::numeric_limits<int32_t>::max();
  auto pair_rank = [&](size_t i) -> int32_t {
    auto it = ranks_.find(word.substr(parts[i].first, parts[i + 1].second - parts[i].first));
    return it == ranks_.end() ? kNone : it->second;
  };
  std::vector<int32_t> ranks(parts.size() > 1 ? parts.size() - 1 : 0);
  for (size_t i = 0; i + 1 < parts.size(); ++i) ranks[i] = pair_rank(i);
  while (parts.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == kNone) break;
    parts[best].second = parts[best + 1].second;
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    ranks.erase(ranks.begin() + static_cast<std::ptrdiff_t>(best));
    if (best + 1 < parts.size()) ranks[best] = pair_rank(best);
    if (best > 0) ranks[best - 1] = pair_rank(best - 1);
  }
  for (const auto& [b, e] : parts) {
    auto it = ranks_.find(word.substr(b, e - b));
    // Every single byte is a token (checked at load), so every part is found.
    out.push_back(it->second);
  }
}

std::optional<int32_t> TiktokenModel::token_to_id(std::string_view token) const {
  auto it = ranks_.find(token);
  if (it == ranks_.end()) return std::nullopt;
  return it->second;
}

const std::string* TiktokenModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= static_cast<int32_t>(tokens_.size())) return nullptr;
  return &tokens_[id];
}

bool looks_like_tiktoken(std::string_view head) {
  // "<base64> <digits>\n": SentencePiece's protobuf starts with a field tag byte (0x0A) instead.
  const size_t nl = head.find('\n');
  std::string_view line = head.substr(0, nl);
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0 || sp + 1 >= line.size()) return false;
  if (!base64_decode(line.substr(0, sp))) return false;
  for (char c : line.substr(sp + 1))
    if ((c < '0' || c > '9') && c != '\r') return false;
  return true;
}

bool is_tiktoken_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(256, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return looks_like_tiktoken(head);
}

TiktokenTokenizerParts load_glm_tiktoken(std::string_view model_text, const nlohmann::json& config,
                                         const std::string& where) {
  TiktokenTokenizerParts p;
  p.model = TiktokenModel::parse(model_text, where);
  const int32_t first = static_cast<int32_t>(p.model->vocab_size());
  int32_t id = first;
  for (const char* s : kGlmSpecials) {
    AddedToken t;
    t.id = id++;
    t.content = s;
    t.special = true;
    t.normalized = false;
    p.added.push_back(std::move(t));
  }
  // tokenizer_config.json's added_tokens_decoder may restate them (same ids) or add others.
  if (config.is_object() && config.contains("added_tokens_decoder") &&
      config["added_tokens_decoder"].is_object()) {
    for (const auto& [key, v] : config["added_tokens_decoder"].items()) {
      const std::string at = "tokenizer_config.json: added_tokens_decoder['" + key + "']";
      int32_t tid = 0;
      try {
        tid = std::stoi(key);
      } catch (const std::exception&) {
        throw InvalidInput(at + ": key is not an integer id");
      }
      if (!v.is_object() || !v.contains("content") || !v["content"].is_string())
        throw InvalidInput(at + ".content must be a string");
      AddedToken t;
      t.id = tid;
      t.content = v["content"].get<std::string>();
      t.special = v.value("special", true);
      t.normalized = v.value("normalized", false);
      t.lstrip = v.value("lstrip", false);
      t.rstrip = v.value("rstrip", false);
      t.single_word = v.value("single_word", false);
      bool replaced = false;
      for (auto& a : p.added) {
        if (a.id == tid) {
          if (a.content != t.content)
            throw InvalidInput(at + ": id " + key + " is '" + a.content +
                               "' in the tokenizer, not '" + t.content + "'");
          a = t;
          replaced = true;
        }
      }
      if (!replaced) p.added.push_back(std::move(t));
    }
  }
  const nlohmann::json pre = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"},
                                 {"pattern", {{"Regex", kGlmPattern}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}},
                                {{"type", "ByteLevel"},
                                 {"add_prefix_space", false},
                                 {"trim_offsets", true},
                                 {"use_regex", false}}}}};
  p.pre_tokenizer = pre_tokenizer_from_json(pre, where + " (pre-tokenizer)");
  p.decoder = decoder_from_json(nlohmann::json{{"type", "ByteLevel"}}, where + " (decoder)");
  // build_inputs_with_special_tokens: [gMASK] <sop> before the text.
  p.prefix = {first + 2, first + 4};
  return p;
}

}  // namespace mofa::text
