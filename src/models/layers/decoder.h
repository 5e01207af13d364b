#pragma once
// The pre-norm decoder-only transformer shared by the Llama-like families (Qwen2/3, Llama,
// Mistral): embeddings, N x [RMSNorm, GQA attention with RoPE, RMSNorm, SwiGLU MLP], RMSNorm,
// head. A family file fills DecoderSpec from its config.json; weights use the HF names.
#include <memory>
#include <vector>

#include "core/arena.h"
#include "core/weight.h"
#include "models/layers/moe.h"
#include "models/model.h"

namespace mofa::models {

struct DecoderSpec {
  bool qkv_bias = false;  // Qwen2: q/k/v projections carry biases
  bool qk_norm = false;   // Qwen3: per-head RMSNorm of q and k before RoPE
  bool rope_interleaved = false;
  std::vector<int64_t> layer_window;  // per layer sliding window (0 = full attention)
  std::vector<bool> layer_moe;        // per layer: sparse experts (moe) instead of the dense MLP
  MoeSpec moe;                        // used by the layers layer_moe marks
};

class DecoderLM : public CausalLM {
 public:
  DecoderLM(const io::ModelConfig& cfg, const io::WeightStore& store, const DecoderSpec& spec,
            const ModelOptions& options);

  const io::ModelConfig& config() const override { return cfg_; }
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_batch() const override { return max_batch_; }
  size_t weight_bytes() const override { return weight_bytes_; }
  std::unique_ptr<KvCache> new_cache(int64_t max_capacity) const override;
  Tensor forward(const int32_t* ids, int64_t n, int64_t n_past, KvCache& cache,
                 bool all_logits) override;

 private:
  struct Layer {
    Tensor input_norm, post_norm, q_norm, k_norm;  // [hidden], [hidden], [head_dim] x2
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
  int64_t max_batch_;
  int64_t hidden_, n_heads_, n_kv_heads_, head_dim_, intermediate_;
  float eps_;
  ops::Rope rope_;
  Weight embed_;
  Weight head_;  // lm_head, or the embedding when tied
  Tensor final_norm_;
  std::vector<Layer> layers_;
  size_t weight_bytes_ = 0;
  Arena arena_;
  Tensor all_logits_;  // grown on demand: only scoring paths ask for every row's logits
  std::vector<int32_t> positions_;
};

}  // namespace mofa::models
