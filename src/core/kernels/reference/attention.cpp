#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/reference/reference_kernels.h"
#include "core/kv_rows.h"

namespace mofa::kernels::reference {

// Materialises every score row in f64: simple enough to be obviously right.
void attention(const AttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads, hd = a.head_dim;
  std::vector<double> score(static_cast<size_t>(a.n_past + a.m));
  std::vector<char> seen(static_cast<size_t>(a.n_past + a.m));
  std::vector<double> acc(static_cast<size_t>(hd));
  std::vector<float> row(static_cast<size_t>(hd));
  // Row t of KV head g of a cache, widened to f32.
  auto cache_row = [&](const void* cache, DType type, int64_t g, int64_t t) {
    const size_t at = static_cast<size_t>(g * a.capacity + t) * kv_row_bytes(type, hd);
    kv_load_row(static_cast<const char*>(cache) + at, hd, type, row.data());
    return row.data();
  };
  for (int64_t i = 0; i < a.m; ++i) {
    const int64_t pos = a.n_past + i;
    const int64_t lo = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const int64_t g = h / group;
      // Visible positions: [lo, pos], or the positions <= pos of the row's blocks.
      std::fill(seen.begin(), seen.end(), 0);
      if (a.blocks == nullptr) {
        std::fill(seen.begin() + lo, seen.begin() + pos + 1, 1);
      } else {
        const int32_t* b = a.blocks + (i * a.n_kv_heads + g) * a.n_sel;
        for (int64_t s = 0; s < a.n_sel && b[s] >= 0; ++s) {
          const int64_t t0 = b[s] * a.block_size;
          const int64_t t1 = std::min(t0 + a.block_size, pos + 1);
          for (int64_t t = t0; t < t1; ++t) seen[t] = 1;
        }
      }
      const float* q = a.q + (i * a.n_heads + h) * hd;
      double mx = -INFINITY;
      for (int64_t t = 0; t <= pos; ++t) {
        if (!seen[t]) continue;
        const float* k = cache_row(a.k, a.k_type, g, t);
        double s = 0;
        for (int64_t c = 0; c < hd; ++c) s += static_cast<double>(q[c]) * k[c];
        score[t] = s * a.scale;
        mx = std::max(mx, score[t]);
      }
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = 0; t <= pos; ++t) {
        if (!seen[t]) continue;
        const double p = std::exp(score[t] - mx);
        sum += p;
        const float* v = cache_row(a.v, a.v_type, g, t);
        for (int64_t c = 0; c < hd; ++c) acc[c] += p * v[c];
      }
      float* o = a.out + (i * a.n_heads + h) * hd;
      for (int64_t c = 0; c < hd; ++c) o[c] = static_cast<float>(acc[c] / sum);
    }
  }
}

void attention_scores(const AttentionArgs& a) {
  const int64_t group = a.n_heads / a.n_kv_heads, hd = a.head_dim;
  for (int64_t i = 0; i < a.m; ++i) {
    for (int64_t h = 0; h < a.n_heads; ++h) {
      const float* q = a.q + (i * a.n_heads + h) * hd;
      const float* k = static_cast<const float*>(a.k) + (h / group) * a.capacity * hd;
      float* o = a.out + (i * a.n_heads + h) * a.n_keys;
      for (int64_t t = 0; t < a.n_keys; ++t) {
        double s = 0;
        for (int64_t c = 0; c < hd; ++c) s += static_cast<double>(q[c]) * k[t * hd + c];
        o[t] = static_cast<float>(s * a.scale);
      }
    }
  }
}

}  // namespace mofa::kernels::reference
