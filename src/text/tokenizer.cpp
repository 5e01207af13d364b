#include "text/tokenizer.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "text/bpe.h"
#include "text/decoder.h"
#include "text/normalizer.h"
#include "text/post_processor.h"
#include "text/pre_tokenizer.h"
#include "text/sentencepiece_model.h"
#include "text/tiktoken_model.h"
#include "text/tokenizer_added.h"
#include "text/tokenizer_json.h"
#include "text/unigram.h"

namespace mofa::text {

using nlohmann::json;
namespace fs = std::filesystem;

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<TokenizerModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::string bos_token, eos_token;
  std::optional<int32_t> bos_id, eos_id;
  int64_t vocab_size = 0;

  void encode_segment(std::string_view text, bool first_section, std::vector<int32_t>& ids,
                      std::vector<std::string>& pieces) const {
    if (text.empty()) return;
    pieces.clear();
    pieces.emplace_back(text);
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces, first_section);
    for (const auto& p : pieces) model->encode(p, ids);
  }
};

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidInput(path.string() + ": cannot be opened");
  in.seekg(0, std::ios::end);
  std::string data(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) throw InvalidInput(path.string() + ": read failed");
  return data;
}

json parse_json_file(const fs::path& path) {
  const std::string data = read_file(path);
  try {
    return json::parse(data);
  } catch (const json::parse_error& e) {
    throw InvalidInput(path.filename().string() + ": not valid JSON: " + e.what());
  }
}

// tokenizer_config.json writes tokens as "text" or {"content": "text", ...}.
std::string config_token(const json& config, const char* key) {
  if (!config.contains(key)) return {};
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  return {};
}

AddedToken added_token_from_json(const json& j, int32_t id, const std::string& where) {
  AddedToken t;
  t.id = id;
  if (!j.contains("content") || !j["content"].is_string()) {
    throw InvalidInput(where + ".content must be a string");
  }
  t.content = j["content"].get<std::string>();
  t.special = j.value("special", false);
  t.normalized = j.value("normalized", !t.special);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  t.single_word = j.value("single_word", false);
  return t;
}

// transformers' Llama/Gemma tokenizers rebuild the post-processor from add_bos_token /
// add_eos_token (update_post_processor); other classes do so only when one of them is set true.
bool config_overrides_post_processor(const json& config) {
  const std::string cls = config.value("tokenizer_class", std::string());
  for (const char* family :
       {"LlamaTokenizer", "LlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
        "CodeLlamaTokenizer", "CodeLlamaTokenizerFast"}) {
    if (cls == family) return true;
  }
  return config.value("add_bos_token", false) == true ||
         config.value("add_eos_token", false) == true;
}

std::unique_ptr<Tokenizer::Impl> load_hf(const fs::path& dir, const json& config) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  BpeTables tables;
  std::string data =
      extract_bpe_tables(read_file(dir / "tokenizer.json"), tables, "tokenizer.json");
  json root;
  try {
    root = json::parse(data);
  } catch (const json::parse_error& e) {
    throw InvalidInput(std::string("tokenizer.json: not valid JSON: ") + e.what());
  }
  data = std::string();
  if (!root.is_object()) throw InvalidInput("tokenizer.json: top level must be an object");
  if (!root.contains("model") || !root["model"].is_object()) {
    throw InvalidInput("tokenizer.json: model is missing");
  }
  const auto& model = root["model"];
  const std::string model_type =
      model.value("type", std::string(model.contains("merges") ? "BPE" : ""));
  if (model_type == "BPE") {
    impl->model = tables.vocab.empty()
                      ? BpeModel::from_json(model, "tokenizer.json: model")
                      : BpeModel::build(model, std::move(tables), "tokenizer.json: model");
  } else if (model_type == "Unigram") {
    impl->model = UnigramModel::from_json(model, "tokenizer.json: model");
  } else {
    throw InvalidInput("tokenizer.json: model.type '" + model_type + "' is not supported");
  }

  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
    const auto& list = root["added_tokens"];
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "tokenizer.json: added_tokens[" + std::to_string(i) + "]";
      if (!list[i].contains("id") || !list[i]["id"].is_number_integer()) {
        throw InvalidInput(where + ".id must be an integer");
      }
      added.push_back(added_token_from_json(list[i], list[i]["id"].get<int32_t>(), where));
    }
  }
  if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (auto it = config["added_tokens_decoder"].begin();
         it != config["added_tokens_decoder"].end(); ++it) {
      const std::string where = "tokenizer_config.json: added_tokens_decoder['" + it.key() + "']";
      int32_t id;
      try {
        id = std::stoi(it.key());
      } catch (const std::exception&) {
        throw InvalidInput(where + ": key is not an integer id");
      }
      bool known = false;
      for (const auto& t : added) known |= t.id == id;
      if (!known) added.push_back(added_token_from_json(it.value(), id, where));
    }
  }
  impl->added = AddedVocabulary(std::move(added));

  impl->normalizer =
      normalizer_from_json(root.value("normalizer", json()), "tokenizer.json: normalizer");
  impl->pre_tokenizer =
      pre_tokenizer_from_json(root.value("pre_tokenizer", json()), "tokenizer.json: pre_tokenizer");
  impl->decoder = decoder_from_json(root.value("decoder", json()), "tokenizer.json: decoder");
  const Tokenizer::Impl* self = impl.get();
  TokenLookup lookup = [self](std::string_view t) -> std::optional<int32_t> {
    if (auto id = self->added.find(t)) return id;
    return self->model->token_to_id(t);
  };
  impl->post_processor = post_processor_from_json(root.value("post_processor", json()),
                                                  "tokenizer.json: post_processor", lookup);

  impl->bos_token = config_token(config, "bos_token");
  impl->eos_token = config_token(config, "eos_token");
  if (!impl->bos_token.empty()) impl->bos_id = lookup(impl->bos_token);
  if (!impl->eos_token.empty()) impl->eos_id = lookup(impl->eos_token);
  if (config_overrides_post_processor(config)) {
    std::vector<int32_t> prefix, suffix;
    if (config.value("add_bos_token", true) == true && impl->bos_id)
      prefix.push_back(*impl->bos_id);
    if (config.value("add_eos_token", false) == true && impl->eos_id)
      suffix.push_back(*impl->eos_id);
    impl->post_processor = make_affix_post_processor(std::move(prefix), std::move(suffix));
  }
  impl->vocab_size = std::max(impl->model->vocab_size(), impl->added.max_id() + 1);
  return impl;
}

// Models with only tokenizer.model: SentencePiece encodes each segment between added tokens, and
// BOS/EOS follow tokenizer_config.json as in transformers' LlamaTokenizer (add_bos_token defaults
// to true, add_eos_token to false).
std::unique_ptr<Tokenizer::Impl> load_sentencepiece(const fs::path& dir, const json& config) {
  auto impl = std::make_unique<Tokenizer::Impl>();
  auto sp = SentencePieceModel::load((dir / "tokenizer.model").string());
  std::vector<AddedToken> added = sp->control_tokens();
  if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (auto it = config["added_tokens_decoder"].begin();
         it != config["added_tokens_decoder"].end(); ++it) {
      const std::string where = "tokenizer_config.json: added_tokens_decoder['" + it.key() + "']";
      int32_t id;
      try {
        id = std::stoi(it.key());
      } catch (const std::exception&) {
        throw InvalidInput(where + ": key is not an integer id");
      }
      auto t = added_token_from_json(it.value(), id, where);
      bool known = false;
      for (auto& a : added) {
        if (a.id == id) {
          a = t;
          known = true;
        }
      }
      if (!known) added.push_back(std::move(t));
    }
  }
  impl->added = AddedVocabulary(std::move(added));
  impl->decoder = sp->make_decoder();
  impl->bos_token = config_token(config, "bos_token");
  impl->eos_token = config_token(config, "eos_token");
  if (impl->bos_token.empty()) impl->bos_token = sp->bos_piece();
  if (impl->eos_token.empty()) impl->eos_token = sp->eos_piece();
  const Tokenizer::Impl* self = impl.get();
  auto lookup = [self, &sp](std::string_view t) -> std::optional<int32_t> {
    if (auto id = self->added.find(t)) return id;
    return sp->token_to_id(t);
  };
  if (!impl->bos_token.empty()) impl->bos_id = lookup(impl->bos_token);
  if (!impl->eos_token.empty()) impl->eos_id = lookup(impl->eos_token);
  std::vector<int32_t> prefix, suffix;
  if (config.value("add_bos_token", true) == true && impl->bos_id) prefix.push_back(*impl->bos_id);
  if (config.value("add_eos_token", false) == true && impl->eos_id) suffix.push_back(*impl->eos_id);
  impl->post_processor = make_affix_post_processor(std::move(prefix), std::move(suffix));
  impl->model = std::move(sp);
  impl->vocab_size = std::max(impl->model->vocab_size(), impl->added.max_id() + 1);
  return impl;
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<Tokenizer> Tokenizer::load(const std::string& dir) {
  const fs::path d(dir);
  json config = json::object();
  if (fs::exists(d / "tokenizer_config.json")) {
    config = parse_json_file(d / "tokenizer_config.json");
    if (!config.is_object())
      throw InvalidInput("tokenizer_config.json: top level must be an object");
  }
  std::unique_ptr<Impl> impl;
  if (fs::exists(d / "tokenizer.json")) {
    impl = load_hf(d, config);
  } else if (is_tiktoken_file((d / "tokenizer.model").string())) {
    // GLM-4's tiktoken ranks (tokenization_chatglm.py); add_special puts [gMASK] <sop> first.
    auto p = load_glm_tiktoken(read_file(d / "tokenizer.model"), config, "tokenizer.model");
    impl = std::make_unique<Impl>();
    impl->added = AddedVocabulary(std::move(p.added));
    impl->pre_tokenizer = std::move(p.pre_tokenizer);
    impl->decoder = std::move(p.decoder);
    impl->post_processor = make_affix_post_processor(std::move(p.prefix), {});
    impl->model = std::move(p.model);
    impl->eos_token = config_token(config, "eos_token");
    if (impl->eos_token.empty()) impl->eos_token = "<|endoftext|>";
    impl->eos_id = impl->added.find(impl->eos_token);
    impl->vocab_size = std::max(impl->model->vocab_size(), impl->added.max_id() + 1);
  } else if (fs::exists(d / "tokenizer.model")) {
    impl = load_sentencepiece(d, config);
  } else {
    throw InvalidInput(dir + ": has neither tokenizer.json nor tokenizer.model");
  }
  return std::shared_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<std::string> pieces;
  std::vector<AddedMatch> raw, norm;
  m.added.split(text, /*normalized=*/false, parse_special, raw);
  for (const auto& seg : raw) {
    if (seg.id) {
      ids.push_back(*seg.id);
      continue;
    }
    std::string_view sv = text.substr(seg.begin, seg.end - seg.begin);
    const bool first = seg.begin == 0;
    if (!m.normalizer && !m.added.has_normalized()) {
      m.encode_segment(sv, first, ids, pieces);
      continue;
    }
    std::string normalized =
        m.normalizer ? m.normalizer->normalize(std::string(sv)) : std::string(sv);
    norm.clear();
    m.added.split(normalized, /*normalized=*/true, parse_special, norm);
    for (const auto& sub : norm) {
      if (sub.id) {
        ids.push_back(*sub.id);
      } else {
        m.encode_segment(std::string_view(normalized).substr(sub.begin, sub.end - sub.begin),
                         first && sub.begin == 0, ids, pieces);
      }
    }
  }
  if (add_special && m.post_processor) ids = m.post_processor->process(std::move(ids));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (skip_special && m.added.is_special(id)) continue;
    if (const std::string* s = m.added.content(id)) {
      tokens.push_back(*s);
    } else if (const std::string* t = m.model->id_to_token(id)) {
      tokens.push_back(*t);
    }
  }
  if (!m.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out += tokens[i];
    }
    return out;
  }
  m.decoder->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const std::string* s = impl_->added.content(id)) return *s;
  if (const std::string* t = impl_->model->id_to_token(id)) return *t;
  return {};
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.find(token)) return id;
  return impl_->model->token_to_id(token);
}

int64_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}
bool Tokenizer::is_special(int32_t id) const {
  return impl_->added.is_special(id);
}
const std::string& Tokenizer::bos_token() const {
  return impl_->bos_token;
}
const std::string& Tokenizer::eos_token() const {
  return impl_->eos_token;
}
std::optional<int32_t> Tokenizer::bos_id() const {
  return impl_->bos_id;
}
std::optional<int32_t> Tokenizer::eos_id() const {
  return impl_->eos_id;
}

}  // namespace mofa::text
