#pragma once
// The public op API used by models and pipelines. Each op validates shapes and dtypes (errors name
// the op and the values), then calls its backend kernel once through core/kernels/dispatch.h.
// Activations are contiguous f32; weights keep their stored dtype (f32/f16/bf16 or MLX affine).
// An undefined output tensor is allocated by the op; a defined one must be contiguous f32 with
// the right element count (its shape is not changed).
#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "core/weight.h"

namespace mofa::ops {

// exact: weights widened in registers, f32 activations and accumulation (what MLX and
// transformers compute). fast: whatever the backend does fastest within the accuracy budget
// (e.g. activations quantized to int8 per block, integer dot products).
enum class MatmulMode { exact, fast };

// y[m, w.rows] = x[m, w.cols] · wᵀ (+ bias[w.rows], any float dtype, when defined). m == 1 is
// decode (matvec); m > 1 is prefill (blocked matmul). y must not alias x.
void linear(const Tensor& x, const Weight& w, Tensor& y, MatmulMode mode,
            const Tensor& bias = Tensor());

// One product of linear_shared; bias is optional.
struct LinearTarget {
  const Weight* w = nullptr;
  Tensor* y = nullptr;
  const Tensor* bias = nullptr;
};

// linear() of one x by up to 32 weights of equal cols (q/k/v, gate/up, a token's experts), with
// the same results:
// x is prepared once and, where the backend can, all products share one parallel region (at
// decode each is too small to keep both cores busy between two barriers).
void linear_shared(const Tensor& x, std::span<const LinearTarget> targets, MatmulMode mode);

// out[n, table.cols] = rows `ids[0..n)` of table, widened/dequantized to f32.
void embedding(const Weight& table, const int32_t* ids, int64_t n, Tensor& out);

// y[m, d] = x / sqrt(mean(x²) + eps) * weight (weight: [d], any float dtype). y may alias x.
void rms_norm(const Tensor& x, const Tensor& weight, float eps, Tensor& y);

// Rotary position embedding tables for one model: inv_freq (rotary_dim / 2 entries, scaling
// already applied) and a multiplier on cos/sin (YaRN's attention factor; 1 otherwise).
struct Rope {
  int head_dim = 0;
  int rotary_dim = 0;           // dims rotated, from the start of each head (partial rotary)
  bool interleaved = false;     // pairs (2i, 2i+1) (GPT-J/GLM) instead of (i, i + rotary_dim/2)
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  float mscale = 1.0f;
};

// Standard RoPE (rope_theta, no scaling).
Rope rope_default(int head_dim, int rotary_dim, double theta);

// x[m, n_heads, head_dim] (or [m, n_heads * head_dim]) rotated in place; row i is at position
// positions[i].
void rope_apply(Tensor& x, const int32_t* positions, const Rope& rope);

// In place, numerically stable softmax over the last dim of a contiguous [.., n] tensor.
void softmax(Tensor& x);

// out = silu(gate) * up, elementwise on [m, n]. out may alias gate.
void silu_mul(const Tensor& gate, const Tensor& up, Tensor& out);

// out = a + b, elementwise. out may alias a.
void add(const Tensor& a, const Tensor& b, Tensor& out);

// Causal attention with grouped KV heads for m new query rows.
// q: [m, n_heads, head_dim]; k, v: [n_kv_heads, capacity, head_dim] caches (f32 or f16; q8_0
// with a last dimension of kv_row_units, core/kv_rows.h) holding
// n_past + m valid positions (the new rows already appended); query row i sits at position
// n_past + i and sees positions [max(0, pos - window + 1), pos] (window 0 = unlimited).
// out: [m, n_heads, head_dim]; it may alias q.
void attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past, float scale,
               int64_t window, Tensor& out);

// attention() restricted to chosen key blocks (InfLLM-v2's sparse stage): query row i with KV
// head g sees the positions <= its own in the blocks blocks[(i * n_kv_heads + g) * n_sel + s],
// block b being positions [b * block_size, (b + 1) * block_size). Each row lists its blocks
// ascending, then -1 padding, and has at least one; no block may start after the row's position.
void attention_blocks(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_past,
                      float scale, const int32_t* blocks, int64_t n_sel, int64_t block_size,
                      Tensor& out);

// Scaled dot products of each query head with the first n_keys keys of its KV head (InfLLM-v2's
// block scoring against compressed keys): out[i, h, t] = scale * q[i, h] . k[h / group, t].
// q: [m, n_heads, head_dim]; k: [n_kv_heads, capacity, head_dim]; out: [m, n_heads, n_keys].
void attention_scores(const Tensor& q, const Tensor& k, int64_t n_keys, float scale, Tensor& out);

}  // namespace mofa::ops
