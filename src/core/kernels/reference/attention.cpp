#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/reference/reference_kernels.h"

namespace mofa::kernels::reference {

// Materialises every score row in f64: simple enough to be obviously right.
void attention(const AttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads, hd = a.head_dim;
  std::vector<double> score(static_cast<size_t>(a.n_past + a.m));
  std::vector<double> acc(static_cast<size_t>(hd));
  for (int64_t i = 0; i < a.m; ++i) {
    const int64_t pos = a.n_past + i;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* q = a.q + (i * a.n_heads + h) * hd;
      const float* k = a.k + (h / group) * a.capacity * hd;
      const float* v = a.v + (h / group) * a.capacity * hd;
      double mx = -INFINITY;
      for (int64_t t = lo; t <= pos; ++t) {
        double s = 0;
        for (int64_t c = 0; c < hd; ++c) s += static_cast<double>(q[c]) * k[t * hd + c];
        score[t] = s * a.scale;
        mx = std::max(mx, score[t]);
      }
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = lo; t <= pos; ++t) {
        const double p = std::exp(score[t] - mx);
        sum += p;
        for (int64_t c = 0; c < hd; ++c) acc[c] += p * v[t * hd + c];
      }
      float* o = a.out + (i * a.n_heads + h) * hd;
      for (int64_t c = 0; c < hd; ++c) o[c] = static_cast<float>(acc[c] / sum);
    }
  }
}

}  // namespace mofa::kernels::reference
