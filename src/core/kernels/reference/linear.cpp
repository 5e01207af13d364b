#include <vector>

#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels::reference {

void weight_row(const WeightView& w, int64_t r, float* out) {
  if (w.bits == 0) {
    for (int64_t c = 0; c < w.cols; ++c) out[c] = load_f32(w.data, w.dtype, r * w.cols + c);
    return;
  }
  const uint32_t* words = static_cast<const uint32_t*>(w.data) + r * w.row_words;
  const int64_t groups = w.cols / w.group_size;
  const uint32_t mask = (1u << w.bits) - 1u;
  for (int64_t c = 0; c < w.cols; ++c) {
    const uint64_t bit = static_cast<uint64_t>(c) * w.bits;
    const uint64_t word = bit / 32, shift = bit % 32;
    uint64_t v = words[word] >> shift;
    if (shift + w.bits > 32) v |= static_cast<uint64_t>(words[word + 1]) << (32 - shift);
    const uint32_t code = static_cast<uint32_t>(v) & mask;
    const int64_t g = r * groups + c / w.group_size;
    out[c] = load_f32(w.scales, w.sdtype, g) * static_cast<float>(code) +
             load_f32(w.biases, w.sdtype, g);
  }
}

// Both modes compute the exact product in f64: the oracle that fast kernels are measured against.
void linear(const float* x, int64_t m, const WeightView& w, const void* bias, DType bias_dtype,
            float* y, ops::MatmulMode) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row(w, r, row.data());
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * w.cols;
      double acc = 0;
      for (int64_t c = 0; c < w.cols; ++c) acc += static_cast<double>(xi[c]) * row[c];
      if (bias) acc += load_f32(bias, bias_dtype, r);
      y[i * w.rows + r] = static_cast<float>(acc);
    }
  }
}

void linear_shared(const float* x, int64_t m, const LinearOut* outs, int n, ops::MatmulMode mode) {
  for (int i = 0; i < n; ++i)
    linear(x, m, outs[i].w, outs[i].bias, outs[i].bias_dtype, outs[i].y, mode);
}

void embedding(const WeightView& w, const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) weight_row(w, ids[i], out + i * w.cols);
}

}  // namespace mofa::kernels::reference
