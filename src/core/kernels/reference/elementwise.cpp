#include <cmath>

#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels::reference {

void softmax(float* x, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * n;
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = v[i] > mx ? v[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(v[i]) - mx);
    for (int64_t i = 0; i < n; ++i)
      v[i] = static_cast<float>(std::exp(static_cast<double>(v[i]) - mx) / sum);
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace mofa::kernels::reference
