#pragma once
// Sparse mixture-of-experts SwiGLU block (Mixtral, Qwen3-MoE): a linear router scores every
// expert, each token runs only its top-k experts and sums their outputs weighted by the router's
// softmax probabilities. Experts load from the HF per-expert names or from mlx-lm's stacked
// switch_mlp tensors [n_experts, out, in], sliced per expert without a copy.
#include <cstdint>
#include <string>
#include <vector>

#include "core/arena.h"
#include "core/ops/ops.h"
#include "core/weight.h"
#include "io/model_config.h"
#include "io/weight_store.h"

namespace mofa::models {

struct MoeSpec {
  std::string block;    // module under the layer: "block_sparse_moe" or "mlp"
  std::string hf_gate;  // per-expert projection names: Mixtral w1/w3/w2, Qwen3 *_proj
  std::string hf_up;
  std::string hf_down;
  int64_t n_experts = 0;
  int64_t top_k = 0;
  int64_t intermediate = 0;    // per-expert hidden size
  bool norm_topk_prob = true;  // renormalise the chosen probabilities to sum 1
};

class MoeMlp {
 public:
  MoeMlp() = default;
  // Loads the router and experts of layer prefix `p` ("model.layers.3."); throws InvalidInput
  // naming the tensor for a missing or mis-shaped one.
  MoeMlp(const io::WeightStore& store, const io::ModelConfig& cfg, const std::string& p,
         const MoeSpec& spec, int64_t hidden);

  // out[n, hidden] = Σ_k w_k · expert_k(h) per row; temporaries come from `arena`.
  void forward(const Tensor& h, Tensor& out, Arena& arena, ops::MatmulMode mode);

  // f32 elements of arena scratch that forward() needs for n rows.
  static int64_t scratch_floats(const MoeSpec& spec, int64_t hidden, int64_t n);
  size_t weight_bytes() const;
  // Bytes one token reads: the router and top_k of the n_experts experts.
  size_t decode_bytes() const;

 private:
  // decode_one's chosen experts' gate and up form one linear_shared of at most 32 products.
  static constexpr int64_t kMaxDecodeTopK = 16;
  // forward() for one token, the picks made: out row o (zeroed) += Σ weight · expert(h).
  void decode_one(const Tensor& h, float* o, Arena& arena, ops::MatmulMode mode);
  MoeSpec spec_;
  int64_t hidden_ = 0;
  Weight router_;
  std::vector<Weight> gate_, up_, down_;  // one per expert
  // Per-forward routing scratch, sized once for the largest batch seen.
  std::vector<int32_t> expert_rows_, expert_count_, expert_start_;
  std::vector<float> row_weight_;
  std::vector<int32_t> pick_;
  std::vector<float> pick_w_;
};

}  // namespace mofa::models
