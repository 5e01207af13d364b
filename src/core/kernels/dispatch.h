#pragma once
// The one dispatch point between ops/ and the backends: per op, the signature every backend
// implements. Kernels take raw pointers and sizes that ops/ has already validated; they neither
// validate nor allocate on the hot path.
#include <cstdint>

#include "core/dtype.h"
#include "core/ops/ops.h"

namespace mofa::kernels {

// A weight matrix as raw pointers: dense float [rows, cols] or MLX affine-quantized (rows of
// `row_words` u32 words, scales/biases [rows, cols / group_size] in `sdtype`).
struct WeightView {
  DType dtype = DType::f32;  // dense: f32/f16/bf16; quantized: u32
  const void* data = nullptr;
  const void* scales = nullptr;
  const void* biases = nullptr;
  DType sdtype = DType::f32;
  int bits = 0;  // 0 = dense
  int group_size = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t row_words = 0;  // quantized: u32 words per row (cols * bits / 32)
};

// The arguments of causal GQA attention; see ops::attention.
struct AttentionArgs {
  const float* q = nullptr;   // [m, n_heads, head_dim]
  const void* k = nullptr;    // [n_kv_heads, capacity] rows of head_dim values of k_type
  const void* v = nullptr;    // the same of v_type
  DType k_type = DType::f32;  // f32, f16 or q8_0 (smaller KV caches; core/kv_rows.h)
  DType v_type = DType::f32;
  float* out = nullptr;  // [m, n_heads, head_dim]
  int64_t m = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;
  int64_t n_past = 0;
  int64_t window = 0;  // 0 = unlimited
  float scale = 1.0f;
  // Block-sparse attention (ops::attention_blocks) when non-null: query row i with KV head g sees
  // only positions <= its own in the blocks blocks[(i * n_kv_heads + g) * n_sel + s] (block b =
  // positions [b * block_size, (b + 1) * block_size)), ascending, then -1 padding; window is 0.
  const int32_t* blocks = nullptr;
  int64_t n_sel = 0;
  int64_t block_size = 0;
  // attention_scores only: the keys scored (out is [m, n_heads, n_keys]).
  int64_t n_keys = 0;
};

// One product of linear_shared: y[m, w.rows] = x · wᵀ (+ bias[w.rows] in bias_dtype if non-null).
struct LinearOut {
  WeightView w;
  const void* bias = nullptr;
  DType bias_dtype = DType::f32;
  float* y = nullptr;
};

struct KernelTable {
  const char* name;
  // y[m, w.rows] = x[m, w.cols] · wᵀ (+ bias[w.rows] in `bias_dtype` if non-null).
  void (*linear)(const float* x, int64_t m, const WeightView& w, const void* bias, DType bias_dtype,
                 float* y, ops::MatmulMode mode);
  // out[n, w.cols] = rows ids[0..n) of w as f32 (ids already range-checked).
  void (*embedding)(const WeightView& w, const int32_t* ids, int64_t n, float* out);
  // y[m, d] = x / sqrt(mean(x²) + eps) * weight; weight is [d] in `wdtype`; y may alias x.
  void (*rms_norm)(const float* x, int64_t m, int64_t d, const void* weight, DType wdtype,
                   float eps, float* y);
  // x[m, n_heads, rope.head_dim] rotated in place at positions pos[0..m).
  void (*rope_apply)(float* x, int64_t m, int64_t n_heads, const int32_t* pos,
                     const ops::Rope& rope);
  // Softmax over each of `rows` contiguous rows of length n, in place.
  void (*softmax)(float* x, int64_t rows, int64_t n);
  // out[i] = silu(gate[i]) * up[i]; out may alias gate.
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  // out[i] = a[i] + b[i]; out may alias a.
  void (*add)(const float* a, const float* b, float* out, int64_t n);
  void (*attention)(const AttentionArgs& args);
  // outs[0..n) of the same x (q/k/v, gate/up; equal w.cols): x is prepared once and, where the
  // backend can, all products share one parallel region.
  void (*linear_shared)(const float* x, int64_t m, const LinearOut* outs, int n,
                        ops::MatmulMode mode);
  // out[i, h, t] = scale * q[i, h] . k[h / (n_heads / n_kv_heads), t] for t < n_keys (q, k, out,
  // m, n_heads, n_kv_heads, head_dim, capacity, n_keys, scale of the args).
  void (*attention_scores)(const AttentionArgs& args);
};

// Plain scalar kernels: the specification and the test oracle (single-threaded, f64 sums).
const KernelTable& reference_kernels();
// Highway kernels with run-time ISA selection, parallel on the global thread pool.
const KernelTable& cpu_kernels();
// The table ops/ call: cpu_kernels() unless kernels_use() chose another.
const KernelTable& active_kernels();
// Selects the table ops/ call (tests and benchmarks compare backends through ops/).
void kernels_use(const KernelTable& table);

// The raw view of a validated Weight.
WeightView weight_view(const Weight& w);

// Reads element i of a float array of dtype t (f32/f16/bf16) widened to f32.
inline float load_f32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f16:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::bf16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

}  // namespace mofa::kernels
