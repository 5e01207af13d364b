#include "io/chatglm_config.h"

#include <utility>

#include "core/error.h"

namespace mofa::io {
namespace {

const nlohmann::json* present(const nlohmann::json& doc, const char* key) {
  auto it = doc.find(key);
  return it == doc.end() || it->is_null() ? nullptr : &*it;
}

const nlohmann::json* number(const nlohmann::json& doc, const char* key, const std::string& where) {
  const nlohmann::json* v = present(doc, key);
  if (v && !v->is_number())
    throw InvalidInput(where + "field '" + key + "' must be a number, got " + v->dump());
  return v;
}

}  // namespace

nlohmann::json chatglm_config_as_standard(const nlohmann::json& doc, const std::string& where) {
  nlohmann::json out = doc;
  if (!doc.is_object()) return out;
  // Standard name <- ChatGLM name, for fields that only change their name.
  const std::pair<const char*, const char*> renames[] = {
      {"num_hidden_layers", "num_layers"},
      {"intermediate_size", "ffn_hidden_size"},
      {"head_dim", "kv_channels"},
      {"rms_norm_eps", "layernorm_epsilon"},
      {"max_position_embeddings", "seq_length"},
  };
  for (const auto& [std_name, glm_name] : renames) {
    const nlohmann::json* v = number(doc, glm_name, where);
    if (v && !present(doc, std_name)) out[std_name] = *v;
  }
  // The embedding and output layer have padded_vocab_size rows; vocab_size (when written at all)
  // is the same number in the published checkpoints.
  if (const nlohmann::json* v = number(doc, "padded_vocab_size", where)) out["vocab_size"] = *v;
  for (const auto& [std_name, glm_name] : {std::pair{"num_hidden_layers", "num_layers"},
                                           {"intermediate_size", "ffn_hidden_size"},
                                           {"vocab_size", "padded_vocab_size"}}) {
    if (!present(out, std_name))
      throw InvalidInput(where + "field '" + glm_name + "' is required but missing");
  }
  // ChatGLMConfig's default, not transformers' 1e-6.
  if (!present(out, "rms_norm_eps")) out["rms_norm_eps"] = 1e-5;
  // multi_query_attention switches grouped K/V heads on; without it every head has its own.
  bool mqa = false;
  if (const nlohmann::json* v = present(doc, "multi_query_attention")) {
    if (!v->is_boolean())
      throw InvalidInput(where + "field 'multi_query_attention' must be true or false, got " +
                         v->dump());
    mqa = v->get<bool>();
  }
  if (!present(doc, "num_key_value_heads")) {
    if (mqa) {
      const nlohmann::json* g = number(doc, "multi_query_group_num", where);
      if (!g)
        throw InvalidInput(where +
                           "field 'multi_query_group_num' is required when "
                           "multi_query_attention is true");
      out["num_key_value_heads"] = *g;
    } else if (const nlohmann::json* h = present(doc, "num_attention_heads")) {
      out["num_key_value_heads"] = *h;
    }
  }
  // RotaryEmbedding(kv_channels // 2, base = 10000 * rope_ratio): half of each head rotates.
  if (!present(doc, "rope_theta")) {
    const nlohmann::json* r = number(doc, "rope_ratio", where);
    out["rope_theta"] = 10000.0 * (r ? r->get<double>() : 1.0);
  }
  if (!present(doc, "partial_rotary_factor")) out["partial_rotary_factor"] = 0.5;
  // add_qkv_bias puts a bias on the fused query_key_value projection (ChatGLMConfig: false).
  if (!present(doc, "attention_bias")) {
    const nlohmann::json* b = present(doc, "add_qkv_bias");
    if (b && !b->is_boolean())
      throw InvalidInput(where + "field 'add_qkv_bias' must be true or false, got " + b->dump());
    out["attention_bias"] = b ? b->get<bool>() : false;
  }
  return out;
}

}  // namespace mofa::io
