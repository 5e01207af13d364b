#pragma once
// Lightning attention (MiniCPM-SALA's linear-attention layers): simple gated linear attention
// with a fixed per-head decay, in its exact recurrent form. Per head h with state S [d_k, d_v]:
//   S_t = exp(g_h) * S_{t-1} + k_t^T v_t,   o_t = (scale * q_t) S_t
// where g_h = -slope_h (ALiBi slopes), as fla's chunk_simple_gla / fused_recurrent_simple_gla
// compute it for the reference. The state is the layer's whole memory of the past, so the cost
// per token is constant in the context length.
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace mofa::models {

// ALiBi slopes of n heads (the power-of-two construction, interleaved for other n), as
// modeling_minicpm_sala.py's _build_slope_tensor.
std::vector<double> alibi_slopes(int64_t n_heads);

// q: [n, n_heads, d]; k, v: [n, n_kv_heads, d] (heads shared in groups of n_heads / n_kv_heads);
// state: [n_heads, d, d] f32, updated in place; out: [n, n_heads, d]. decay[h] = g_h (<= 0).
void lightning_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const std::vector<float>& decay, float scale, Tensor& state, Tensor& out);

}  // namespace mofa::models
