// Elementwise kernels (softmax, silu_mul, add): memory-bound, split over the pool only when large.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels/cpu/elementwise.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

#include "core/kernels/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace mofa::kernels::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void SoftmaxRows(float* x, int64_t rows, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * n;
    int64_t i = 0;
    auto vmax = hn::Set(d, -HUGE_VALF);
    for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, v + i));
    float mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
    for (; i < n; ++i) mx = v[i] > mx ? v[i] : mx;
    const auto vmx = hn::Set(d, mx);
    auto vsum = hn::Zero(d);
    for (i = 0; i + N <= n; i += N) {
      const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, v + i), vmx));
      hn::StoreU(e, d, v + i);
      vsum = hn::Add(vsum, e);
    }
    float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
    for (; i < n; ++i) {
      v[i] = std::exp(v[i] - mx);
      sum += v[i];
    }
    const float inv = 1.0f / sum;
    const auto vinv = hn::Set(d, inv);
    for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, v + i), vinv), d, v + i);
    for (; i < n; ++i) v[i] *= inv;
  }
}

void SiluMulRange(const float* g, const float* u, float* out, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const auto one = hn::Set(d, 1.0f);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto vg = hn::LoadU(d, g + i);
    const auto sig = hn::Div(one, hn::Add(one, hn::Exp(d, hn::Neg(vg))));
    hn::StoreU(hn::Mul(hn::Mul(vg, sig), hn::LoadU(d, u + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void AddRange(const float* a, const float* b, float* out, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

}  // namespace HWY_NAMESPACE
}  // namespace mofa::kernels::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mofa::kernels::cpu {

HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(SiluMulRange);
HWY_EXPORT(AddRange);

namespace {
// Below this many elements a pool round trip costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;
}  // namespace

void softmax(float* x, int64_t rows, int64_t n) {
  if (rows * n < kParallelMin || rows == 1) return HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x, rows, n);
  thread_pool_global().parallel_for(rows, [&](int64_t b, int64_t e, int) {
    HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x + b * n, e - b, n);
  });
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  if (n < kParallelMin) return HWY_DYNAMIC_DISPATCH(SiluMulRange)(gate, up, out, n);
  thread_pool_global().parallel_for(
      n,
      [&](int64_t b, int64_t e, int) {
        HWY_DYNAMIC_DISPATCH(SiluMulRange)(gate + b, up + b, out + b, e - b);
      },
      64);
}

void add(const float* a, const float* b, float* out, int64_t n) {
  if (n < kParallelMin) return HWY_DYNAMIC_DISPATCH(AddRange)(a, b, out, n);
  thread_pool_global().parallel_for(
      n,
      [&](int64_t lo, int64_t hi, int) {
        HWY_DYNAMIC_DISPATCH(AddRange)(a + lo, b + lo, out + lo, hi - lo);
      },
      64);
}

}  // namespace mofa::kernels::cpu
#endif
