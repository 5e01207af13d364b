// RoPE: cos/sin computed once per position row (shared by its heads), then a vector rotation.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/rope.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include <cmath>
#include <vector>

#include "core/kernels/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows [b, e) of x; cs is per-thread scratch of rotary_dim floats (cos then sin).
void RopeRows(float* x, int64_t b, int64_t e, int64_t n_heads, const int32_t* pos,
              const ops::Rope& rope, float* cs) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const int half = rope.rotary_dim / 2;
  float* cosv = cs;
  float* sinv = cs + half;
  for (int64_t i = b; i < e; ++i) {
    for (int j = 0; j < half; ++j) {
      // f32 angle as transformers computes it; cos/sin in f64 so long positions stay accurate.
      const double angle = static_cast<float>(pos[i]) * rope.inv_freq[j];
      cosv[j] = static_cast<float>(std::cos(angle) * rope.mscale);
      sinv[j] = static_cast<float>(std::sin(angle) * rope.mscale);
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + (i * n_heads + h) * rope.head_dim;
      if (rope.interleaved) {
        for (int j = 0; j < half; ++j) {
          const float x0 = v[2 * j], x1 = v[2 * j + 1];
          v[2 * j] = x0 * cosv[j] - x1 * sinv[j];
          v[2 * j + 1] = x1 * cosv[j] + x0 * sinv[j];
        }
        continue;
      }
      float* a = v;
      float* bb = v + half;
      int64_t j = 0;
      for (; j + N <= half; j += N) {
        const auto c = hn::LoadU(d, cosv + j), s = hn::LoadU(d, sinv + j);
        const auto x0 = hn::LoadU(d, a + j), x1 = hn::LoadU(d, bb + j);
        hn::StoreU(hn::NegMulAdd(x1, s, hn::Mul(x0, c)), d, a + j);
        hn::StoreU(hn::MulAdd(x0, s, hn::Mul(x1, c)), d, bb + j);
      }
      for (; j < half; ++j) {
        const float x0 = a[j], x1 = bb[j];
        a[j] = x0 * cosv[j] - x1 * sinv[j];
        bb[j] = x1 * cosv[j] + x0 * sinv[j];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(RopeRows);

void rope_apply(float* x, int64_t m, int64_t n_heads, const int32_t* pos, const ops::Rope& rope) {
  auto run = [&](int64_t b, int64_t e, int) {
    thread_local std::vector<float> cs;
    if (cs.size() < static_cast<size_t>(rope.rotary_dim)) cs.resize(rope.rotary_dim);
    HWY_DYNAMIC_DISPATCH(RopeRows)(x, b, e, n_heads, pos, rope, cs.data());
  };
  if (m < 4) return run(0, m, 0);
  thread_pool_global().parallel_for(m, run);
}

}  // namespace mofa::kernels::cpu
#endif
