// The GLM-4 family, in its three published layouts:
//  - "chatglm" (THUDM/glm-4-9b-chat, ChatGLM2/3, and MLX conversions that keep its names): the
//    Megatron-style checkpoint under transformer.*, with one fused query_key_value projection
//    (with bias when add_qkv_bias) over multi_query_group_num K/V groups, one fused dense_h_to_4h
//    projection holding [gate; up] of the SwiGLU MLP, RMSNorm, and RoPE on the first half of each
//    head in GLM's interleaved pairs (2i, 2i+1) at base 10000 * rope_ratio (original_rope=false
//    rotates the halves GPT-NeoX style instead);
//  - "glm" (THUDM/glm-4-9b-chat-hf, transformers' GlmForCausalLM): the same model with separate
//    q/k/v projections (biased by default) and a fused gate_up_proj;
//  - "glm4" (GLM-4-9B-0414, GLM-4-32B-0414, GLM-Z1): "glm" plus an RMSNorm on the attention output
//    (post_self_attn_layernorm) and on the MLP output (post_mlp_layernorm) before each residual.
// Fused projections are split by rows at load, so the shared decoder runs all three.
#include <memory>

#include "core/error.h"
#include "models/layers/decoder.h"
#include "models/registry.h"

namespace mofa::models {
namespace {

bool raw_bool(const io::ModelConfig& cfg, const char* key, bool fallback) {
  if (!cfg.raw.is_object() || !cfg.raw.contains(key) || cfg.raw[key].is_null()) return fallback;
  if (!cfg.raw[key].is_boolean())
    throw InvalidInput("config.json in " + cfg.path + ": '" + key + "' must be true or false");
  return cfg.raw[key].get<bool>();
}

// The variants ChatGLMConfig allows that no GLM-4 checkpoint uses, refused by name.
void check_chatglm_variant(const io::ModelConfig& cfg) {
  auto refuse = [&](const std::string& what) {
    throw Unsupported("config.json in " + cfg.path + " sets " + what +
                      "; chatglm checkpoints with that variant are not supported");
  };
  if (!raw_bool(cfg, "rmsnorm", true)) refuse("rmsnorm=false (LayerNorm)");
  if (!raw_bool(cfg, "post_layer_norm", true)) refuse("post_layer_norm=false");
  if (raw_bool(cfg, "apply_residual_connection_post_layernorm", false))
    refuse("apply_residual_connection_post_layernorm=true");
  if (raw_bool(cfg, "add_bias_linear", false)) refuse("add_bias_linear=true");
}

}  // namespace

std::unique_ptr<CausalLM> glm4_create(const io::ModelConfig& cfg, const io::WeightStore& store,
                                      const ModelOptions& options) {
  DecoderSpec spec;
  spec.qkv_bias = cfg.attention_bias;
  spec.rope_interleaved = true;
  if (cfg.model_type == "chatglm") {
    check_chatglm_variant(cfg);
    spec.rope_interleaved = raw_bool(cfg, "original_rope", true);
    DecoderNames& n = spec.names;
    n.embed = "transformer.embedding.word_embeddings";
    n.head = "transformer.output_layer";
    n.final_norm = "transformer.encoder.final_layernorm.weight";
    n.layer_prefix = "transformer.encoder.layers.";
    n.fused_qkv = "self_attention.query_key_value";
    n.o_proj = "self_attention.dense";
    n.fused_gate_up = "mlp.dense_h_to_4h";
    n.down_proj = "mlp.dense_4h_to_h";
  } else {
    const auto act = cfg.raw.is_object() ? cfg.raw.find("hidden_act") : cfg.raw.end();
    if (cfg.raw.is_object() && act != cfg.raw.end() && !act->is_null() && *act != "silu")
      throw Unsupported("config.json in " + cfg.path + ": hidden_act " + act->dump() +
                        " is not supported for " + cfg.model_type + " (silu only)");
    spec.names.fused_gate_up = "mlp.gate_up_proj";
    spec.sandwich_norms = cfg.model_type == "glm4";
  }
  return std::make_unique<DecoderLM>(cfg, store, spec, options);
}

}  // namespace mofa::models
