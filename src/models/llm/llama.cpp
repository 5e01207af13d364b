// Llama (2/3/3.1/3.2) and Mistral: the plain pre-norm decoder. Llama 3.1+ rescales RoPE
// frequencies ("llama3" rope_scaling, handled by rope_from_config); Mistral v0.1 limits every
// layer's attention to the last sliding_window positions.
#include <memory>

#include "core/error.h"
#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {

std::unique_ptr<CausalLM> llama_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                       const ModelOptions& options) {
  // attention_bias also puts a bias on o_proj and mlp_bias on all three MLP projections; no
  // published Llama/Mistral checkpoint sets either, and the shared decoder has no such biases.
  const bool mlp_bias = cfg.raw.is_object() && cfg.raw.contains("mlp_bias") &&
                        cfg.raw["mlp_bias"].is_boolean() && cfg.raw["mlp_bias"].get<bool>();
  if (cfg.attention_bias || mlp_bias)
    throw Unsupported("config.json in " + cfg.path + " sets " +
                      (cfg.attention_bias ? "attention_bias" : "mlp_bias") + "=true; " +
                      cfg.model_type + " checkpoints with projection biases are not supported");
  DecoderSpec spec;
  spec.layer_window.assign(cfg.num_hidden_layers, cfg.use_sliding_window && cfg.sliding_window > 0
                                                      ? cfg.sliding_window
                                                      : 0);
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
