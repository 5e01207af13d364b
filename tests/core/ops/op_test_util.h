#pragma once
// Helpers for op tests: seeded random tensors in any float dtype and MLX-layout quantized weights.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/dispatch.h"
#include "core/kv_rows.h"
#include "core/tensor.h"
#include "core/weight.h"

namespace mofa::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A contiguous tensor of dtype t holding `values` rounded to t. q8_0 makes a KV cache: each row
// of the last dimension quantized as the cache stores it (that dimension then counts bytes).
inline Tensor tensor_of(DType t, const std::vector<float>& values, Shape shape) {
  if (t == DType::q8_0) {
    const int64_t n = shape.back(), rows = static_cast<int64_t>(values.size()) / n;
    shape.back() = kv_row_units(t, n);
    Tensor out = Tensor::zeros(t, std::move(shape));
    for (int64_t r = 0; r < rows; ++r)
      kv_store_row(values.data() + r * n, n, t,
                   static_cast<char*>(out.raw_mut()) + static_cast<size_t>(r) * kv_row_bytes(t, n));
    return out;
  }
  Tensor out = Tensor::zeros(t, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    if (t == DType::f32)
      out.data_mut<float>()[i] = values[i];
    else if (t == DType::bf16)
      out.data_mut<uint16_t>()[i] = f32_to_bf16(values[i]);
    else
      out.data_mut<uint16_t>()[i] = f32_to_f16(values[i]);
  }
  return out;
}

// A random MLX affine-quantized weight [rows, cols] whose dequantized values are centred on 0.
inline Weight random_quant_weight(int64_t rows, int64_t cols, int bits, int gs, DType sdtype,
                                  uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t words = cols * bits / 32;
  Tensor w = Tensor::zeros(DType::u32, {rows, words});
  for (int64_t i = 0; i < rows * words; ++i) w.data_mut<uint32_t>()[i] = rng();
  const int64_t groups = rows * (cols / gs);
  std::uniform_real_distribution<float> sd(0.01f, 0.1f), noise(-0.2f, 0.2f);
  std::vector<float> s(groups), b(groups);
  const float mid = static_cast<float>((1 << bits) - 1) / 2.0f;
  for (int64_t g = 0; g < groups; ++g) {
    s[g] = sd(rng);
    b[g] = -s[g] * mid + noise(rng) * s[g];
  }
  return weight_quantized(std::move(w), tensor_of(sdtype, s, {rows, cols / gs}),
                          tensor_of(sdtype, b, {rows, cols / gs}), QuantSpec{bits, gs},
                          "test.q" + std::to_string(bits));
}

// Selects a kernel table for the lifetime of the object.
class UseKernels {
 public:
  explicit UseKernels(const kernels::KernelTable& t) : prev_(&kernels::active_kernels()) {
    kernels::kernels_use(t);
  }
  ~UseKernels() { kernels::kernels_use(*prev_); }

 private:
  const kernels::KernelTable* prev_;
};

}  // namespace mofa::test
