// RMS norm: one pass for the sum of squares, one to scale; rows split over the pool when many.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/norm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include <cmath>
#include <type_traits>

#include "core/kernels/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <typename WT>
void RmsRows(const float* x, int64_t m, int64_t d, const WT* w, DType wdtype, float eps, float* y) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<WT, decltype(df)> dw;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    auto s0 = hn::Zero(df), s1 = hn::Zero(df);
    int64_t i = 0;
    for (; i + 2 * N <= d; i += 2 * N) {
      const auto a = hn::LoadU(df, xr + i), b = hn::LoadU(df, xr + i + N);
      s0 = hn::MulAdd(a, a, s0);
      s1 = hn::MulAdd(b, b, s1);
    }
    for (; i + N <= d; i += N) {
      const auto a = hn::LoadU(df, xr + i);
      s0 = hn::MulAdd(a, a, s0);
    }
    float ss = hn::GetLane(hn::SumOfLanes(df, hn::Add(s0, s1)));
    for (; i < d; ++i) ss += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    const auto vinv = hn::Set(df, inv);
    for (i = 0; i + N <= d; i += N) {
      auto wv = [&] {
        if constexpr (std::is_same_v<WT, float>)
          return hn::LoadU(df, w + i);
        else
          return hn::PromoteTo(df, hn::LoadU(dw, w + i));
      }();
      hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, xr + i), vinv), wv), df, yr + i);
    }
    for (; i < d; ++i) yr[i] = xr[i] * inv * load_f32(w, wdtype, i);
  }
}

void RmsNormRows(const float* x, int64_t m, int64_t d, const void* w, DType wdtype, float eps,
                 float* y) {
  switch (wdtype) {
    case DType::bf16:
      return RmsRows(x, m, d, static_cast<const hwy::bfloat16_t*>(w), wdtype, eps, y);
    case DType::f16:
      return RmsRows(x, m, d, static_cast<const hwy::float16_t*>(w), wdtype, eps, y);
    default:
      return RmsRows(x, m, d, static_cast<const float*>(w), wdtype, eps, y);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(RmsNormRows);

void rms_norm(const float* x, int64_t m, int64_t d, const void* weight, DType wdtype, float eps,
              float* y) {
  if (m < 8) return HWY_DYNAMIC_DISPATCH(RmsNormRows)(x, m, d, weight, wdtype, eps, y);
  thread_pool_global().parallel_for(m, [&](int64_t b, int64_t e, int) {
    HWY_DYNAMIC_DISPATCH(RmsNormRows)(x + b * d, e - b, d, weight, wdtype, eps, y + b * d);
  });
}

}  // namespace mofa::kernels::cpu
#endif
