#include <cmath>

#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels::reference {

void rms_norm(const float* x, int64_t m, int64_t d, const void* weight, DType wdtype, float eps,
              float* y) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * d;
    double ss = 0;
    for (int64_t c = 0; c < d; ++c) ss += static_cast<double>(xi[c]) * xi[c];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
    for (int64_t c = 0; c < d; ++c)
      y[i * d + c] = static_cast<float>(xi[c] * inv * load_f32(weight, wdtype, c));
  }
}

}  // namespace mofa::kernels::reference
