// Qwen2 / Qwen2.5 and Qwen3 (dense): Llama-style decoders. Qwen2 adds biases to the q/k/v
// projections; Qwen3 drops them and RMS-normalises each query and key head before RoPE.
// Sliding-window attention applies, when use_sliding_window is set, to the layers from
// max_window_layers on (as transformers' Qwen2 does).
#include <memory>

#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {

std::unique_ptr<CausalLM> qwen_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                      const ModelOptions& options) {
  DecoderSpec spec;
  const bool qwen3 = cfg.model_type == "qwen3";
  spec.qkv_bias = qwen3 ? cfg.attention_bias : true;
  spec.qk_norm = qwen3;
  spec.layer_window.assign(cfg.num_hidden_layers, 0);
  if (cfg.use_sliding_window && cfg.sliding_window > 0) {
    for (int64_t i = cfg.max_window_layers; i < cfg.num_hidden_layers; ++i)
      spec.layer_window[i] = cfg.sliding_window;
  }
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
