// Mixtral (8x7B, 8x22B): Mistral's decoder with every MLP replaced by a sparse mixture of
// num_local_experts SwiGLU experts (w1 = gate, w3 = up, w2 = down), num_experts_per_tok of them
// per token, their router probabilities renormalised to sum 1. sliding_window, when set, limits
// every layer's attention as in Mistral.
#include <memory>

#include "core/error.h"
#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {

std::unique_ptr<CausalLM> mixtral_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                         const ModelOptions& options) {
  auto int_field = [&](const char* key) -> int64_t {
    if (!cfg.raw.is_object() || !cfg.raw.contains(key) || !cfg.raw[key].is_number_integer())
      throw InvalidInput("config.json in " + cfg.path + ": mixtral needs integer field '" + key +
                         "'");
    return cfg.raw[key].get<int64_t>();
  };
  if (cfg.attention_bias)
    throw Unsupported("config.json in " + cfg.path +
                      " sets attention_bias=true; mixtral checkpoints with projection biases are "
                      "not supported");
  DecoderSpec spec;
  spec.moe.block = "block_sparse_moe";
  spec.moe.hf_gate = "w1";
  spec.moe.hf_up = "w3";
  spec.moe.hf_down = "w2";
  spec.moe.n_experts = int_field("num_local_experts");
  spec.moe.top_k = int_field("num_experts_per_tok");
  spec.moe.intermediate = cfg.intermediate_size;
  spec.moe.norm_topk_prob = true;
  spec.layer_moe.assign(cfg.num_hidden_layers, true);
  spec.layer_window.assign(cfg.num_hidden_layers, cfg.use_sliding_window && cfg.sliding_window > 0
                                                      ? cfg.sliding_window
                                                      : 0);
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
