#include "models/layers/lightning_attention.h"

#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace mofa::models {
namespace {

std::vector<double> slopes_power_of_2(int64_t n) {
  const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3.0)));
  std::vector<double> out(static_cast<size_t>(n));
  double v = start;
  for (auto& s : out) {
    s = v;
    v *= start;
  }
  return out;
}

}  // namespace

std::vector<double> alibi_slopes(int64_t n_heads) {
  const double lg = std::log2(static_cast<double>(n_heads));
  if (lg == std::floor(lg)) return slopes_power_of_2(n_heads);
  const int64_t closest = int64_t{1} << static_cast<int64_t>(std::floor(lg));
  std::vector<double> out = slopes_power_of_2(closest);
  const std::vector<double> extra = alibi_slopes(2 * closest);
  for (size_t i = 0; i < extra.size() && static_cast<int64_t>(out.size()) < n_heads; i += 2)
    out.push_back(extra[i]);
  return out;
}

void lightning_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                         const std::vector<float>& decay, float scale, Tensor& state, Tensor& out) {
  const int64_t n = q.dim(0), heads = q.dim(1), d = q.dim(2);
  const int64_t kv_heads = k.dim(1);
  check_internal(heads % kv_heads == 0 && static_cast<int64_t>(decay.size()) == heads &&
                     state.dim(0) == heads && state.dim(1) == d && state.dim(2) == d,
                 "lightning_attention", "shapes");
  const int64_t group = heads / kv_heads;
  const float* qd = q.data<float>();
  const float* kd = k.data<float>();
  const float* vd = v.data<float>();
  float* sd = state.data_mut<float>();
  float* od = out.data_mut<float>();
  // Heads are independent: one state each.
  thread_pool_global().parallel_for(heads, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h) {
      const float a = std::exp(decay[static_cast<size_t>(h)]);
      float* s = sd + h * d * d;
      const int64_t kh = h / group;
      for (int64_t t = 0; t < n; ++t) {
        const float* kt = kd + (t * kv_heads + kh) * d;
        const float* vt = vd + (t * kv_heads + kh) * d;
        const float* qt = qd + (t * heads + h) * d;
        float* ot = od + (t * heads + h) * d;
        for (int64_t j = 0; j < d; ++j) ot[j] = 0.0f;
        for (int64_t i = 0; i < d; ++i) {
          float* row = s + i * d;
          const float ki = kt[i], qi = qt[i] * scale;
          for (int64_t j = 0; j < d; ++j) {
            row[j] = a * row[j] + ki * vt[j];
            ot[j] += qi * row[j];
          }
        }
      }
    }
  });
}

}  // namespace mofa::models
