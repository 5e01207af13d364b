// MiniCPM / MiniCPM4 (model_type "minicpm": openbmb/MiniCPM4-8B, MiniCPM4-0.5B, MiniCPM4.1-8B): the
// Llama-shaped decoder with muP scaling (modeling_minicpm.py): token embeddings times scale_emb,
// every attention and MLP output times scale_depth / sqrt(num_hidden_layers) before its residual
// add, and the final normed hidden state divided by hidden_size / dim_model_base before lm_head.
// MiniCPM4 uses rope_scaling "longrope" (rope_scaling.cpp).
//
// MiniCPM4's sparse_config (InfLLM-v2) only takes effect under flash_attention_2 and only once a
// sequence reaches sparse_config.dense_len keys (8192 in the published configs); below that the
// reference attends densely, as we always do. Beyond dense_len the reference attends to the top-k
// key blocks only; our dense attention sees every key (a superset).
#include <cmath>
#include <memory>

#include "core/error.h"
#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {

std::unique_ptr<CausalLM> minicpm_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                         const ModelOptions& options) {
  const auto act = cfg.raw.is_object() ? cfg.raw.find("hidden_act") : cfg.raw.end();
  if (cfg.raw.is_object() && act != cfg.raw.end() && !act->is_null() && *act != "silu")
    throw Unsupported("config.json in " + cfg.path + ": hidden_act " + act->dump() +
                      " is not supported for minicpm (silu only)");
  if (cfg.attention_bias)
    throw Unsupported("config.json in " + cfg.path +
                      " sets attention_bias=true; minicpm checkpoints with projection biases are "
                      "not supported");
  if (cfg.head_dim * cfg.num_attention_heads != cfg.hidden_size)
    throw InvalidInput("config.json in " + cfg.path + ": minicpm needs head_dim * " +
                       "num_attention_heads == hidden_size (modeling_minicpm.py derives it)");
  DecoderSpec spec;
  spec.embed_scale = static_cast<float>(cfg.scale_emb);
  spec.residual_scale =
      static_cast<float>(cfg.scale_depth / std::sqrt(static_cast<double>(cfg.num_hidden_layers)));
  spec.logit_divisor =
      static_cast<float>(static_cast<double>(cfg.hidden_size) / cfg.dim_model_base);
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
