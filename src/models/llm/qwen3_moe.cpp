// Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B): the Qwen3 decoder (per-head q/k RMSNorm, no q/k/v
// biases) whose MLPs are sparse mixtures of num_experts experts of moe_intermediate_size, with
// num_experts_per_tok chosen per token (renormalised only when norm_topk_prob). A layer is sparse
// when it is not in mlp_only_layers and (index + 1) is a multiple of decoder_sparse_step; the
// others keep a dense MLP of intermediate_size.
#include <algorithm>
#include <memory>

#include "core/error.h"
#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {

std::unique_ptr<CausalLM> qwen3_moe_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                           const ModelOptions& options) {
  const nlohmann::json& raw = cfg.raw;
  auto int_field = [&](const char* key, int64_t fallback) -> int64_t {
    if (!raw.is_object() || !raw.contains(key) || raw[key].is_null()) return fallback;
    if (!raw[key].is_number_integer())
      throw InvalidInput("config.json in " + cfg.path + ": '" + key + "' must be an integer");
    return raw[key].get<int64_t>();
  };
  DecoderSpec spec;
  spec.qkv_bias = cfg.attention_bias;
  spec.qk_norm = true;
  spec.moe.block = "mlp";
  spec.moe.hf_gate = "gate_proj";
  spec.moe.hf_up = "up_proj";
  spec.moe.hf_down = "down_proj";
  // Defaults are transformers' Qwen3MoeConfig's.
  spec.moe.n_experts = int_field("num_experts", 128);
  spec.moe.top_k = int_field("num_experts_per_tok", 8);
  spec.moe.intermediate = int_field("moe_intermediate_size", 768);
  spec.moe.norm_topk_prob = raw.is_object() && raw.contains("norm_topk_prob") &&
                            raw["norm_topk_prob"].is_boolean() && raw["norm_topk_prob"].get<bool>();
  const int64_t step = int_field("decoder_sparse_step", 1);
  std::vector<int64_t> dense_only;
  if (raw.is_object() && raw.contains("mlp_only_layers") && !raw["mlp_only_layers"].is_null()) {
    if (!raw["mlp_only_layers"].is_array())
      throw InvalidInput("config.json in " + cfg.path + ": 'mlp_only_layers' must be a list");
    for (const auto& v : raw["mlp_only_layers"]) {
      if (!v.is_number_integer())
        throw InvalidInput("config.json in " + cfg.path +
                           ": 'mlp_only_layers' must hold layer indices");
      dense_only.push_back(v.get<int64_t>());
    }
  }
  spec.layer_moe.assign(cfg.num_hidden_layers, false);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i)
    spec.layer_moe[i] = std::find(dense_only.begin(), dense_only.end(), i) == dense_only.end() &&
                        spec.moe.n_experts > 0 && step > 0 && (i + 1) % step == 0;
  spec.layer_window.assign(cfg.num_hidden_layers, 0);
  if (cfg.use_sliding_window && cfg.sliding_window > 0) {
    for (int64_t i = cfg.max_window_layers; i < cfg.num_hidden_layers; ++i)
      spec.layer_window[i] = cfg.sliding_window;
  }
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
