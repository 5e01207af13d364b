#pragma once
// The pre-norm decoder-only transformer shared by the Llama-like families (Qwen2/3, Llama,
// Mistral): embeddings, N x [RMSNorm, GQA attention with RoPE, RMSNorm, SwiGLU MLP], RMSNorm,
// head. A family file fills DecoderSpec from its config.json; weights use the HF names unless
// DecoderNames says otherwise (GLM's fused projections are split by rows at load).
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/weight.h"
#include "models/layers/moe.h"
#include "models/model.h"

namespace mofa::models {

// Checkpoint tensor names of one family; the defaults are the HF Llama layout. A layer's tensors
// are `layer_prefix` + index + "." + the per-layer name.
struct DecoderNames {
  std::string embed = "model.embed_tokens";  // linear/embedding prefixes (no ".weight")
  std::string head = "lm_head";
  std::string final_norm = "model.norm.weight";
  std::string layer_prefix = "model.layers.";
  std::string attn_norm = "input_layernorm.weight";
  std::string mlp_norm = "post_attention_layernorm.weight";
  // Fused [q; k; v] projection (and bias), split by rows at load; "" = q_proj / k_proj / v_proj.
  std::string fused_qkv;
  std::string o_proj = "self_attn.o_proj";
  // Fused [gate; up] projection, split by rows at load; "" = gate_proj / up_proj.
  std::string fused_gate_up;
  std::string down_proj = "mlp.down_proj";
};

struct DecoderSpec {
  DecoderNames names;
  // GLM-4-0414: RMSNorm of the attention output and of the MLP output before each residual add
  // (post_self_attn_layernorm, post_mlp_layernorm).
  bool sandwich_norms = false;
  bool qkv_bias = false;  // Qwen2: q/k/v projections carry biases
  bool qk_norm = false;   // Qwen3: per-head RMSNorm of q and k before RoPE
  bool rope_interleaved = false;
  std::vector<int64_t> layer_window;  // per layer sliding window (0 = full attention)
  std::vector<bool> layer_moe;        // per layer: sparse experts (moe) instead of the dense MLP
  MoeSpec moe;                        // used by the layers layer_moe marks
  // MiniCPM's muP scales: embeddings * embed_scale (scale_emb), each residual branch *
  // residual_scale (scale_depth / sqrt(num_hidden_layers)), the final normed hidden state /
  // logit_divisor (hidden_size / dim_model_base) before the head. 1 = plain decoder.
  float embed_scale = 1, residual_scale = 1, logit_divisor = 1;
};

class DecoderLM : public CausalLM {
 public:
  DecoderLM(const io::ModelConfig& cfg, const io::WeightStore& store, const DecoderSpec& spec,
            const ModelOptions& options);

  const io::ModelConfig& config() const override { return cfg_; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_batch() const override { return max_batch_; }
  size_t weight_bytes() const override { return weight_bytes_; }
  size_t decode_bytes() const override { return weight_bytes_ - unread_bytes_; }
  std::unique_ptr<KvCache> new_cache(int64_t max_capacity) const override;
  Tensor forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                 bool all_logits) override;

 private:
  struct Layer {
    Tensor input_norm, post_norm, q_norm, k_norm;  // [hidden], [hidden], [head_dim] x2
    Tensor attn_out_norm, mlp_out_norm;            // sandwich_norms only: [hidden] x2
    Tensor q_bias, k_bias, v_bias;
    Weight q, k, v, o, gate, up, down;
    int64_t window = 0;
    std::unique_ptr<MoeMlp> moe;  // set: this layer's MLP is the sparse one
  };

  void attention_block(Layer& layer, int index, Tensor& x, const int32_t* positions, int64_t n,
                       int64_t n_past, KvCache& cache);
  void mlp_block(Layer& layer, int index, Tensor& x, int64_t n);

  io::ModelConfig cfg_;
  DecoderSpec spec_;
  ops::MatmulMode mode_;
  KvCacheTypes kv_types_;
  int64_t max_batch_;
  int64_t hidden_, n_heads_, n_kv_heads_, head_dim_, intermediate_;
  float eps_;
  ops::Rope rope_;
  Weight embed_;
  Weight head_;  // lm_head, or the embedding when tied
  Tensor final_norm_;
  std::vector<Layer> layers_;
  size_t weight_bytes_ = 0;
  size_t unread_bytes_ = 0;  // of weight_bytes_, what a decode step skips (embedding rows, experts)
  Arena arena_;
  Tensor all_logits_;  // grown on demand: only scoring paths ask for every row's logits
  std::vector<int32_t> positions_;
};

}  // namespace mofa::models
