#include "io/mlx_quantize.h"

#include <algorithm>
#include <cfenv>
#include <cmath>

#include "core/error.h"

namespace mofa::io {
namespace {

void store(Tensor& t, int64_t i, float v) {
  switch (t.dtype()) {
    case DType::f32:
      t.data_mut<float>()[i] = v;
      break;
    case DType::bf16:
      t.data_mut<uint16_t>()[i] = f32_to_bf16(v);
      break;
    case DType::f16:
      t.data_mut<uint16_t>()[i] = f32_to_f16(v);
      break;
    default:
      throw InternalError("[mlx_quantize] scale dtype must be float");
  }
}

}  // namespace

QuantizedMatrix mlx_quantize(const float* w, int64_t rows, int64_t cols, QuantSpec spec,
                             DType scale_dtype) {
  const int bits = spec.bits, gs = spec.group_size;
  if (gs <= 0 || cols % gs != 0 || (cols * bits) % 32 != 0)
    throw InvalidInput("[mlx_quantize] " + std::to_string(cols) +
                       " columns cannot be quantized with group_size " + std::to_string(gs) +
                       " at " + std::to_string(bits) + " bits");
  const int64_t groups = cols / gs, words = cols * bits / 32;
  QuantizedMatrix q{Tensor::zeros(DType::u32, {rows, words}),
                    Tensor::zeros(scale_dtype, {rows, groups}),
                    Tensor::zeros(scale_dtype, {rows, groups})};
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float eps = 1e-7f;
  std::fesetround(FE_TONEAREST);  // nearbyint below = round half to even, as MLX rounds
  uint32_t* out = q.w.data_mut<uint32_t>();
  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* row_words = out + r * words;
    for (int64_t g = 0; g < groups; ++g) {
      const float* x = w + r * cols + g * gs;
      float w_max = x[0], w_min = x[0];
      for (int i = 1; i < gs; ++i) {
        w_max = std::max(w_max, x[i]);
        w_min = std::min(w_min, x[i]);
      }
      // The edge with the larger magnitude maps to code 0; 0.0 stays exactly representable.
      const bool min_edge = std::fabs(w_min) > std::fabs(w_max);
      float scale = std::max((w_max - w_min) / n_bins, eps);
      scale = min_edge ? scale : -scale;
      const float edge = min_edge ? w_min : w_max;
      const float q0 = std::nearbyint(edge / scale);
      float bias = 0.0f;
      if (q0 != 0.0f) {
        scale = edge / q0;
        bias = edge;
      }
      store(q.scales, r * groups + g, scale);
      store(q.biases, r * groups + g, bias);
      for (int i = 0; i < gs; ++i) {
        float c = std::nearbyint((x[i] - bias) / scale);
        c = std::clamp(c, 0.0f, n_bins);
        const uint64_t code = static_cast<uint64_t>(c);
        const uint64_t bit = static_cast<uint64_t>(g * gs + i) * bits;
        const uint64_t word = bit / 32, shift = bit % 32;
        row_words[word] |= static_cast<uint32_t>(code << shift);
        if (shift + bits > 32) row_words[word + 1] |= static_cast<uint32_t>(code >> (32 - shift));
      }
    }
  }
  return q;
}

}  // namespace mofa::io
