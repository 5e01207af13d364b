#include <cmath>

#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels::reference {

// The angle is the f32 product position · inv_freq, as transformers computes it in float32.
void rope_apply(float* x, int64_t m, int64_t n_heads, const int32_t* pos, const ops::Rope& rope) {
  const int half = rope.rotary_dim / 2;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (i * n_heads + h) * rope.head_dim;
      for (int j = 0; j < half; ++j) {
        const float angle = static_cast<float>(pos[i]) * rope.inv_freq[j];
        const double c = std::cos(static_cast<double>(angle)) * rope.mscale;
        const double s = std::sin(static_cast<double>(angle)) * rope.mscale;
        float* a = rope.interleaved ? v + 2 * j : v + j;
        float* b = rope.interleaved ? v + 2 * j + 1 : v + j + half;
        const double x0 = *a, x1 = *b;
        *a = static_cast<float>(x0 * c - x1 * s);
        *b = static_cast<float>(x1 * c + x0 * s);
      }
    }
  }
}

}  // namespace mofa::kernels::reference
